//! Intake (受理) and registration (登记): raw request fields become a
//! `NewTicket`, or the first invalid field is named.

use crate::Priority;
use crate::enums::{Channel, TicketType};
use crate::error::FieldError;
use crate::priority::PriorityPolicy;
use crate::ticket::{Consent, NewCustomer, NewTicket};
use crate::validate::{IdNumber, Phone, optional_free_text, optional_text, required_free_text, required_text};
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Field length limits, in characters.
pub mod limits {
    pub const TITLE: usize = 200;
    pub const DESCRIPTION: usize = 10_000;
    pub const NAME: usize = 50;
    pub const ADDRESS: usize = 200;
    pub const LEVEL: usize = 20;
    pub const SERVICE_NUMBER: usize = 50;
    pub const LOCATION: usize = 200;
    pub const EVIDENCE: usize = 500;
    pub const REASON: usize = 1_000;
    pub const RESULT: usize = 4_000;
    pub const COMMENT: usize = 4_000;
}

/// The body of `POST /api/v1/tickets`, as it arrives.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IntakeRequest {
    /// phone, web, app, wechat, sms, email, self_service, store, community, onsite
    pub channel: Option<String>,
    /// complaint, consultation, business, account, service_request, fault, unsubscribe
    #[serde(rename = "type")]
    pub ticket_type: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub customer: Option<CustomerInput>,
    pub service_number: Option<String>,
    /// urgent, important, normal; derived by policy when absent.
    pub priority: Option<String>,
    /// RFC 3339.
    pub occurred_at: Option<String>,
    pub location: Option<String>,
    /// Required for unsubscribe.
    pub consent: Option<ConsentInput>,
    pub submitted_by: Option<String>,
    /// Business line (宽带, 移动, 固话 …), used by dispatch rules and skills.
    pub business_line: Option<String>,
    /// The store (营业厅) code where the request was taken or which it is
    /// about; the store's page lists its tickets.
    pub store: Option<String>,
    /// The order a business, account or unsubscribe ticket carries.
    pub order: Option<crate::order::OrderInput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub id_number: Option<String>,
    pub address: Option<String>,
    pub level: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    /// phone, online or written.
    pub method: Option<String>,
    /// RFC 3339.
    pub at: Option<String>,
    pub evidence: Option<String>,
}

pub const CONSENT_METHODS: &[&str] = &["phone", "online", "written"];

pub fn parse_time(raw: &str, field: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(raw.trim()).map(|t| t.with_timezone(&Utc)).map_err(|_| {
        FieldError::new(
            field,
            format!("'{raw}' is not an RFC 3339 time such as 2026-11-22T08:00:00Z"),
            format!("“{raw}”不是 RFC 3339 时间格式（如 2026-11-22T08:00:00Z）"),
        )
    })
}

impl IntakeRequest {
    /// The store code, if any (blank means none).
    fn store_code(&self) -> Result<Option<String>, FieldError> {
        match self.store.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(raw) => crate::validate::store_code(raw, "store").map(Some),
        }
    }

    pub fn parse(&self, policy: &PriorityPolicy) -> Result<NewTicket, FieldError> {
        let channel =
            Channel::parse(self.channel.as_deref().ok_or_else(|| FieldError::required("channel"))?, "channel")?;
        let ticket_type =
            TicketType::parse(self.ticket_type.as_deref().ok_or_else(|| FieldError::required("type"))?, "type")?;
        let title = required_free_text(self.title.as_deref(), "title", limits::TITLE)?;
        let description = required_free_text(self.description.as_deref(), "description", limits::DESCRIPTION)?;
        let customer = self.customer.as_ref().ok_or_else(|| FieldError::required("customer"))?.parse()?;
        let service_number = optional_text(self.service_number.as_deref(), "service_number", limits::SERVICE_NUMBER)?;
        let occurred_at = self.occurred_at.as_deref().map(|t| parse_time(t, "occurred_at")).transpose()?;
        let location = optional_free_text(self.location.as_deref(), "location", limits::LOCATION)?;
        let consent = parse_consent(ticket_type, self.consent.as_ref())?;
        let submitted_by = optional_text(self.submitted_by.as_deref(), "submitted_by", limits::NAME)?
            .unwrap_or_else(|| customer.name.clone());
        let (priority, priority_derived) = match self.priority.as_deref() {
            Some(p) => (Priority::parse(p, "priority")?, false),
            None => (policy.derive(ticket_type, &title, &description, customer.level.as_deref()), true),
        };
        Ok(NewTicket {
            channel,
            ticket_type,
            priority,
            priority_derived,
            title,
            description,
            customer,
            service_number,
            occurred_at,
            location,
            consent,
            submitted_by,
            deadlines: Vec::new(),
            next_alert_at: None,
            business_line: optional_text(self.business_line.as_deref(), "business_line", limits::LEVEL)?,
            store: self.store_code()?,
            incident: None,
            order: None,
            email: None,
            email_message_id: None,
        })
    }
}

impl IntakeRequest {
    /// Every field error of the request at once (`parse` stops at the
    /// first), so that a form can mark all its wrong fields together. Each
    /// field is checked on its own, with the same rules as `parse`.
    pub fn field_errors(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        let mut check = |r: Result<(), FieldError>| {
            if let Err(e) = r {
                out.push(e);
            }
        };
        let channel = self.channel.as_deref().ok_or_else(|| FieldError::required("channel"));
        check(channel.and_then(|c| Channel::parse(c, "channel")).map(drop));
        let ticket_type = self
            .ticket_type
            .as_deref()
            .ok_or_else(|| FieldError::required("type"))
            .and_then(|t| TicketType::parse(t, "type"));
        check(ticket_type.clone().map(drop));
        check(required_free_text(self.title.as_deref(), "title", limits::TITLE).map(drop));
        check(required_free_text(self.description.as_deref(), "description", limits::DESCRIPTION).map(drop));
        match &self.customer {
            None => check(Err(FieldError::required("customer"))),
            Some(c) => {
                check(required_text(c.name.as_deref(), "customer.name", limits::NAME).map(drop));
                let phone = c.phone.as_deref().ok_or_else(|| FieldError::required("customer.phone"));
                check(phone.and_then(|p| Phone::parse(p, "customer.phone")).map(drop));
                if let Some(raw) = c.id_number.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                    check(IdNumber::parse(raw, "customer.id_number").map(drop));
                }
                check(optional_text(c.address.as_deref(), "customer.address", limits::ADDRESS).map(drop));
                check(optional_text(c.level.as_deref(), "customer.level", limits::LEVEL).map(drop));
            }
        }
        check(optional_text(self.service_number.as_deref(), "service_number", limits::SERVICE_NUMBER).map(drop));
        check(self.occurred_at.as_deref().map(|t| parse_time(t, "occurred_at")).transpose().map(drop));
        check(optional_free_text(self.location.as_deref(), "location", limits::LOCATION).map(drop));
        if let Ok(t) = ticket_type {
            check(parse_consent(t, self.consent.as_ref()).map(drop));
        }
        check(optional_text(self.submitted_by.as_deref(), "submitted_by", limits::NAME).map(drop));
        check(self.priority.as_deref().map(|p| Priority::parse(p, "priority")).transpose().map(drop));
        check(optional_text(self.business_line.as_deref(), "business_line", limits::LEVEL).map(drop));
        check(self.store_code().map(drop));
        out
    }
}

impl CustomerInput {
    pub fn parse(&self) -> Result<NewCustomer, FieldError> {
        let phone_raw = self.phone.as_deref().ok_or_else(|| FieldError::required("customer.phone"))?;
        Ok(NewCustomer {
            name: required_text(self.name.as_deref(), "customer.name", limits::NAME)?,
            phone: Phone::parse(phone_raw, "customer.phone")?,
            id_number: match self.id_number.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(raw) => Some(IdNumber::parse(raw, "customer.id_number")?),
            },
            address: optional_text(self.address.as_deref(), "customer.address", limits::ADDRESS)?,
            level: optional_text(self.level.as_deref(), "customer.level", limits::LEVEL)?,
        })
    }
}

/// Unsubscribe needs the customer's explicit consent; other types may
/// not carry one.
fn parse_consent(ticket_type: TicketType, raw: Option<&ConsentInput>) -> Result<Option<Consent>, FieldError> {
    let Some(raw) = raw else {
        if ticket_type == TicketType::Unsubscribe {
            return Err(FieldError::new(
                "consent",
                "an unsubscribe needs the customer's consent record {method, at, evidence}",
                "退订必须提供客户同意记录 {method, at, evidence}",
            ));
        }
        return Ok(None);
    };
    let method = required_text(raw.method.as_deref(), "consent.method", 20)?;
    if !CONSENT_METHODS.contains(&method.as_str()) {
        return Err(FieldError::new(
            "consent.method",
            format!("consent method must be one of: {}", CONSENT_METHODS.join(", ")),
            "同意方式必须是 phone（电话）、online（线上）或 written（书面）之一",
        ));
    }
    let at = parse_time(raw.at.as_deref().ok_or_else(|| FieldError::required("consent.at"))?, "consent.at")?;
    let evidence = required_free_text(raw.evidence.as_deref(), "consent.evidence", limits::EVIDENCE)?;
    Ok(Some(Consent { method, at, evidence }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PriorityPolicy {
        PriorityPolicy {
            default: Priority::Normal,
            rules: vec![crate::priority::PriorityRule {
                priority: Priority::Urgent,
                types: vec![TicketType::Complaint],
                keywords: vec![],
                customer_levels: vec![],
            }],
        }
    }

    /// `field_errors` lists every wrong field, agrees with `parse` on
    /// whether a request is valid, and holds the error `parse` reports.
    #[test]
    fn every_wrong_field_is_listed_and_parse_agrees() {
        let ok = request();
        assert!(ok.field_errors().is_empty() && ok.parse(&policy()).is_ok());
        let mut bad = request();
        bad.title = Some("  ".into());
        bad.description = None;
        bad.channel = Some("pigeon".into());
        if let Some(c) = bad.customer.as_mut() {
            c.phone = Some("12345".into());
            c.id_number = Some("110105".into());
        }
        let fields: Vec<String> = bad.field_errors().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["channel", "title", "description", "customer.phone", "customer.id_number"]);
        assert!(fields.contains(&bad.parse(&policy()).unwrap_err().field));
        let mut one = request();
        one.priority = Some("whenever".into());
        let first = one.parse(&policy()).unwrap_err();
        assert_eq!(one.field_errors(), vec![first]);
    }

    fn request() -> IntakeRequest {
        IntakeRequest {
            channel: Some("phone".into()),
            ticket_type: Some("complaint".into()),
            title: Some("宽带频繁掉线".into()),
            description: Some("近三天晚上八点后宽带频繁掉线".into()),
            customer: Some(CustomerInput {
                name: Some("张三".into()),
                phone: Some("13812345678".into()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn valid_request_parses_and_derives_priority() {
        let t = request().parse(&policy()).unwrap();
        assert_eq!(t.priority, Priority::Urgent);
        assert!(t.priority_derived);
        assert_eq!(t.submitted_by, "张三");
        let mut r = request();
        r.priority = Some("normal".into());
        let t = r.parse(&policy()).unwrap();
        assert_eq!(t.priority, Priority::Normal);
        assert!(!t.priority_derived);
    }

    fn field_of(r: IntakeRequest) -> String {
        r.parse(&policy()).unwrap_err().field
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut r = request();
        r.channel = Some("fax".into());
        assert_eq!(field_of(r), "channel");
        let mut r = request();
        r.ticket_type = None;
        assert_eq!(field_of(r), "type");
        let mut r = request();
        r.title = Some("x".repeat(201));
        assert_eq!(field_of(r), "title");
        let mut r = request();
        r.description = Some("x".repeat(10_001));
        assert_eq!(field_of(r), "description");
        let mut r = request();
        r.customer = None;
        assert_eq!(field_of(r), "customer");
        let mut r = request();
        r.customer.as_mut().unwrap().phone = Some("123".into());
        assert_eq!(field_of(r), "customer.phone");
        let mut r = request();
        r.customer.as_mut().unwrap().id_number = Some("110105194912310021".into());
        assert_eq!(field_of(r), "customer.id_number");
        let mut r = request();
        r.priority = Some("asap".into());
        assert_eq!(field_of(r), "priority");
        let mut r = request();
        r.occurred_at = Some("yesterday".into());
        assert_eq!(field_of(r), "occurred_at");
    }

    #[test]
    fn unsubscribe_requires_consent() {
        let mut r = request();
        r.ticket_type = Some("unsubscribe".into());
        assert_eq!(field_of(r.clone()), "consent");
        r.consent = Some(ConsentInput {
            method: Some("fax".into()),
            at: Some("2026-11-22T08:00:00Z".into()),
            evidence: Some("录音 REC-1".into()),
        });
        assert_eq!(field_of(r.clone()), "consent.method");
        r.consent.as_mut().unwrap().method = Some("phone".into());
        let t = r.parse(&policy()).unwrap();
        assert_eq!(t.consent.unwrap().evidence, "录音 REC-1");
    }
}
