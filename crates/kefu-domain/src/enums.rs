//! The closed vocabularies of the API: channels, ticket types,
//! priorities and staff roles. Each parses from its API name and
//! carries its Chinese label.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what_en:literal, $what_zh:literal,
     { $($variant:ident = ($api:literal, $zh:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $api),+ }
            }

            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }

            /// Parses the API name; the error names `field` and lists the
            /// accepted values.
            pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
                match raw {
                    $($api => Ok($name::$variant),)+
                    _ => {
                        let allowed: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                        Err(FieldError::new(
                            field,
                            format!("unknown {} '{}'; expected one of: {}", $what_en, raw, allowed.join(", ")),
                            format!("未知的{}“{}”，可选值：{}", $what_zh, raw, allowed.join("、")),
                        ))
                    }
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// Intake channel (受理渠道), R-1.
    Channel, "channel", "受理渠道", {
        Phone = ("phone", "电话"),
        Web = ("web", "网站"),
        App = ("app", "APP"),
        Wechat = ("wechat", "微信公众号/小程序"),
        Sms = ("sms", "短信"),
        Email = ("email", "邮件"),
        SelfService = ("self_service", "自助终端"),
        Store = ("store", "营业厅柜台"),
        Community = ("community", "社区服务点"),
        Onsite = ("onsite", "上门服务"),
    }
);

vocabulary!(
    /// Ticket type (工单类型), R-4. Each type has its own flow.
    TicketType, "ticket type", "工单类型", {
        Complaint = ("complaint", "投诉"),
        Consultation = ("consultation", "咨询"),
        Business = ("business", "业务办理"),
        Account = ("account", "账户管理"),
        ServiceRequest = ("service_request", "服务申请"),
        Fault = ("fault", "故障报修"),
        Unsubscribe = ("unsubscribe", "退订"),
    }
);

vocabulary!(
    /// Priority (优先级), R-5.
    Priority, "priority", "优先级", {
        Urgent = ("urgent", "紧急"),
        Important = ("important", "重要"),
        Normal = ("normal", "常规"),
    }
);

vocabulary!(
    /// Staff role (角色), R-16.
    Role, "role", "角色", {
        Agent = ("agent", "客服专员"),
        Engineer = ("engineer", "服务工程师"),
        ComplaintSpecialist = ("complaint_specialist", "投诉处理专员"),
        Supervisor = ("supervisor", "客服主管"),
        Inspector = ("inspector", "质检员"),
        Admin = ("admin", "系统管理员"),
    }
);

impl Role {
    /// The support tier a role works at (L1/L2/L3); None for non-handling roles.
    pub fn tier(self) -> Option<u8> {
        match self {
            Role::Agent => Some(1),
            Role::Engineer => Some(2),
            Role::ComplaintSpecialist => Some(3),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str(), "channel").unwrap(), *c);
        }
        for t in TicketType::ALL {
            assert_eq!(TicketType::parse(t.as_str(), "type").unwrap(), *t);
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str(), "role").unwrap(), *r);
        }
        assert_eq!(Channel::ALL.len(), 10);
        assert_eq!(TicketType::ALL.len(), 7);
    }

    #[test]
    fn unknown_value_names_field_and_choices() {
        let e = Channel::parse("fax", "channel").unwrap_err();
        assert_eq!(e.field, "channel");
        assert!(e.message.contains("phone, web"));
        assert!(e.message_zh.contains("未知"));
    }

    #[test]
    fn serde_uses_api_names() {
        assert_eq!(serde_json::to_string(&TicketType::ServiceRequest).unwrap(), "\"service_request\"");
        assert_eq!(serde_json::to_string(&Channel::SelfService).unwrap(), "\"self_service\"");
    }
}
