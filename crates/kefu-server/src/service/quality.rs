//! Quality: the scorecards (shipped files as version 1,
//! inspectors' edits as later versions), QA reviews of tickets scored by
//! the domain's one engine, calibration reviews that count for nobody, and
//! innovation entries. Store inspections are `stores.rs`; the weighted
//! assessment is `assessment.rs`.

use super::*;
use crate::error::ApiError;
use kefu_domain::flow::Actor;
use kefu_domain::quality::{Answer, Cycle, Rating, Scorecard, Scored, score};
use kefu_domain::{FieldError, Role, UserId};
use kefu_store::*;
use serde_json::{Map, Value, json};

pub(crate) fn invalid(field: &str, en: impl Into<String>, zh: impl Into<String>) -> ApiError {
    FieldError::new(field, en, zh).into()
}

/// Refuses fields a body may not carry (strict, like every write).
pub(crate) fn only_fields(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(FieldError::new(
            k.as_str(),
            format!("unknown field '{k}' (allowed: {})", allowed.join(", ")),
            format!("未知字段“{k}”（可用：{}）", allowed.join("、")),
        )
        .into()),
        None => Ok(()),
    }
}

/// An optional string field: absent or null is None, anything not a string 422.
pub(crate) fn opt_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(invalid(field, format!("{field} must be a string"), format!("{field} 须为字符串"))),
    }
}

/// The `items` of a review or inspection: `[{item, points | "na", reason?, root_cause?}]`.
pub(crate) fn ratings(body: &Map<String, Value>) -> Result<Vec<Rating>, ApiError> {
    let list = body.get("items").and_then(Value::as_array).filter(|l| !l.is_empty() && l.len() <= 500);
    let list = list.ok_or_else(|| {
        invalid("items", "items is a list of 1 to 500 {item, points}", "items 须为 1 至 500 个评分项 {item, points}")
    })?;
    list.iter()
        .enumerate()
        .map(|(n, v)| {
            let field = format!("items[{n}]");
            let o = v.as_object().ok_or_else(|| invalid(&field, "an item is an object", "评分项须为对象"))?;
            only_fields(o, &["item", "points", "reason", "root_cause"]).map_err(|_| {
                invalid(
                    &field,
                    "an item has item, points, reason, root_cause",
                    "评分项只含 item、points、reason、root_cause",
                )
            })?;
            let item = o.get("item").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
            let item =
                item.ok_or_else(|| invalid(&format!("{field}.item"), "item is required", "须填写评分项编码 item"))?;
            let answer = match o.get("points") {
                Some(Value::Number(p)) => Answer::Points(p.as_f64().unwrap_or(f64::NAN)),
                Some(Value::String(s)) if matches!(s.trim().to_ascii_lowercase().as_str(), "na" | "n/a") => Answer::Na,
                _ => {
                    return Err(invalid(
                        &format!("{field}.points"),
                        "points is a number or \"na\"",
                        "分值 points 须为数字或 \"na\"（不适用）",
                    ));
                }
            };
            let text = |k: &str| {
                opt_str(o, k).map(|s| s.map(str::to_string)).map_err(|_| {
                    invalid(&format!("{field}.{k}"), format!("{k} must be a string"), format!("{k} 须为字符串"))
                })
            };
            Ok(Rating { item: item.to_string(), answer, reason: text("reason")?, root_cause: text("root_cause")? })
        })
        .collect()
}

/// The staff member of that username, or 422 naming `field`.
pub(crate) fn staff_named<'a>(
    org: &'a crate::directory::OrgSnapshot,
    field: &str,
    name: &str,
) -> Result<&'a kefu_store::User, ApiError> {
    let name = name.trim();
    org.users
        .iter()
        .find(|u| u.username == name)
        .ok_or_else(|| invalid(field, format!("no staff '{name}'"), format!("没有员工“{name}”")))
}

/// An optional username filter of a list (blank: none).
pub(crate) fn staff_filter(
    org: &crate::directory::OrgSnapshot,
    name: Option<&str>,
) -> Result<Option<UserId>, ApiError> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => Ok(Some(staff_named(org, "agent", n)?.id)),
        None => Ok(None),
    }
}

/// What a review or inspection decided, before it is kept.
pub(crate) struct Judged {
    pub kind: EvaluationKind,
    /// The ticket's number or the store's code.
    pub subject: String,
    pub ticket: Option<kefu_domain::TicketId>,
    pub agent: Option<UserId>,
    pub cycle: Cycle,
    /// The scorecard version used.
    pub card: ScorecardVersion,
    pub score: f64,
    /// The scored items and whatever else the record keeps.
    pub record: Value,
}

/// Who sees every quality record.
pub(crate) fn sees_all(role: Role) -> bool {
    matches!(role, Role::Supervisor | Role::Inspector | Role::Admin)
}

/// Whether `who` may read the quality records of `agent`: everyone's for
/// supervisors, inspectors and admins, a lead their teams', anyone their own.
pub(crate) fn reads_about(who: &Actor, org: &crate::directory::OrgSnapshot, agent: UserId) -> bool {
    sees_all(who.role)
        || agent == who.id
        || org.user(agent).and_then(|u| u.profile.team).is_some_and(|t| who.org.leads.contains(&t))
}

/// A scorecard version as the API shows it: the card with labels.
pub fn scorecard_json(v: &ScorecardVersion, card: &Scorecard) -> Value {
    let (usage_zh, usage_en) = card.usage.label();
    let sections: Vec<Value> = card
        .sections
        .iter()
        .map(|s| {
            let (kind_zh, kind_en) = s.kind.label();
            json!({"key": s.key, "name_zh": s.name_zh, "name_en": s.name_en, "kind": s.kind, "kind_zh": kind_zh,
                "kind_en": kind_en, "cap": s.cap, "items": s.items})
        })
        .collect();
    json!({
        "key": card.key, "version": v.version, "name_zh": card.name_zh, "name_en": card.name_en, "usage": card.usage,
        "usage_zh": usage_zh, "usage_en": usage_en, "standard_points": card.standard_points(), "sections": sections,
        "created_at": v.created_at,
    })
}

/// An evaluation as the API shows it.
pub fn evaluation_json(e: &Evaluation, org: &crate::directory::OrgSnapshot) -> Value {
    let body: Value = serde_json::from_str(&e.body).unwrap_or(Value::Null);
    let name = |u: Option<UserId>| {
        u.and_then(|u| org.user(u)).map(|u| json!({"username": u.username, "name": u.display_name}))
    };
    let mut out = json!({
        "id": e.id, "kind": e.kind.code(), "subject": e.subject, "scorecard": e.scorecard, "version": e.version,
        "period": e.period, "score": e.score, "agent": name(e.agent), "reviewer": name(Some(e.reviewer)),
        "created_at": e.created_at,
    });
    // The scored parts (base, bonus, deduction, red lines failed, items)
    // beside the score, then what else the record keeps (notes, session …).
    if let (Some(o), Some(b)) = (out.as_object_mut(), body.as_object()) {
        let scored = b.get("scored").and_then(Value::as_object).into_iter().flatten();
        for (k, v) in scored.chain(b.iter().filter(|(k, _)| *k != "scored")) {
            o.entry(k.clone()).or_insert(v.clone());
        }
    }
    out
}

impl<S: Store> Kefu<S> {
    /// Every scorecard at its latest version; the shipped ones are kept as
    /// version 1 the first time they are asked for.
    pub async fn scorecards(&self) -> Result<Vec<(ScorecardVersion, Scorecard)>, ApiError> {
        let mut kept = self.store.scorecards().await?;
        let missing: Vec<Scorecard> =
            Scorecard::shipped().into_iter().filter(|c| !kept.iter().any(|k| k.key == c.key)).collect();
        if !missing.is_empty() {
            for c in missing {
                let body = serde_json::to_string(&c).map_err(|e| ApiError::Internal(e.to_string()))?;
                let usage = c.usage.code().to_string();
                // Another node may have kept it first: theirs is version 1.
                match self.store.add_scorecard_version(c.key, usage, body, None, self.now()).await {
                    Ok(_) | Err(StoreError::Conflict { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            kept = self.store.scorecards().await?;
        }
        kept.into_iter().map(|v| Ok((parse_card(&v)?, v))).map(|r| r.map(|(c, v)| (v, c))).collect()
    }

    /// One scorecard at its latest version (or the version named).
    pub async fn scorecard(&self, key: &str, version: Option<i64>) -> Result<(ScorecardVersion, Scorecard), ApiError> {
        if version.is_none() {
            return self.scorecards().await?.into_iter().find(|(v, _)| v.key == key).ok_or_else(unknown_card);
        }
        let v = self.store.scorecard(key.to_string(), version).await?.ok_or_else(unknown_card)?;
        Ok((v.clone(), parse_card(&v)?))
    }

    /// A new version of a scorecard (`PUT /api/v1/quality/scorecards/{key}`).
    pub async fn save_scorecard(
        &self,
        who: &Actor,
        key: &str,
        body: Value,
    ) -> Result<(ScorecardVersion, Scorecard), ApiError> {
        let mut body = body;
        if let Some(o) = body.as_object_mut() {
            o.entry("key").or_insert_with(|| Value::String(key.to_string()));
        }
        let card: Scorecard = serde_json::from_value(body)
            .map_err(|e| invalid("body", format!("not a scorecard: {e}"), format!("评分表格式有误：{e}")))?;
        self.keep_scorecard(who, key, card).await
    }

    /// A checked card kept as the next version of `key`.
    pub async fn keep_scorecard(
        &self,
        who: &Actor,
        key: &str,
        card: Scorecard,
    ) -> Result<(ScorecardVersion, Scorecard), ApiError> {
        if card.key != key {
            return Err(invalid("key", "the key in the body differs from the path", "请求体中的 key 与路径不一致"));
        }
        card.check()?;
        if let Ok((_, old)) = self.scorecard(key, None).await
            && old.usage != card.usage
        {
            return Err(invalid(
                "usage",
                "a scorecard keeps its usage; make a new one",
                "评分表用途不能修改，请新建评分表",
            ));
        }
        let text = serde_json::to_string(&card).map_err(|e| ApiError::Internal(e.to_string()))?;
        let usage = card.usage.code().to_string();
        let v = self.store.add_scorecard_version(key.to_string(), usage, text, Some(who.id), self.now()).await?;
        Ok((v, card))
    }

    /// Scores `items` on a card of the right use, keeping the version used.
    pub(crate) async fn score_on(
        &self,
        card_key: &str,
        for_stores: bool,
        body: &Map<String, Value>,
    ) -> Result<(ScorecardVersion, Scored), ApiError> {
        let (v, card) = self.scorecard(card_key, None).await.map_err(|_| {
            invalid("scorecard", format!("no scorecard '{card_key}'"), format!("没有评分表“{card_key}”"))
        })?;
        if card.usage.for_stores() != for_stores {
            let (zh, en) = card.usage.label();
            return Err(invalid(
                "scorecard",
                format!("scorecard '{card_key}' is for {en}"),
                format!("评分表“{}”用于{zh}", card.name_zh),
            ));
        }
        let scored = score(&card, &ratings(body)?, self.core.policy.quality.ceiling)?;
        Ok((v, scored))
    }

    /// What an earlier request with the same retry key made (its
    /// fingerprint must match: the same key with another body is refused).
    pub(crate) async fn replayed(&self, who: &Actor, idem: Option<&Idem>) -> Result<Option<Evaluation>, ApiError> {
        let Some(i) = idem else { return Ok(None) };
        let prev = self.store.evaluation_by_request(request_key(who, i)).await?;
        match prev {
            Some(e) if e.request.as_ref().is_some_and(|r| r.1 == i.fingerprint) => Ok(Some(e)),
            Some(_) => Err(StoreError::IdempotencyMismatch.into()),
            None => Ok(None),
        }
    }

    /// Keeps what `who` judged, once per retry key: a request racing its
    /// own retry meets the one that won.
    pub(crate) async fn keep_evaluation(
        &self,
        who: &Actor,
        j: Judged,
        idem: Option<&Idem>,
    ) -> Result<Evaluation, ApiError> {
        let (day_from, day_to) = j.cycle.days();
        let e = Evaluation {
            id: 0,
            kind: j.kind,
            subject: j.subject,
            ticket: j.ticket,
            agent: j.agent,
            scorecard: j.card.key,
            version: j.card.version,
            period: j.cycle.to_string(),
            day_from,
            day_to,
            score: j.score,
            body: j.record.to_string(),
            reviewer: who.id,
            request: idem.map(|i| (request_key(who, i), i.fingerprint.clone())),
            created_at: self.now(),
        };
        match self.store.add_evaluation(e).await {
            Err(StoreError::Conflict { .. }) => self
                .replayed(who, idem)
                .await?
                .ok_or(ApiError::Conflict { constraint: "quality_evaluations_request_key".into() }),
            other => Ok(other?),
        }
    }

    /// A QA review of a ticket: `{ticket, scorecard?, items, agent?, period?, notes?, calibration?}`.
    pub async fn review_ticket(
        &self,
        who: &Actor,
        body: &Map<String, Value>,
        idem: Option<&Idem>,
    ) -> Result<Evaluation, ApiError> {
        if let Some(e) = self.replayed(who, idem).await? {
            return Ok(e);
        }
        only_fields(body, &["ticket", "scorecard", "items", "agent", "period", "notes", "calibration"])?;
        let key = opt_str(body, "ticket")?
            .map(str::to_string)
            .or_else(|| body.get("ticket").and_then(Value::as_i64).map(|n| n.to_string()));
        let key = key.ok_or_else(|| invalid("ticket", "ticket (number or id) is required", "须填写工单号 ticket"))?;
        let ticket = self.visible_ticket(who, key.trim()).await?;
        let card_key = opt_str(body, "scorecard")?.unwrap_or("ticket_review");
        let (v, scored) = self.score_on(card_key, false, body).await?;
        let org = self.org().await?;
        let agent = match opt_str(body, "agent")? {
            Some(name) => staff_named(&org, "agent", name)?.id,
            None => ticket.assignee.unwrap_or(ticket.first_owner),
        };
        if agent == who.id {
            return Err(invalid("agent", "nobody reviews their own work", "不能评审本人处理的工单"));
        }
        let calibration = match body.get("calibration") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => None,
            Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 100 => Some(s.trim().to_string()),
            Some(Value::Bool(true)) => Some(ticket.number.clone()),
            _ => {
                return Err(invalid(
                    "calibration",
                    "calibration names the session (text)",
                    "calibration 须为校准会话名称",
                ));
            }
        };
        let registered = kefu_domain::time::shanghai_date(ticket.created_at);
        let cycle = match opt_str(body, "period")? {
            Some(p) => Cycle::parse(p, "period")?,
            None => Cycle::month_of(registered),
        };
        let notes = kefu_domain::validate::optional_free_text(opt_str(body, "notes")?, "notes", 2000)?;
        let record = json!({"scored": scored, "notes": notes, "ticket_number": ticket.number, "session": calibration});
        let kind = if calibration.is_some() { EvaluationKind::Calibration } else { EvaluationKind::Review };
        let judged = Judged {
            kind,
            subject: ticket.number.clone(),
            ticket: Some(ticket.id),
            agent: Some(agent),
            cycle,
            card: v,
            score: scored.score,
            record,
        };
        self.keep_evaluation(who, judged, idem).await
    }

    /// Reviews `who` may read: everything for supervisors, inspectors,
    /// admins; a lead their teams'; anyone else their own (never calibration).
    pub async fn visible_reviews(&self, who: &Actor, mut f: EvaluationFilter) -> Result<Vec<Evaluation>, ApiError> {
        if !sees_all(who.role) && who.org.leads.is_empty() {
            f.agent = Some(who.id);
        }
        let list = self.store.evaluations(f).await?;
        if sees_all(who.role) {
            return Ok(list);
        }
        let org = self.org().await?;
        let mine = |e: &Evaluation| e.agent.is_some_and(|a| reads_about(who, &org, a));
        Ok(list.into_iter().filter(|e| e.kind != EvaluationKind::Calibration && mine(e)).collect())
    }

    /// One review `who` may read (404 otherwise, as for a ticket).
    pub async fn review_for(&self, who: &Actor, id: i64) -> Result<Evaluation, ApiError> {
        let none = || ApiError::NotFound { what: "review", what_zh: "质检记录" };
        let e = self.store.evaluation(id).await?.ok_or_else(none)?;
        if e.kind == EvaluationKind::Inspection {
            return Err(none());
        }
        let f = EvaluationFilter { ticket: e.ticket, ..Default::default() };
        let visible = self.visible_reviews(who, f).await?;
        visible.into_iter().find(|v| v.id == id).ok_or_else(none)
    }

    /// An innovation entry: `{agent, title, points, day?}`.
    pub async fn record_innovation(&self, who: &Actor, body: &Map<String, Value>) -> Result<Innovation, ApiError> {
        only_fields(body, &["agent", "title", "points", "day"])?;
        let org = self.org().await?;
        let agent = staff_named(&org, "agent", opt_str(body, "agent")?.unwrap_or(""))?;
        let title = kefu_domain::validate::required_free_text(opt_str(body, "title")?, "title", 200)?;
        let points = body.get("points").and_then(Value::as_f64).filter(|p| p.is_finite() && *p > 0.0 && *p <= 100.0);
        let points =
            points.ok_or_else(|| invalid("points", "points is a number in (0, 100]", "分值须大于0且不超过100"))?;
        let day = match opt_str(body, "day")? {
            Some(d) => d.trim().parse().map_err(|_| invalid("day", "day is YYYY-MM-DD", "日期须为 YYYY-MM-DD"))?,
            None => kefu_domain::time::shanghai_date(self.now()),
        };
        let i = Innovation { id: 0, agent: agent.id, day, title, points, recorded_by: who.id, created_at: self.now() };
        Ok(self.store.add_innovation(i).await?)
    }
}

fn request_key(who: &Actor, i: &Idem) -> String {
    format!("{} {} {}", who.id, i.scope, i.key)
}

fn parse_card(v: &ScorecardVersion) -> Result<Scorecard, ApiError> {
    serde_json::from_str(&v.body).map_err(|e| ApiError::Internal(format!("scorecard {} v{}: {e}", v.key, v.version)))
}

fn unknown_card() -> ApiError {
    ApiError::NotFound { what: "scorecard", what_zh: "评分表" }
}

impl<S: Store> Kefu<S> {
    /// A calibration session (校准): every reviewer's score of the shared
    /// sample, and per item the spread between reviewers (largest less
    /// smallest points given, N/A left out) — where the card is read
    /// differently. Calibration reviews count for nobody.
    pub async fn calibration(&self, session: &str) -> Result<Value, ApiError> {
        let session = session.trim();
        if session.is_empty() {
            return Err(invalid("session", "name the calibration session", "请填写校准会话名称"));
        }
        let f = EvaluationFilter { kind: Some(EvaluationKind::Calibration), ..Default::default() };
        let org = self.org().await?;
        let name = |u: UserId| org.user(u).map_or_else(|| format!("#{u}"), |u| u.username.clone());
        // (ticket, item) → points per reviewer; ticket → total per reviewer.
        let mut items: std::collections::BTreeMap<(String, String), Vec<(String, f64)>> = Default::default();
        let mut totals: std::collections::BTreeMap<String, Vec<(String, f64)>> = Default::default();
        for e in self.store.evaluations(f).await? {
            let body: Value = serde_json::from_str(&e.body).unwrap_or_default();
            if body["session"].as_str() != Some(session) {
                continue;
            }
            totals.entry(e.subject.clone()).or_default().push((name(e.reviewer), e.score));
            for i in body["scored"]["items"].as_array().into_iter().flatten() {
                if let (Some(k), Some(p)) = (i["item"].as_str(), i["points"].as_f64()) {
                    items.entry((e.subject.clone(), k.to_string())).or_default().push((name(e.reviewer), p));
                }
            }
        }
        let spread = |v: &[(String, f64)]| {
            let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), (_, p)| (l.min(*p), h.max(*p)));
            if v.is_empty() { 0.0 } else { ((hi - lo) * 100.0).round() / 100.0 }
        };
        let mut item_rows: Vec<Value> = items
            .iter()
            .map(|((ticket, item), v)| {
                json!({"ticket": ticket, "item": item, "reviewers": v.len(), "spread": spread(v),
                    "points": v.iter().map(|(r, p)| json!({"reviewer": r, "points": p})).collect::<Vec<_>>()})
            })
            .collect();
        item_rows.sort_by(|a, b| b["spread"].as_f64().unwrap_or(0.0).total_cmp(&a["spread"].as_f64().unwrap_or(0.0)));
        let tickets: Vec<Value> = totals
            .iter()
            .map(|(t, v)| {
                json!({"ticket": t, "spread": spread(v),
                    "scores": v.iter().map(|(r, s)| json!({"reviewer": r, "score": s})).collect::<Vec<_>>()})
            })
            .collect();
        if tickets.is_empty() {
            return Err(ApiError::NotFound { what: "calibration session", what_zh: "校准会话" });
        }
        Ok(json!({"session": session, "tickets": tickets, "items": item_rows}))
    }
}
