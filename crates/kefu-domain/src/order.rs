//! Orders against the customer's services: what a business or
//! unsubscribe ticket asks the BSS to do, and the rules around it — consent
//! in both directions (nothing value-added added or removed without the
//! customer's recorded, recent consent), who must approve, and the
//! preconditions of closing an account. Pure rules; the service keeps the
//! inventory and drives the BSS port.

use crate::catalogue::{Catalogue, Category};
use crate::ticket::Consent;
use crate::{FieldError, TicketType};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    NewInstall,
    PlanChange,
    Suspend,
    Restore,
    ArrearsRestore,
    VasAdd,
    VasCancel,
    SecondaryCard,
    AccountClose,
    Unsubscribe,
}

impl OrderKind {
    pub const ALL: [OrderKind; 10] = [
        OrderKind::NewInstall,
        OrderKind::PlanChange,
        OrderKind::Suspend,
        OrderKind::Restore,
        OrderKind::ArrearsRestore,
        OrderKind::VasAdd,
        OrderKind::VasCancel,
        OrderKind::SecondaryCard,
        OrderKind::AccountClose,
        OrderKind::Unsubscribe,
    ];

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            OrderKind::NewInstall => ("新装", "new install"),
            OrderKind::PlanChange => ("套餐变更", "plan change"),
            OrderKind::Suspend => ("停机", "suspension"),
            OrderKind::Restore => ("复机", "restoration"),
            OrderKind::ArrearsRestore => ("欠费复机", "restoration after arrears"),
            OrderKind::VasAdd => ("增值业务订购", "value-added service added"),
            OrderKind::VasCancel => ("增值业务退订", "value-added service cancelled"),
            OrderKind::SecondaryCard => ("副卡办理", "secondary card"),
            OrderKind::AccountClose => ("销户", "account closing"),
            OrderKind::Unsubscribe => ("退订", "unsubscribe"),
        }
    }

    /// The ticket type that carries it.
    pub fn ticket_type(self) -> TicketType {
        match self {
            OrderKind::Unsubscribe | OrderKind::VasCancel => TicketType::Unsubscribe,
            OrderKind::AccountClose => TicketType::Account,
            _ => TicketType::Business,
        }
    }

    /// Adds or removes something the customer pays for beyond the basics,
    /// or ends their service: needs their recorded consent.
    pub fn needs_consent(self) -> bool {
        matches!(self, OrderKind::VasAdd | OrderKind::VasCancel | OrderKind::Unsubscribe | OrderKind::AccountClose)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemAction {
    Add,
    Modify,
    Delete,
}

/// One line of an order: a product added, a service changed or ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderItem {
    pub action: ItemAction,
    /// The customer's service it changes (modify, delete).
    #[serde(default)]
    pub service: Option<i64>,
    /// The product added or changed to (add, modify).
    #[serde(default)]
    pub product_code: Option<String>,
    /// The number a new service runs on (a secondary card's, a broadband
    /// account); absent: the customer's own number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_number: Option<String>,
}

/// Where an order stands: approval, then the BSS's hands, then done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// A supervisor must approve it first (policy).
    AwaitingApproval,
    /// May be carried out by the handler.
    Ready,
    /// Handed to the BSS (or queued to be).
    Submitted,
    Acknowledged,
    InProgress,
    Completed,
    /// The BSS refused or gave up; the handler may try again or revoke it.
    Failed,
    /// Withdrawn, by the customer or the handler, before it was carried out.
    Revoked,
}

impl OrderState {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::AwaitingApproval => "awaiting_approval",
            OrderState::Ready => "ready",
            OrderState::Submitted => "submitted",
            OrderState::Acknowledged => "acknowledged",
            OrderState::InProgress => "in_progress",
            OrderState::Completed => "completed",
            OrderState::Failed => "failed",
            OrderState::Revoked => "revoked",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            OrderState::AwaitingApproval => ("待审批", "awaiting approval"),
            OrderState::Ready => ("待执行", "ready"),
            OrderState::Submitted => ("已提交", "submitted"),
            OrderState::Acknowledged => ("BSS已受理", "acknowledged by the BSS"),
            OrderState::InProgress => ("BSS处理中", "in progress at the BSS"),
            OrderState::Completed => ("已完成", "completed"),
            OrderState::Failed => ("执行失败", "failed"),
            OrderState::Revoked => ("已撤销", "revoked"),
        }
    }

    /// In the BSS's hands: nobody changes it until the BSS reports.
    pub fn in_flight(self) -> bool {
        matches!(self, OrderState::Submitted | OrderState::Acknowledged | OrderState::InProgress)
    }

    /// The steps a person may take on an order in this state.
    pub fn steps(self) -> &'static [&'static str] {
        match self {
            OrderState::AwaitingApproval => &["approve", "revoke"],
            OrderState::Ready => &["submit", "revoke"],
            OrderState::Failed => &["retry", "revoke"],
            _ => &[],
        }
    }

    /// Nothing more happens to it (a failed order may still be tried again).
    pub fn settled(self) -> bool {
        matches!(self, OrderState::Completed | OrderState::Failed | OrderState::Revoked)
    }
}

/// The order a business, account or unsubscribe ticket carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    pub kind: OrderKind,
    pub items: Vec<OrderItem>,
    pub state: OrderState,
    /// The BSS's idempotency key, `{ticket number}-{round}`: set when it is
    /// handed over, new for each try after a failure.
    pub id: Option<String>,
    pub round: u32,
    /// Monthly fee change, fen (products added minus services ended).
    pub fee_change_fen: i64,
    pub needs_approval: bool,
    pub approved_by: Option<String>,
    /// The BSS's own id of the order.
    pub bss_ref: Option<String>,
    /// When its changes take effect (billing stops, the new plan starts).
    pub effective_at: Option<DateTime<Utc>>,
    /// Why it failed or was revoked.
    pub reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// What a person does to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAction {
    Approve,
    Submit,
    Retry,
    Revoke,
}

impl OrderAction {
    pub fn parse(s: &str) -> Result<OrderAction, FieldError> {
        match s.trim() {
            "approve" => Ok(OrderAction::Approve),
            "submit" => Ok(OrderAction::Submit),
            "retry" => Ok(OrderAction::Retry),
            "revoke" => Ok(OrderAction::Revoke),
            other => Err(FieldError::new(
                "action",
                format!("unknown order action '{other}' (approve, submit, retry, revoke)"),
                format!("未知的订单操作“{other}”（approve、submit、retry、revoke）"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderAction::Approve => "approve",
            OrderAction::Submit => "submit",
            OrderAction::Retry => "retry",
            OrderAction::Revoke => "revoke",
        }
    }
}

impl Order {
    pub fn new(
        kind: OrderKind,
        items: Vec<OrderItem>,
        fee_change_fen: i64,
        needs_approval: bool,
        now: DateTime<Utc>,
    ) -> Order {
        Order {
            kind,
            items,
            state: if needs_approval { OrderState::AwaitingApproval } else { OrderState::Ready },
            id: None,
            round: 0,
            fee_change_fen,
            needs_approval,
            approved_by: None,
            bss_ref: None,
            effective_at: None,
            reason: None,
            updated_at: now,
        }
    }

    /// The order after a person's action, or why it cannot be taken now
    /// (the states it can be taken from, in words).
    pub fn act(&self, action: OrderAction, by: &str, number: &str, now: DateTime<Utc>) -> Result<Order, FieldError> {
        use OrderState::*;
        let mut o = Order { updated_at: now, ..self.clone() };
        match (action, self.state) {
            (OrderAction::Approve, AwaitingApproval) => {
                o.state = Ready;
                o.approved_by = Some(by.to_string());
            }
            (OrderAction::Submit, Ready) | (OrderAction::Retry, Failed) => {
                // A try the BSS never took keeps its id: had it arrived after
                // all, the BSS knows it by that id and does not do it twice.
                if o.id.is_none() || o.bss_ref.is_some() {
                    o.round += 1;
                    o.id = Some(format!("{number}-{}", o.round));
                }
                o.state = Submitted;
                o.bss_ref = None;
                o.reason = None;
            }
            (OrderAction::Revoke, AwaitingApproval | Ready | Failed) => o.state = Revoked,
            (a, s) => {
                let (zh, en) = s.label();
                return Err(FieldError::new(
                    "action",
                    format!("the order is {en}: '{}' is not possible now", a.as_str()),
                    format!("订单当前为“{zh}”，不能执行此操作"),
                ));
            }
        }
        Ok(o)
    }

    /// The order after the BSS reported `state` for order id `id`; None when
    /// the report changes nothing (a repeated callback, an older try's id,
    /// an order already settled).
    pub fn report(
        &self,
        id: &str,
        state: OrderState,
        bss_ref: Option<&str>,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Option<Order> {
        if self.id.as_deref() != Some(id)
            || !self.state.in_flight()
            || state == self.state
            || !order_follows(self.state, state)
        {
            return None;
        }
        Some(Order {
            state,
            bss_ref: bss_ref.map(str::to_string).or_else(|| self.bss_ref.clone()),
            reason: reason.map(str::to_string).or_else(|| self.reason.clone()),
            updated_at: now,
            ..self.clone()
        })
    }
}

/// The BSS moves an order forward only: submitted → acknowledged → in
/// progress → completed or failed (a late "acknowledged" after "in
/// progress" is ignored).
fn order_follows(from: OrderState, to: OrderState) -> bool {
    let rank = |s: OrderState| match s {
        OrderState::Submitted => 1,
        OrderState::Acknowledged => 2,
        OrderState::InProgress => 3,
        OrderState::Completed | OrderState::Failed => 4,
        _ => 0,
    };
    rank(to) > rank(from)
}

/// The `order` of a ticket as it arrives at intake.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    pub kind: Option<OrderKind>,
    /// Closing an account may leave them out: every service is ended.
    #[serde(default)]
    pub items: Vec<OrderItem>,
}

impl OrderInput {
    /// The kind and items, checked against the ticket's type and the catalogue.
    pub fn parse(
        &self,
        ticket_type: TicketType,
        catalogue: &Catalogue,
    ) -> Result<(OrderKind, Vec<OrderItem>), FieldError> {
        let kind = self.kind.ok_or_else(|| FieldError::required("order.kind"))?;
        if kind.ticket_type() != ticket_type {
            return Err(FieldError::new(
                "order.kind",
                format!("a {} order is carried by a {} ticket", kind.label().1, kind.ticket_type().as_str()),
                format!("{}订单须由“{}”类工单承载", kind.label().0, kind.ticket_type().label_zh()),
            ));
        }
        if !(kind == OrderKind::AccountClose && self.items.is_empty()) {
            check_items(catalogue, &self.items)?;
        }
        Ok((kind, self.items.clone()))
    }
}

/// The order rules, as policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrderPolicy {
    /// A consent older than this is no consent (the customer is asked again).
    pub consent_max_days: u32,
    /// Orders a supervisor must approve, whatever the fee.
    pub supervisor_kinds: Vec<OrderKind>,
    /// Orders whose monthly fee change is above this (fen) need a supervisor.
    pub supervisor_above_fen: i64,
    /// Attempts to hand an order to the BSS before it fails.
    pub bss_retries: u32,
    /// The wait after the first failed attempt; doubled each time.
    pub bss_retry_seconds: u32,
    /// How often an order in the BSS's hands is asked after without a callback.
    pub bss_poll_seconds: u32,
}

impl Default for OrderPolicy {
    fn default() -> Self {
        OrderPolicy {
            consent_max_days: 30,
            supervisor_kinds: vec![OrderKind::AccountClose],
            supervisor_above_fen: 20_000,
            bss_retries: 5,
            bss_retry_seconds: 30,
            bss_poll_seconds: 60,
        }
    }
}

/// The items, checked against the catalogue: add needs a product, delete a
/// service, modify both; every product exists.
pub fn check_items(catalogue: &Catalogue, items: &[OrderItem]) -> Result<(), FieldError> {
    if items.is_empty() || items.len() > 50 {
        return Err(FieldError::new("order.items", "an order has 1 to 50 items", "订单须有 1 至 50 项"));
    }
    for (n, it) in items.iter().enumerate() {
        let field = format!("order.items[{n}]");
        let (needs_product, needs_service) = match it.action {
            ItemAction::Add => (true, false),
            // A plan change names the new plan; suspension and restoration
            // none (inventory::check_order knows the kind).
            ItemAction::Modify => (false, true),
            ItemAction::Delete => (false, true),
        };
        if needs_service && it.service.is_none() {
            return Err(FieldError::new(
                &field,
                "name the service (from the customer's services)",
                "须指明客户的在用业务",
            ));
        }
        match (&it.product_code, needs_product) {
            (None, true) => return Err(FieldError::new(&field, "name the product", "须指明产品编码")),
            (Some(code), _) if catalogue.product(code).is_none() => {
                return Err(FieldError::new(&field, format!("no product '{code}'"), format!("产品“{code}”不存在")));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Why a consent does not cover an order made at `now`, if it does not.
pub fn consent_refusal(policy: &OrderPolicy, consent: Option<&Consent>, now: DateTime<Utc>) -> Option<FieldError> {
    let Some(c) = consent else {
        return Some(FieldError::new(
            "consent",
            "the customer's consent is required (method, time, evidence)",
            "须有客户本人同意记录（方式、时间、凭证）",
        ));
    };
    let age = now - c.at;
    if age > Duration::days(i64::from(policy.consent_max_days)) || age < -Duration::minutes(5) {
        return Some(FieldError::new(
            "consent.at",
            format!(
                "the consent is older than {} days (or in the future): ask the customer again",
                policy.consent_max_days
            ),
            format!("客户同意已超过 {} 天（或时间在未来），须重新征得同意", policy.consent_max_days),
        ));
    }
    if c.evidence.trim().is_empty() {
        return Some(FieldError::new(
            "consent.evidence",
            "name the evidence (recording id, form)",
            "须填写同意凭证（录音编号、签字单）",
        ));
    }
    None
}

/// Whether a supervisor must approve: by kind, or a fee change above the threshold.
pub fn needs_supervisor(policy: &OrderPolicy, kind: OrderKind, fee_change_fen: i64) -> bool {
    policy.supervisor_kinds.contains(&kind) || fee_change_fen.abs() > policy.supervisor_above_fen
}

/// The fee change of an order: products added minus services ended, fen per month.
pub fn fee_change(catalogue: &Catalogue, items: &[OrderItem], ended_fees: &[i64]) -> i64 {
    let added: i64 = items
        .iter()
        .filter(|i| matches!(i.action, ItemAction::Add | ItemAction::Modify))
        .filter_map(|i| i.product_code.as_deref().and_then(|c| catalogue.product(c)))
        .map(|p| p.fee_fen)
        .sum();
    added - ended_fees.iter().sum::<i64>()
}

/// Whether an order adds or removes a value-added product (consent either way).
pub fn touches_value_added(catalogue: &Catalogue, items: &[OrderItem], ended: &[Category]) -> bool {
    ended.contains(&Category::ValueAdded)
        || items.iter().any(|i| {
            i.product_code
                .as_deref()
                .and_then(|c| catalogue.product(c))
                .is_some_and(|p| p.category == Category::ValueAdded)
        })
}

/// What closing an account needs: no balance owed, the contract over,
/// devices returned. Each unmet one, in words.
pub fn close_blockers(
    balance_fen: i64,
    contract_end: Option<DateTime<Utc>>,
    devices_out: u32,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if balance_fen < 0 {
        out.push((
            format!("{:.2} yuan is owed", -balance_fen as f64 / 100.0),
            format!("尚欠费 {:.2} 元", -balance_fen as f64 / 100.0),
        ));
    }
    if contract_end.is_some_and(|end| end > now) {
        out.push(("the contract has not ended".into(), "合约期未满".into()));
    }
    if devices_out > 0 {
        out.push((format!("{devices_out} devices not returned"), format!("有 {devices_out} 台设备未归还")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(d: i64) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, 2, 0, 0).unwrap() + Duration::days(d)
    }

    fn consent(days_ago: i64, evidence: &str) -> Consent {
        Consent { method: "phone".into(), at: at(-days_ago), evidence: evidence.into() }
    }

    fn item(action: ItemAction, service: Option<i64>, product: Option<&str>) -> OrderItem {
        OrderItem { action, service, product_code: product.map(str::to_string), service_number: None }
    }

    #[test]
    fn consent_is_required_recent_and_evidenced() {
        let p = OrderPolicy::default();
        assert_eq!(crate::policy::Policy::defaults().orders, p, "the shipped file is the default");
        assert_eq!(consent_refusal(&p, None, at(0)).unwrap().field, "consent");
        assert_eq!(consent_refusal(&p, Some(&consent(31, "REC1")), at(0)).unwrap().field, "consent.at");
        assert_eq!(
            consent_refusal(&p, Some(&consent(-1, "REC1")), at(0)).unwrap().field,
            "consent.at",
            "not in the future"
        );
        assert_eq!(consent_refusal(&p, Some(&consent(2, "  ")), at(0)).unwrap().field, "consent.evidence");
        assert!(consent_refusal(&p, Some(&consent(30, "录音编号 REC1")), at(0)).is_none());
        assert!(OrderKind::VasAdd.needs_consent() && OrderKind::Unsubscribe.needs_consent());
        assert!(!OrderKind::PlanChange.needs_consent());
        assert_eq!(OrderKind::VasCancel.ticket_type(), TicketType::Unsubscribe);
    }

    #[test]
    fn items_are_checked_against_the_catalogue_and_priced() {
        let c = Catalogue::shipped();
        assert!(check_items(&c, &[]).is_err());
        assert_eq!(check_items(&c, &[item(ItemAction::Delete, None, None)]).unwrap_err().field, "order.items[0]");
        assert!(check_items(&c, &[item(ItemAction::Add, None, Some("NOPE"))]).unwrap_err().message_zh.contains("NOPE"));
        let change = [item(ItemAction::Modify, Some(7), Some("PLAN-5G-199"))];
        check_items(&c, &change).unwrap();
        // From the 129 plan to the 199 one: +70 yuan a month.
        assert_eq!(fee_change(&c, &change, &[12_900]), 7_000);
        let p = OrderPolicy::default();
        assert!(!needs_supervisor(&p, OrderKind::PlanChange, 7_000));
        assert!(needs_supervisor(&p, OrderKind::PlanChange, 20_001));
        assert!(needs_supervisor(&p, OrderKind::AccountClose, 0));
        assert!(touches_value_added(&c, &[item(ItemAction::Add, None, Some("VAS-CRBT"))], &[]));
        assert!(touches_value_added(&c, &[item(ItemAction::Delete, Some(3), None)], &[Category::ValueAdded]));
        assert!(!touches_value_added(&c, &change, &[Category::Basic]));
    }

    #[test]
    fn closing_an_account_lists_what_is_still_open() {
        assert!(close_blockers(0, Some(at(-1)), 0, at(0)).is_empty());
        let b = close_blockers(-1_250, Some(at(30)), 1, at(0));
        let zh: Vec<&str> = b.iter().map(|(_, zh)| zh.as_str()).collect();
        assert_eq!(zh, ["尚欠费 12.50 元", "合约期未满", "有 1 台设备未归还"]);
    }
}
