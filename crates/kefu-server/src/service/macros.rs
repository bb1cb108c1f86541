//! Canned replies and macros: keeping them (each their own; the shared
//! ones by the roles the access policy names) and applying one to a
//! ticket — its priority, then its reply or note — as one change: both
//! are written together or neither is.

use super::*;
use crate::error::ApiError;
use kefu_domain::action::{ActionKind, ActionRequest};
use kefu_domain::flow::Actor;
use kefu_domain::macros::{Macro, MacroInput, MacroSpec};
use kefu_domain::{MacroId, Priority};
use kefu_store::*;
use serde_json::{Map, Value, json};

const NOT_FOUND: ApiError = ApiError::NotFound { what: "macro", what_zh: "快捷回复" };

impl<S: Store> Kefu<S> {
    /// The macros the caller may apply: the shared ones and their own.
    pub async fn macros(&self, actor: &Actor) -> Result<Vec<Macro>, ApiError> {
        Ok(self.store.macros_for(actor.id).await?)
    }

    pub async fn create_macro(&self, actor: &Actor, input: MacroInput) -> Result<Macro, ApiError> {
        let spec = input.parse()?;
        self.may_keep(actor, &spec)?;
        Ok(self.store.create_macro(actor.id, spec, self.now()).await?)
    }

    pub async fn update_macro(&self, actor: &Actor, id: MacroId, input: MacroInput) -> Result<Macro, ApiError> {
        let stored = self.kept_macro(actor, id).await?;
        let spec = input.over(Some(&stored.spec())).parse()?;
        self.may_keep(actor, &spec)?;
        Ok(self.store.update_macro(id, spec, self.now()).await?)
    }

    pub async fn delete_macro(&self, actor: &Actor, id: MacroId) -> Result<(), ApiError> {
        self.kept_macro(actor, id).await?;
        Ok(self.store.delete_macro(id).await?)
    }

    /// A macro the caller may apply; others' personal ones do not exist for them.
    pub async fn usable_macro(&self, actor: &Actor, id: MacroId) -> Result<Macro, ApiError> {
        match self.store.macro_by_id(id).await? {
            Some(m) if m.shared || m.owner == actor.id => Ok(m),
            _ => Err(NOT_FOUND),
        }
    }

    /// A macro the caller may change: their own, or a shared one if they keep those.
    async fn kept_macro(&self, actor: &Actor, id: MacroId) -> Result<Macro, ApiError> {
        let m = self.usable_macro(actor, id).await?;
        if m.owner != actor.id {
            self.may_keep(actor, &m.spec())?;
        }
        Ok(m)
    }

    fn may_keep(&self, actor: &Actor, spec: &MacroSpec) -> Result<(), ApiError> {
        if spec.shared && !self.core.policy.access.shared_macros.contains(&actor.role) {
            return Err(ApiError::Forbidden {
                reason: "only the roles the policy names keep shared macros; keep this one as your own".into(),
                reason_zh: "共享快捷回复只能由策略指定的角色维护，请保存为个人快捷回复".into(),
            });
        }
        Ok(())
    }

    /// Applies a macro to a ticket as one change: the priority (through the
    /// flow rule of 调整优先级, deadlines recomputed) and the reply or note
    /// with its placeholders filled. Refused as a whole if either part is.
    pub async fn apply_macro(
        &self,
        actor: &Actor,
        key: &str,
        id: MacroId,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let m = self.usable_macro(actor, id).await?;
        let replies = m.body.is_some() && !m.internal;
        let t = self.ticket_for(actor, key, replies || m.priority.is_some()).await?;
        let agent = self.org().await?.user(actor.id).map_or(actor.username.clone(), |u| u.display_name.clone());
        let body = m.body_for(&t.number, &t.customer.name, &agent);
        let note = match body {
            Some(text) => Some(self.comment_decider(actor, t.id, text, m.internal).await?),
            None => None,
        };
        let priority = match m.priority.filter(|p| *p != t.priority) {
            Some(p) => Some(self.priority_decider(actor, &t, p, &m.name).await?),
            None => None,
        };
        let name = m.name.clone();
        let decide_fn: Decide = Box::new(move |before: &kefu_domain::ticket::Ticket| {
            let note = note.map(|d| d(before)).transpose()?;
            let mut out = match (priority, note) {
                (Some(p), note) => with_note(p(before)?, note),
                (None, Some(note)) => note,
                (None, None) => return Err(nothing_to_do()),
            };
            out.data["macro"] = json!(name);
            Ok(out)
        });
        self.mutate(actor, t.id, idempotency, decide_fn, 200).await
    }

    async fn priority_decider(
        &self,
        actor: &Actor,
        t: &kefu_domain::ticket::Ticket,
        p: Priority,
        name: &str,
    ) -> Result<Decide, ApiError> {
        let mut body = Map::new();
        body.insert("action".into(), json!(ActionKind::SetPriority.as_str()));
        body.insert("priority".into(), json!(p.as_str()));
        body.insert("reason".into(), json!(format!("快捷回复：{name}")));
        let request = ActionRequest::parse(&body)?;
        let resolved = self.resolve(&request, t, &[]).await?;
        Ok(self.action_decider(actor, request, resolved))
    }
}

/// The priority change with the note's comment, messages and notices.
fn with_note(mut out: Mutation, note: Option<Mutation>) -> Mutation {
    if let Some(n) = note {
        out.comment = n.comment;
        out.outbox.extend(n.outbox);
        out.notices.extend(n.notices);
        merge(&mut out.data, n.data);
    }
    out
}

/// A macro that only sets the priority the ticket already has.
fn nothing_to_do() -> kefu_domain::DomainError {
    kefu_domain::FieldError::new(
        "macro",
        "the ticket already has everything this macro sets",
        "该工单已是此快捷回复设置的状态，无需应用",
    )
    .into()
}

/// The note's event data beside the priority change's (`internal`, `sent_by`, `mentions`).
fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        for (k, v) in b {
            a.entry(k).or_insert(v);
        }
    }
}
