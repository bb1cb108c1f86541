//! The ticket (工单) and the records that hang off it.

use crate::enums::{Channel, Priority, TicketType};
use crate::ids::{CustomerId, DepartmentId, TeamId, TicketId, UserId};
use crate::validate::{IdNumber, Phone};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A customer (客户), stored once and found again by phone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Customer {
    pub id: CustomerId,
    pub name: String,
    pub phone: Phone,
    pub id_number: Option<IdNumber>,
    pub address: Option<String>,
    /// Customer level (客户等级), e.g. `vip`, `gold`, `五星`.
    pub level: Option<String>,
}

/// The customer's explicit consent to an unsubscribe: how it was
/// given, when, and the evidence (recording id, form number …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Consent {
    pub method: String,
    pub at: DateTime<Utc>,
    pub evidence: String,
}

/// A ticket's evidence files, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileTotals {
    pub count: u64,
    pub bytes: u64,
}

impl FileTotals {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ticket {
    pub id: TicketId,
    /// Unique human-readable number (工单号), `GD` + Shanghai date + 6 digits.
    pub number: String,
    pub channel: Channel,
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
    pub priority: Priority,
    /// State name from the type's flow; only the flow engine interprets it.
    pub status: String,
    pub title: String,
    pub description: String,
    pub customer: Customer,
    pub service_number: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub location: Option<String>,
    pub consent: Option<Consent>,
    /// Who submitted the request (the customer, or who spoke for them).
    pub submitted_by: String,
    /// First-contact owner (首问责任人): the staff member who registered the
    /// ticket. Accountable to the end, never changed.
    pub first_owner: UserId,
    pub assignee: Option<UserId>,
    /// Support tier now handling it: 1 agent, 2 engineer, 3 complaint specialist.
    pub tier: u8,
    /// Receiver of a transfer that awaits acceptance.
    pub transfer_to: Option<UserId>,
    pub result: Option<String>,
    pub satisfaction: Option<u8>,
    pub nps: Option<u8>,
    pub appeal_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    /// Time limits running on the ticket (SLA policy); older documents have none.
    #[serde(default)]
    pub deadlines: Vec<crate::sla::Deadline>,
    /// When the SLA watcher next has an alert to raise (kept by the service).
    #[serde(default)]
    pub next_alert_at: Option<DateTime<Utc>>,
    /// Business line (宽带, 移动 …), matched by dispatch rules and skills.
    #[serde(default)]
    pub business_line: Option<String>,
    /// The store (营业厅) the request was taken at or is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// The major incident (重大故障) the ticket is linked to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<crate::incident_record::IncidentRef>,
    /// The order against the customer's services it carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<crate::order::Order>,
    /// How many evidence files it has and their bytes: the per-ticket limits
    /// are checked on the locked ticket, so two uploads cannot both squeeze in.
    #[serde(default, skip_serializing_if = "FileTotals::is_empty")]
    pub files: FileTotals,
    /// A request by e-mail: the customer's address (sealed at rest, like
    /// every `email` field) — kefu answers there, in the same thread …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// … answering the customer's latest message (its Message-ID).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_message_id: Option<String>,
    /// The team the ticket belongs to: its handler's, or the queue it waits in.
    #[serde(default)]
    pub team: Option<TeamId>,
    /// A transfer awaiting acceptance by any member of this team …
    #[serde(default)]
    pub transfer_team: Option<TeamId>,
    /// … or of this department.
    #[serde(default)]
    pub transfer_department: Option<DepartmentId>,
    /// Automatic dispatch found nobody: the ticket waits in its team's queue.
    #[serde(default)]
    pub unassignable: bool,
    /// Escalated to the supervisor (主管督办): on appeal or repeated breach.
    #[serde(default)]
    pub supervised: bool,
    /// The state weighs on its handler (counts against capacity); kept by
    /// the service from the flow.
    #[serde(default = "yes")]
    pub open: bool,
    /// Result notice, confirmation, appeal, return visit and review since
    /// the last resolution.
    #[serde(default)]
    pub customer_loop: crate::customer_loop::CustomerLoop,
}

fn yes() -> bool {
    true
}

/// A validated ticket not yet stored: the store assigns id and number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTicket {
    pub channel: Channel,
    pub ticket_type: TicketType,
    pub priority: Priority,
    pub priority_derived: bool,
    pub title: String,
    pub description: String,
    pub customer: NewCustomer,
    pub service_number: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub location: Option<String>,
    pub consent: Option<Consent>,
    pub submitted_by: String,
    /// Deadlines started at registration (filled by the service from the policy).
    pub deadlines: Vec<crate::sla::Deadline>,
    pub next_alert_at: Option<DateTime<Utc>>,
    pub business_line: Option<String>,
    /// The store (营业厅) code, checked by the service to exist.
    pub store: Option<String>,
    /// An active incident whose scope covers it, found by the service.
    pub incident: Option<crate::incident_record::IncidentRef>,
    /// The order it carries, built by the service against the inventory.
    pub order: Option<crate::order::Order>,
    /// The address of a request that came by e-mail, and its Message-ID.
    pub email: Option<String>,
    pub email_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewCustomer {
    pub name: String,
    pub phone: Phone,
    pub id_number: Option<IdNumber>,
    pub address: Option<String>,
    pub level: Option<String>,
}

impl NewTicket {
    /// Builds the stored ticket once the store has chosen id, number and customer.
    pub fn into_ticket(
        self,
        id: TicketId,
        number: String,
        customer: Customer,
        initial_state: &str,
        first_owner: UserId,
        now: DateTime<Utc>,
    ) -> Ticket {
        Ticket {
            id,
            number,
            channel: self.channel,
            ticket_type: self.ticket_type,
            priority: self.priority,
            status: initial_state.to_string(),
            title: self.title,
            description: self.description,
            customer,
            service_number: self.service_number,
            occurred_at: self.occurred_at,
            location: self.location,
            consent: self.consent,
            submitted_by: self.submitted_by,
            first_owner,
            assignee: None,
            tier: 1,
            transfer_to: None,
            result: None,
            satisfaction: None,
            nps: None,
            appeal_count: 0,
            created_at: now,
            updated_at: now,
            resolved_at: None,
            archived_at: None,
            deadlines: self.deadlines,
            next_alert_at: self.next_alert_at,
            business_line: self.business_line,
            store: self.store,
            incident: self.incident,
            order: self.order,
            files: FileTotals::default(),
            email: self.email,
            email_message_id: self.email_message_id,
            team: None,
            transfer_team: None,
            transfer_department: None,
            unassignable: false,
            supervised: false,
            open: true,
            customer_loop: Default::default(),
        }
    }
}

/// Formats a ticket number: `GD` + `YYYYMMDD` (Shanghai date) + 6-digit
/// daily sequence starting at 1.
pub fn format_number(day: NaiveDate, seq: u32) -> String {
    format!("GD{}{:06}", day.format("%Y%m%d"), seq)
}

/// Whether a path segment looks like a ticket number rather than an id.
pub fn looks_like_number(s: &str) -> bool {
    s.len() == 16 && s.starts_with("GD") && s[2..].bytes().all(|b| b.is_ascii_digit())
}

/// A transfer (转接) record, R-18. The receiver is a person, a team or a
/// department; whoever accepts is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transfer {
    pub id: i64,
    pub ticket_id: TicketId,
    pub from_user: Option<UserId>,
    pub to_user: Option<UserId>,
    pub to_team: Option<TeamId>,
    pub to_department: Option<DepartmentId>,
    /// Who accepted or rejected it.
    pub decided_by: Option<UserId>,
    pub reason: String,
    /// `phone`, `system` or `manual`.
    pub mode: String,
    /// `pending`, `accepted` or `rejected`.
    pub state: String,
    pub result: Option<String>,
    pub customer_feedback: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// A note or reply on a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comment {
    pub id: i64,
    pub ticket_id: TicketId,
    pub author: UserId,
    pub body: String,
    /// Internal notes are for staff only; others are customer-visible replies.
    pub internal: bool,
    /// Colleagues named with `@username`, who were notified.
    #[serde(default)]
    pub mentions: Vec<UserId>,
    /// A message from the customer: the channel it came by (`sms`, `email`,
    /// `wechat`); None for a staff member's note or reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A ticket for unit tests: a normal consultation-style record in `accepted`.
#[cfg(test)]
pub fn sample(tt: crate::TicketType, p: crate::Priority) -> Ticket {
    let now: DateTime<Utc> = "2026-11-23T02:00:00Z".parse().unwrap();
    Ticket {
        id: TicketId(1),
        number: "GD20261123000001".into(),
        channel: Channel::Phone,
        ticket_type: tt,
        priority: p,
        status: "accepted".into(),
        title: "宽带掉线".into(),
        description: "晚上频繁掉线".into(),
        customer: Customer {
            id: CustomerId(1),
            name: "张三".into(),
            phone: Phone::parse("13812345678", "phone").unwrap(),
            id_number: None,
            address: None,
            level: None,
        },
        service_number: None,
        occurred_at: None,
        location: None,
        consent: None,
        submitted_by: "张三".into(),
        first_owner: UserId(1),
        assignee: None,
        tier: 1,
        transfer_to: None,
        result: None,
        satisfaction: None,
        nps: None,
        appeal_count: 0,
        created_at: now,
        updated_at: now,
        resolved_at: None,
        archived_at: None,
        deadlines: Vec::new(),
        next_alert_at: None,
        business_line: None,
        store: None,
        incident: None,
        order: None,
        files: FileTotals::default(),
        email: None,
        email_message_id: None,
        team: None,
        transfer_team: None,
        transfer_department: None,
        unassignable: false,
        supervised: false,
        open: true,
        customer_loop: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_format() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(format_number(d, 1), "GD20261122000001");
        assert_eq!(format_number(d, 999_999), "GD20261122999999");
        assert!(looks_like_number("GD20261122000001"));
        assert!(!looks_like_number("12345"));
        assert!(!looks_like_number("GD2026112200000X"));
    }
}
