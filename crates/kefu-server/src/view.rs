//! The API representation of a ticket: the stored ticket plus what the
//! caller needs to act on it (labels, people, deadlines, allowed actions).

use crate::directory::{Directory, UserSummary};
use chrono::{DateTime, Utc};
use kefu_domain::flow::{Actor, FlowSet};
use kefu_domain::privacy::{Access, PersonalField, PrivacyPolicy};
use kefu_domain::ticket::{Consent, Customer, Ticket};
use kefu_domain::{Channel, CustomerId, Priority, Role, TicketId, TicketType};
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TicketView {
    pub id: TicketId,
    /// 工单号, e.g. GD20261122000001.
    pub number: String,
    pub channel: Channel,
    pub channel_zh: &'static str,
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
    pub type_zh: &'static str,
    pub priority: Priority,
    pub priority_zh: &'static str,
    pub status: String,
    pub status_zh: String,
    pub title: String,
    pub description: String,
    /// Personal fields masked per the caller's role (policy `privacy`).
    pub customer: CustomerView,
    pub service_number: Option<String>,
    /// Which personal fields are shown masked to the caller.
    pub masked_fields: Vec<&'static str>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub location: Option<String>,
    pub consent: Option<Consent>,
    pub submitted_by: String,
    /// 首问责任人: registered the ticket, accountable to the end.
    pub first_owner: UserSummary,
    pub assignee: Option<UserSummary>,
    /// 1 = L1 agent, 2 = L2 engineer, 3 = L3 complaint specialist.
    pub tier: u8,
    pub transfer_to: Option<UserSummary>,
    /// A transfer awaiting any member of this team or department.
    pub transfer_team: Option<kefu_domain::TeamId>,
    pub transfer_department: Option<kefu_domain::DepartmentId>,
    /// The team of the handler, or whose queue the ticket waits in.
    pub team: Option<kefu_domain::TeamId>,
    /// Automatic dispatch found nobody free: waiting in the team queue.
    pub unassignable: bool,
    /// Escalated to the supervisor (主管督办).
    pub supervised: bool,
    pub business_line: Option<String>,
    /// The store (营业厅) code the ticket was taken at or is about.
    pub store: Option<String>,
    /// The major incident (重大故障) the ticket is linked to.
    pub incident: Option<kefu_domain::incident_record::IncidentRef>,
    /// The order against the customer's services it carries (business,
    /// account and unsubscribe tickets; ).
    pub order: Option<OrderView>,
    /// How many evidence files it has and their bytes (the files: `GET /api/v1/tickets/{id}/attachments`).
    pub files: kefu_domain::ticket::FileTotals,
    pub result: Option<String>,
    pub satisfaction: Option<u8>,
    pub nps: Option<u8>,
    pub appeal_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    pub deadlines: Vec<DeadlineView>,
    /// Result notice, confirmation, appeal, return visit and review since
    /// the last resolution (R-25…R-28).
    pub customer_loop: kefu_domain::customer_loop::CustomerLoop,
    /// What the calling user may do now, from the type's flow.
    pub allowed_actions: Vec<String>,
}

/// A ticket's order with its kind and state in words.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: kefu_domain::order::Order,
    pub kind_zh: &'static str,
    pub kind_en: &'static str,
    pub state_zh: &'static str,
    pub state_en: &'static str,
}

pub fn order_view(o: &kefu_domain::order::Order) -> OrderView {
    let ((kind_zh, kind_en), (state_zh, state_en)) = (o.kind.label(), o.state.label());
    OrderView { order: o.clone(), kind_zh, kind_en, state_zh, state_en }
}

/// A deadline on the ticket (filled by the SLA engine).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadlineView {
    pub kind: String,
    pub label_zh: String,
    pub label_en: String,
    pub due_at: DateTime<Utc>,
    /// running, paused, met, warning, breached or cancelled.
    pub state: String,
    /// When it was met (a met deadline is `breached` if this is after `due_at`).
    pub met_at: Option<DateTime<Utc>>,
}

/// A customer as a role may see them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub id: CustomerId,
    pub name: String,
    pub phone: String,
    pub id_number: Option<String>,
    pub address: Option<String>,
    pub level: Option<String>,
}

pub fn customer_view(c: &Customer, role: Role, p: &PrivacyPolicy) -> CustomerView {
    CustomerView {
        id: c.id,
        name: p.show(role, PersonalField::Name, &c.name),
        phone: p.show(role, PersonalField::Phone, c.phone.as_str()),
        id_number: c.id_number.as_ref().map(|n| p.show(role, PersonalField::IdNumber, n.as_str())),
        address: c.address.as_ref().map(|a| p.show(role, PersonalField::Address, a)),
        level: c.level.clone(),
    }
}

/// The personal fields a role sees masked.
pub fn masked_fields(role: Role, p: &PrivacyPolicy) -> Vec<&'static str> {
    PersonalField::ALL.iter().filter(|f| p.access(role, **f) != Access::Full).map(|f| f.as_str()).collect()
}

pub fn ticket_view(
    t: &Ticket,
    viewer: &Actor,
    flows: &FlowSet,
    people: &Directory,
    policy: &kefu_domain::policy::Policy,
    now: chrono::DateTime<chrono::Utc>,
) -> TicketView {
    let privacy = &policy.privacy;
    let role = viewer.role;
    let text = |s: &str| privacy.show_text(role, s);
    let flow = flows.get(t.ticket_type);
    let status_zh = flow.state(&t.status).map_or_else(|| t.status.clone(), |s| s.zh.clone());
    TicketView {
        id: t.id,
        number: t.number.clone(),
        channel: t.channel,
        channel_zh: t.channel.label_zh(),
        ticket_type: t.ticket_type,
        type_zh: t.ticket_type.label_zh(),
        priority: t.priority,
        priority_zh: t.priority.label_zh(),
        status: t.status.clone(),
        status_zh,
        title: text(&t.title),
        description: text(&t.description),
        customer: customer_view(&t.customer, role, privacy),
        service_number: t.service_number.as_ref().map(|n| privacy.show(role, PersonalField::ServiceNumber, n)),
        masked_fields: masked_fields(role, privacy),
        occurred_at: t.occurred_at,
        location: t.location.as_deref().map(|l| privacy.show(role, PersonalField::Address, l)),
        consent: t.consent.clone().map(|c| Consent { evidence: text(&c.evidence), ..c }),
        // Usually the customer's own name (or whoever called for them).
        submitted_by: privacy.show(role, PersonalField::Name, &t.submitted_by),
        first_owner: people.summary(t.first_owner),
        assignee: t.assignee.map(|a| people.summary(a)),
        tier: t.tier,
        transfer_to: t.transfer_to.map(|a| people.summary(a)),
        transfer_team: t.transfer_team,
        transfer_department: t.transfer_department,
        team: t.team,
        unassignable: t.unassignable,
        supervised: t.supervised,
        business_line: t.business_line.clone(),
        store: t.store.clone(),
        incident: t.incident.clone(),
        order: t.order.as_ref().map(order_view),
        files: t.files,
        result: t.result.as_deref().map(text),
        satisfaction: t.satisfaction,
        nps: t.nps,
        appeal_count: t.appeal_count,
        created_at: t.created_at,
        updated_at: t.updated_at,
        resolved_at: t.resolved_at,
        archived_at: t.archived_at,
        deadlines: t
            .deadlines
            .iter()
            .map(|d| DeadlineView {
                kind: d.kind.clone(),
                label_zh: d.label_zh.clone(),
                label_en: kefu_domain::sla::label_en(&policy.sla, &d.kind),
                due_at: d.due_at,
                state: kefu_domain::sla::state_at(d, now).to_string(),
                met_at: d.met_at,
            })
            .collect(),
        customer_loop: {
            let mut l = t.customer_loop.clone();
            if let Some(v) = l.visit.as_mut() {
                v.comment = v.comment.as_deref().map(|c| privacy.show_text(viewer.role, c));
            }
            l
        },
        allowed_actions: flow.allowed_actions(t, viewer).iter().map(|a| a.as_str().to_string()).collect(),
    }
}

/// Masks personal data inside stored JSON (audit data, before/after): phone
/// and ID numbers and street numbers in every string, and service numbers,
/// locations and who submitted by their field.
pub fn mask_json(v: &serde_json::Value, role: Role, p: &PrivacyPolicy) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(p.show_text(role, s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| mask_json(x, role, p)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let masked = match (k.as_str(), x) {
                        ("service_number", Value::String(s)) => {
                            Value::String(p.show(role, PersonalField::ServiceNumber, s))
                        }
                        ("location", Value::String(s)) => Value::String(p.show(role, PersonalField::Address, s)),
                        ("submitted_by", Value::String(s)) => Value::String(p.show(role, PersonalField::Name, s)),
                        _ => mask_json(x, role, p),
                    };
                    (k.clone(), masked)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}
