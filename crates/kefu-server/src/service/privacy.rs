//! Personal data: revealing a masked field (logged first), the access
//! log, and a customer's export and erasure.

use super::*;
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use kefu_domain::flow::Actor;
use kefu_domain::ticket::Ticket;
use kefu_domain::validate::required_text;
use kefu_domain::{FieldError, UserId};
use kefu_store::*;
use serde_json::{Value, json};

/// What a reveal is about.
pub enum RevealSubject<'a> {
    Ticket(&'a str),
    Customer(kefu_domain::CustomerId),
}

/// A revealed field, as returned to the caller.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Revealed {
    pub field: String,
    pub value: Option<String>,
    /// The access-log entry that records this view.
    pub access_log_id: i64,
}

impl<S: Store> Kefu<S> {
    /// Shows one personal field in full to a role that may reveal it, and
    /// records who, when, what and why in the access log first.
    pub async fn reveal(
        &self,
        actor: &Actor,
        subject: RevealSubject<'_>,
        field: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Revealed, ApiError> {
        use kefu_domain::privacy::{Access, PersonalField};
        let field = PersonalField::parse(field.ok_or_else(|| FieldError::required("field"))?)?;
        let reason = required_text(reason, "reason", 500)?;
        let privacy = &self.core.policy.privacy;
        if !kefu_domain::access::reason_is_real(&reason, &privacy.reveal_reasons, privacy.reveal_reason_min_chars) {
            return Err(FieldError::new(
                "reason",
                format!(
                    "name one of the listed reasons or write the reason out (at least {} characters): {}",
                    privacy.reveal_reason_min_chars,
                    privacy.reveal_reasons.join("; ")
                ),
                format!("请选择规定的查看事由，或写明具体事由（至少 {} 个字）", privacy.reveal_reason_min_chars),
            )
            .into());
        }
        if privacy.access(actor.role, field) == Access::Masked {
            return Err(ApiError::Forbidden {
                reason: format!("role {} may not reveal {}", actor.role.as_str(), field.as_str()),
                reason_zh: format!("当前角色无权查看完整的 {}", field.as_str()),
            });
        }
        let (subject, customer, service_number) = match subject {
            RevealSubject::Ticket(key) => {
                let t = self.visible_ticket(actor, key).await?;
                (format!("ticket:{}", t.number), t.customer, t.service_number)
            }
            RevealSubject::Customer(id) => {
                let c = self
                    .store
                    .customer_by_id(id)
                    .await?
                    .ok_or(ApiError::NotFound { what: "customer", what_zh: "客户" })?;
                // A customer is revealed only to someone one of whose tickets they are.
                let theirs = TicketFilter {
                    customer_phone: Some(c.phone.as_str().into()),
                    visible: self.visibility(actor),
                    page: 1,
                    per_page: 1,
                    ..Default::default()
                };
                if self.store.list_tickets(theirs).await?.total == 0 {
                    return Err(ApiError::NotFound { what: "customer", what_zh: "客户" });
                }
                (format!("customer:{}", id.0), c, None)
            }
        };
        let value = match field {
            PersonalField::Name => Some(customer.name),
            PersonalField::Phone => Some(customer.phone.as_str().to_string()),
            PersonalField::IdNumber => customer.id_number.map(|n| n.as_str().to_string()),
            PersonalField::Address => customer.address,
            PersonalField::ServiceNumber => service_number,
        };
        let who = (Some(actor.id), actor.username.as_str());
        let logged = self.log_access(who, "reveal", subject, Some(field.as_str()), reason).await?;
        Ok(Revealed { field: field.as_str().into(), value, access_log_id: logged.id })
    }
}

impl<S: Store> Kefu<S> {
    /// Every ticket of a customer, whole (no masking), oldest first.
    async fn tickets_of(&self, customer: &kefu_domain::ticket::Customer) -> Result<Vec<Ticket>, ApiError> {
        let mut out = Vec::new();
        for page in 1.. {
            let filter = TicketFilter {
                customer_phone: Some(customer.phone.as_str().into()),
                page,
                per_page: 500,
                ..Default::default()
            };
            let got = self.store.list_tickets(filter).await?;
            let done = got.items.len() < 500;
            out.extend(got.items);
            if done {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    async fn customer_or_404(&self, id: kefu_domain::CustomerId) -> Result<kefu_domain::ticket::Customer, ApiError> {
        self.store.customer_by_id(id).await?.ok_or(ApiError::NotFound { what: "customer", what_zh: "客户" })
    }

    /// Appends to the access log, now. `actor` is None for kefu's own jobs
    /// and the command line, which `actor_name` then names.
    pub async fn log_access(
        &self,
        (actor, actor_name): (Option<UserId>, &str),
        action: &str,
        subject: String,
        field: Option<&str>,
        reason: String,
    ) -> Result<AccessEntry, ApiError> {
        let entry = AccessEntry {
            id: 0,
            at: self.now(),
            actor,
            actor_name: actor_name.into(),
            action: action.into(),
            subject,
            field: field.map(str::to_string),
            reason,
        };
        Ok(self.store.append_access(entry).await?)
    }

    /// Everything held about one customer, machine-readable, for the
    /// customer's right of access (PIPL art. 45); recorded in the access log.
    pub async fn export_customer(
        &self,
        actor: &Actor,
        id: kefu_domain::CustomerId,
        reason: Option<&str>,
    ) -> Result<Value, ApiError> {
        let reason = required_text(reason, "reason", 500)?;
        let customer = self.customer_or_404(id).await?;
        let mut tickets = Vec::new();
        for t in self.tickets_of(&customer).await? {
            let (comments, transfers, events) =
                (self.store.comments(t.id).await?, self.store.transfers(t.id).await?, self.store.events(t.id).await?);
            tickets.push(json!({"ticket": t, "comments": comments, "transfers": transfers, "events": events}));
        }
        let (services, service_history) = (self.store.services(id).await?, self.store.service_history(id).await?);
        let logged = self
            .log_access((Some(actor.id), &actor.username), "export", format!("customer:{}", id.0), None, reason)
            .await?;
        Ok(json!({"exported_at": logged.at, "access_log_id": logged.id, "customer": customer, "tickets": tickets,
                  "services": services, "service_history": service_history}))
    }

    /// Erases a customer on request where retention allows: only
    /// when no ticket of theirs is still kept. Recorded in the access log.
    pub async fn erase_customer(
        &self,
        actor: &Actor,
        id: kefu_domain::CustomerId,
        reason: Option<&str>,
    ) -> Result<Value, ApiError> {
        let reason = required_text(reason, "reason", 500)?;
        let customer = self.customer_or_404(id).await?;
        let tickets = self.tickets_of(&customer).await?;
        if !tickets.is_empty() {
            let retention = &self.core.policy.retention;
            let kept: Option<Vec<DateTime<Utc>>> =
                tickets.iter().map(|t| retention.ticket_kept_until(t.archived_at)).collect();
            // Tickets past their retention are removed by the retention job;
            // until then they still name the customer.
            let until = kept.and_then(|k| k.into_iter().max());
            let past_due = until.is_some_and(|u| u <= self.now());
            return Err(ApiError::Retained { until, past_due });
        }
        self.store.delete_customer(id).await?;
        let logged = self
            .log_access((Some(actor.id), &actor.username), "erase", format!("customer:{}", id.0), None, reason)
            .await?;
        Ok(json!({"erased": true, "access_log_id": logged.id}))
    }
}
