//! The customer's services (业务清单, R-22, R-23) and what an order does to
//! them: which services an order may name for its kind, and the changes it
//! makes once the BSS has carried it out. Pure: the store keeps the rows,
//! the service decides when an order is done.

use crate::catalogue::{Catalogue, Category, Product, ProductKind};
use crate::order::{ItemAction, Order, OrderItem, OrderKind};
use crate::{CustomerId, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Active,
    /// 停机: suspended on request or for arrears.
    Suspended,
    /// A change ordered that takes effect later (a plan change next month).
    PendingChange,
    Terminated,
}

impl ServiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Active => "active",
            ServiceState::Suspended => "suspended",
            ServiceState::PendingChange => "pending_change",
            ServiceState::Terminated => "terminated",
        }
    }

    pub fn parse(s: &str) -> Option<ServiceState> {
        [ServiceState::Active, ServiceState::Suspended, ServiceState::PendingChange, ServiceState::Terminated]
            .into_iter()
            .find(|v| v.as_str() == s.trim())
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            ServiceState::Active => ("在用", "active"),
            ServiceState::Suspended => ("停机", "suspended"),
            ServiceState::PendingChange => ("变更待生效", "change pending"),
            ServiceState::Terminated => ("已终止", "terminated"),
        }
    }

    /// Still the customer's (billed or suspended), not ended.
    pub fn live(self) -> bool {
        self != ServiceState::Terminated
    }
}

/// A change ordered for later: the product it becomes and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pending {
    pub product_code: String,
    pub fee_fen: i64,
    pub effective_at: DateTime<Utc>,
}

/// One of a customer's subscriptions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Service {
    pub id: i64,
    pub customer: CustomerId,
    pub product_code: String,
    /// The phone number, broadband account or card it runs on.
    pub service_number: String,
    pub state: ServiceState,
    pub monthly_fee_fen: i64,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// A contract (合约) that binds it until then.
    pub contract_end: Option<DateTime<Utc>>,
    /// Devices lent with it and not yet returned (optical modem, set-top box).
    pub devices_out: u32,
    pub pending: Option<Pending>,
}

impl Service {
    /// The service as it is at `now`: a pending change whose day has come
    /// is in effect, an end that has come has ended it.
    pub fn as_of(&self, now: DateTime<Utc>) -> Service {
        let mut s = self.clone();
        if let Some(p) = s.pending.take_if(|p| p.effective_at <= now) {
            s.product_code = p.product_code;
            s.monthly_fee_fen = p.fee_fen;
            if s.state == ServiceState::PendingChange {
                s.state = ServiceState::Active;
            }
        }
        if s.ended_at.is_some_and(|e| e <= now) {
            s.state = ServiceState::Terminated;
        }
        s
    }
}

/// What the customer's account holds beside services (from the BSS).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountFacts {
    /// Balance in fen: negative is owed (欠费).
    pub balance_fen: i64,
}

/// A change an order makes to the inventory, written with the ticket's change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum InventoryChange {
    Add {
        product_code: String,
        service_number: String,
        fee_fen: i64,
        started_at: DateTime<Utc>,
    },
    /// The service as it becomes: a pending change whose day has come is
    /// folded into its product and fee.
    Set {
        service: i64,
        state: ServiceState,
        product_code: String,
        fee_fen: i64,
        ended_at: Option<DateTime<Utc>>,
        pending: Option<Pending>,
    },
}

fn refuse(field: &str, en: impl Into<String>, zh: impl Into<String>) -> FieldError {
    FieldError::new(field, en, zh)
}

/// Checks an order against the customer's services and account as they are
/// at `now`: every service named is theirs and in a state the kind can
/// change, every product fits the kind; closing needs nothing outstanding.
pub fn check_order(
    catalogue: &Catalogue,
    kind: OrderKind,
    items: &[OrderItem],
    services: &[Service],
    account: &AccountFacts,
    now: DateTime<Utc>,
) -> Result<(), FieldError> {
    for (n, it) in items.iter().enumerate() {
        let field = format!("order.items[{n}]");
        let service = match it.service {
            Some(id) => Some(services.iter().find(|s| s.id == id).map(|s| s.as_of(now)).ok_or_else(|| {
                refuse(&field, format!("service {id} is not one of the customer's"), format!("业务 {id} 不属于该客户"))
            })?),
            None => None,
        };
        let product = it.product_code.as_deref().and_then(|c| catalogue.product(c));
        let current = service.as_ref().and_then(|s| catalogue.product(&s.product_code));
        check_item(kind, it, service.as_ref(), (product, current), services, now)
            .map_err(|(en, zh)| refuse(&field, en, zh))?;
    }
    if kind == OrderKind::AccountClose {
        let live: Vec<Service> = services.iter().map(|s| s.as_of(now)).filter(|s| s.state.live()).collect();
        let contract_end = live.iter().filter_map(|s| s.contract_end).max();
        let devices = live.iter().map(|s| s.devices_out).sum();
        let blockers = crate::order::close_blockers(account.balance_fen, contract_end, devices, now);
        if !blockers.is_empty() {
            let (en, zh): (Vec<String>, Vec<String>) = blockers.into_iter().unzip();
            return Err(refuse(
                "order",
                format!("the account cannot be closed yet: {}", en.join("; ")),
                format!("暂不能销户：{}", zh.join("；")),
            ));
        }
    }
    if kind == OrderKind::ArrearsRestore && account.balance_fen < 0 {
        return Err(refuse(
            "order",
            format!("{:.2} yuan is still owed", -account.balance_fen as f64 / 100.0),
            format!("尚欠费 {:.2} 元，缴清后方可复机", -account.balance_fen as f64 / 100.0),
        ));
    }
    Ok(())
}

type Why = (String, String);

fn why(en: &str, zh: &str) -> Why {
    (en.to_string(), zh.to_string())
}

/// One item against the kind's rules.
fn check_item(
    kind: OrderKind,
    it: &OrderItem,
    service: Option<&Service>,
    (product, current): (Option<&Product>, Option<&Product>),
    all: &[Service],
    now: DateTime<Utc>,
) -> Result<(), Why> {
    use ItemAction::*;
    use OrderKind::*;
    let state = service.map(|s| s.state);
    let wanted_action = match kind {
        NewInstall | VasAdd | SecondaryCard => Add,
        PlanChange | Suspend | Restore | ArrearsRestore => Modify,
        VasCancel | Unsubscribe | AccountClose => Delete,
    };
    if it.action != wanted_action {
        let a = match wanted_action {
            Add => "add",
            Modify => "modify",
            Delete => "delete",
        };
        return Err((
            format!("a {} order's items are '{a}'", kind.label().1),
            format!("{}的订单项须为 {a}", kind.label().0),
        ));
    }
    match kind {
        NewInstall if product.is_some_and(|p| p.category != Category::Basic) => {
            Err(why("a new install is of a basic product", "新装须为基础业务产品"))
        }
        SecondaryCard if product.is_some_and(|p| p.kind != ProductKind::SecondaryCard) => {
            Err(why("a secondary card order names a secondary-card product", "副卡办理须为副卡产品"))
        }
        VasAdd if product.is_some_and(|p| p.category != Category::ValueAdded) => {
            Err(why("only value-added products are added this way", "增值业务订购须为增值业务产品"))
        }
        VasAdd
            if all.iter().any(|s| {
                s.as_of(now).state.live() && Some(s.product_code.as_str()) == product.map(|p| p.code.as_str())
            }) =>
        {
            Err(why("the customer already has this product", "客户已订购该产品"))
        }
        PlanChange => match (service, product) {
            (Some(s), _) if s.state != ServiceState::Active => {
                Err(why("only an active service changes plan", "仅在用业务可变更套餐"))
            }
            (Some(s), Some(p)) if s.product_code == p.code => Err(why("that is already the plan", "已是该套餐")),
            (_, Some(p)) if p.category != Category::Basic => {
                Err(why("a plan change is to a basic product", "套餐变更须为基础业务产品"))
            }
            (_, None) => Err(why("name the new plan", "须指明新套餐")),
            _ => Ok(()),
        },
        Suspend if state != Some(ServiceState::Active) => {
            Err(why("only an active service is suspended", "仅在用业务可停机"))
        }
        Restore | ArrearsRestore if state != Some(ServiceState::Suspended) => {
            Err(why("only a suspended service is restored", "仅停机业务可复机"))
        }
        VasCancel if current.is_some_and(|p| p.category != Category::ValueAdded) => {
            Err(why("only value-added services are cancelled this way", "增值业务退订仅限增值业务"))
        }
        VasCancel | Unsubscribe | AccountClose if state.is_some_and(|s| !s.live()) => {
            Err(why("the service has already ended", "该业务已终止"))
        }
        _ => Ok(()),
    }
}

/// The changes a completed order makes, decided at `now`: new services
/// added, services suspended, restored or ended (billing stops at the
/// catalogue's effective time), plans changed from their effective day.
pub fn changes(
    catalogue: &Catalogue,
    order: &Order,
    services: &[Service],
    default_number: &str,
    now: DateTime<Utc>,
) -> Vec<InventoryChange> {
    let find = |id: Option<i64>| id.and_then(|id| services.iter().find(|s| s.id == id)).map(|s| s.as_of(now));
    let effective = |code: &str| catalogue.product(code).map_or(now, |p| p.effective_at(now));
    let mut out = Vec::new();
    for it in &order.items {
        match (order.kind, find(it.service)) {
            (OrderKind::NewInstall | OrderKind::VasAdd | OrderKind::SecondaryCard, _) => {
                let Some(p) = it.product_code.as_deref().and_then(|c| catalogue.product(c)) else { continue };
                out.push(InventoryChange::Add {
                    product_code: p.code.clone(),
                    service_number: it.service_number.clone().unwrap_or_else(|| default_number.to_string()),
                    fee_fen: p.fee_fen,
                    started_at: p.effective_at(now),
                });
            }
            (OrderKind::PlanChange, Some(s)) => {
                let Some(p) = it.product_code.as_deref().and_then(|c| catalogue.product(c)) else { continue };
                let pending =
                    Pending { product_code: p.code.clone(), fee_fen: p.fee_fen, effective_at: p.effective_at(now) };
                let (code, fee, pending) = match pending.effective_at > now {
                    true => (s.product_code.clone(), s.monthly_fee_fen, Some(pending)),
                    false => (p.code.clone(), p.fee_fen, None),
                };
                let state = if pending.is_some() { ServiceState::PendingChange } else { ServiceState::Active };
                out.push(InventoryChange::Set {
                    service: s.id,
                    state,
                    product_code: code,
                    fee_fen: fee,
                    ended_at: None,
                    pending,
                });
            }
            (OrderKind::Suspend, Some(s)) => out.push(set(&s, ServiceState::Suspended, None)),
            (OrderKind::Restore | OrderKind::ArrearsRestore, Some(s)) => out.push(set(&s, ServiceState::Active, None)),
            (OrderKind::VasCancel | OrderKind::Unsubscribe | OrderKind::AccountClose, Some(s)) => {
                let end = effective(&s.product_code);
                let state = if end <= now { ServiceState::Terminated } else { s.state };
                out.push(set(&s, state, Some(end)));
            }
            _ => {}
        }
    }
    out
}

/// `s` (as of now) in a new state, its pending change kept.
fn set(s: &Service, state: ServiceState, ended_at: Option<DateTime<Utc>>) -> InventoryChange {
    InventoryChange::Set {
        service: s.id,
        state,
        product_code: s.product_code.clone(),
        fee_fen: s.monthly_fee_fen,
        ended_at,
        pending: s.pending.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{OrderAction, OrderState};
    use crate::time::shanghai;
    use chrono::TimeZone;

    fn sh(m: u32, d: u32, h: u32) -> DateTime<Utc> {
        shanghai().with_ymd_and_hms(2026, m, d, h, 0, 0).unwrap().to_utc()
    }

    fn service(id: i64, code: &str, state: ServiceState) -> Service {
        Service {
            id,
            customer: CustomerId(1),
            product_code: code.into(),
            service_number: "13800000001".into(),
            state,
            monthly_fee_fen: Catalogue::shipped().product(code).unwrap().fee_fen,
            started_at: sh(1, 5, 10),
            ended_at: None,
            contract_end: None,
            devices_out: 0,
            pending: None,
        }
    }

    fn item(action: ItemAction, service: Option<i64>, product: Option<&str>) -> OrderItem {
        OrderItem { action, service, product_code: product.map(str::to_string), service_number: None }
    }

    fn inventory() -> Vec<Service> {
        vec![
            service(1, "PLAN-5G-129", ServiceState::Active),
            service(2, "VAS-CRBT", ServiceState::Active),
            service(3, "BB-300M", ServiceState::Suspended),
        ]
    }

    fn check(kind: OrderKind, items: &[OrderItem], balance: i64) -> Result<(), String> {
        let account = AccountFacts { balance_fen: balance };
        check_order(&Catalogue::shipped(), kind, items, &inventory(), &account, sh(12, 1, 10)).map_err(|e| e.message_zh)
    }

    #[test]
    fn each_kind_names_only_services_it_can_change() {
        use ItemAction::*;
        use OrderKind::*;
        check(PlanChange, &[item(Modify, Some(1), Some("PLAN-5G-199"))], 0).unwrap();
        assert!(check(PlanChange, &[item(Modify, Some(1), Some("PLAN-5G-129"))], 0).unwrap_err().contains("已是"));
        assert!(check(PlanChange, &[item(Modify, Some(1), Some("VAS-MUSIC"))], 0).unwrap_err().contains("基础"));
        assert!(check(PlanChange, &[item(Modify, Some(9), Some("PLAN-5G-199"))], 0).unwrap_err().contains("不属于"));
        assert!(check(PlanChange, &[item(Add, None, Some("PLAN-5G-199"))], 0).unwrap_err().contains("modify"));
        check(Suspend, &[item(Modify, Some(1), None)], 0).unwrap();
        assert!(check(Suspend, &[item(Modify, Some(3), None)], 0).is_err(), "already suspended");
        check(Restore, &[item(Modify, Some(3), None)], 0).unwrap();
        assert!(check(ArrearsRestore, &[item(Modify, Some(3), None)], -5_000).unwrap_err().contains("欠费 50.00"));
        check(VasAdd, &[item(Add, None, Some("VAS-MUSIC"))], 0).unwrap();
        assert!(check(VasAdd, &[item(Add, None, Some("VAS-CRBT"))], 0).unwrap_err().contains("已订购"));
        assert!(check(VasAdd, &[item(Add, None, Some("BB-1000M"))], 0).is_err());
        check(VasCancel, &[item(Delete, Some(2), None)], 0).unwrap();
        assert!(check(VasCancel, &[item(Delete, Some(1), None)], 0).unwrap_err().contains("增值"));
        check(Unsubscribe, &[item(Delete, Some(3), None)], 0).unwrap();
        check(NewInstall, &[item(Add, None, Some("IPTV-STD"))], 0).unwrap();
        assert!(check(NewInstall, &[item(Add, None, Some("DATA-10G"))], 0).is_err());
        check(SecondaryCard, &[item(Add, None, Some("CARD-SEC"))], 0).unwrap();
        assert!(check(SecondaryCard, &[item(Add, None, Some("PLAN-4G-59"))], 0).is_err());
    }

    #[test]
    fn closing_an_account_waits_for_balance_contract_and_devices() {
        let del = |id| item(ItemAction::Delete, Some(id), None);
        let all = [del(1), del(2), del(3)];
        check(OrderKind::AccountClose, &all, 0).unwrap();
        assert!(check(OrderKind::AccountClose, &all, -1).unwrap_err().contains("欠费 0.01"));
        let mut services = inventory();
        services[2].contract_end = Some(sh(12, 31, 0));
        services[2].devices_out = 1;
        let e = check_order(
            &Catalogue::shipped(),
            OrderKind::AccountClose,
            &all,
            &services,
            &AccountFacts::default(),
            sh(12, 1, 10),
        )
        .unwrap_err();
        assert_eq!(e.message_zh, "暂不能销户：合约期未满；有 1 台设备未归还");
        // An ended service's contract and devices no longer count.
        services[2].state = ServiceState::Terminated;
        check_order(
            &Catalogue::shipped(),
            OrderKind::AccountClose,
            &[del(1), del(2)],
            &services,
            &AccountFacts::default(),
            sh(12, 1, 10),
        )
        .unwrap();
    }

    fn order(kind: OrderKind, items: Vec<OrderItem>) -> crate::order::Order {
        crate::order::Order::new(kind, items, 0, false, sh(12, 1, 9))
    }

    #[test]
    fn a_plan_change_waits_for_the_first_of_next_month_and_an_end_stops_billing() {
        let c = Catalogue::shipped();
        let now = sh(11, 30, 23);
        let o = order(OrderKind::PlanChange, vec![item(ItemAction::Modify, Some(1), Some("PLAN-5G-199"))]);
        let ch = changes(&c, &o, &inventory(), "13800000001", now);
        let InventoryChange::Set { state, pending: Some(p), .. } = &ch[0] else { panic!("{ch:?}") };
        assert_eq!((*state, p.effective_at, p.fee_fen), (ServiceState::PendingChange, sh(12, 1, 0), 19_900));
        let mut s = inventory()[0].clone();
        s.state = ServiceState::PendingChange;
        s.pending = Some(p.clone());
        assert_eq!(s.as_of(sh(11, 30, 23)).product_code, "PLAN-5G-129", "still November in Shanghai");
        let dec = s.as_of(sh(12, 1, 0));
        assert_eq!(
            (dec.product_code.as_str(), dec.state, dec.monthly_fee_fen),
            ("PLAN-5G-199", ServiceState::Active, 19_900)
        );

        let o = order(OrderKind::VasCancel, vec![item(ItemAction::Delete, Some(2), None)]);
        let ch = changes(&c, &o, &inventory(), "13800000001", now);
        assert_eq!(
            ch,
            [InventoryChange::Set {
                service: 2,
                state: ServiceState::Terminated,
                product_code: "VAS-CRBT".into(),
                fee_fen: c.product("VAS-CRBT").unwrap().fee_fen,
                ended_at: Some(now),
                pending: None
            }]
        );

        let o = order(
            OrderKind::SecondaryCard,
            vec![OrderItem {
                service_number: Some("13900000002".into()),
                ..item(ItemAction::Add, None, Some("CARD-SEC"))
            }],
        );
        let InventoryChange::Add { service_number, fee_fen, started_at, .. } =
            &changes(&c, &o, &[], "13800000001", now)[0]
        else {
            panic!()
        };
        assert_eq!(
            (service_number.as_str(), *fee_fen, *started_at),
            ("13900000002", c.product("CARD-SEC").unwrap().fee_fen, now)
        );
        let o = order(OrderKind::Suspend, vec![item(ItemAction::Modify, Some(1), None)]);
        assert!(matches!(
            changes(&c, &o, &inventory(), "x", now)[0],
            InventoryChange::Set { state: ServiceState::Suspended, .. }
        ));
    }

    #[test]
    fn an_order_moves_by_people_then_by_the_bss_and_ignores_stale_reports() {
        let t = sh(12, 1, 9);
        let o = crate::order::Order::new(OrderKind::AccountClose, vec![], 0, true, t);
        assert_eq!(o.state, OrderState::AwaitingApproval);
        assert!(o.act(OrderAction::Submit, "a", "GD1", t).is_err(), "not before approval");
        let o = o.act(OrderAction::Approve, "sup", "GD1", t).unwrap();
        let o = o.act(OrderAction::Submit, "a", "GD1", t).unwrap();
        assert_eq!((o.state, o.id.as_deref()), (OrderState::Submitted, Some("GD1-1")));
        assert!(o.act(OrderAction::Revoke, "a", "GD1", t).is_err(), "not while the BSS has it");
        assert!(o.report("GD1-0", OrderState::Completed, None, None, t).is_none(), "another try's id");
        let o = o.report("GD1-1", OrderState::InProgress, Some("B-9"), None, t).unwrap();
        assert!(o.report("GD1-1", OrderState::Acknowledged, None, None, t).is_none(), "late acknowledgement");
        let failed = o.report("GD1-1", OrderState::Failed, None, Some("BSS down"), t).unwrap();
        assert!(failed.report("GD1-1", OrderState::Completed, None, None, t).is_none(), "settled");
        let again = failed.act(OrderAction::Retry, "a", "GD1", t).unwrap();
        assert_eq!(
            (again.id.as_deref(), again.reason.as_deref(), again.bss_ref.as_deref()),
            (Some("GD1-2"), None, None)
        );
        assert_eq!(failed.act(OrderAction::Revoke, "a", "GD1", t).unwrap().state, OrderState::Revoked);
        // Never taken by the BSS (unreachable): tried again under the same id.
        let lost = again.report("GD1-2", OrderState::Failed, None, Some("timeout"), t).unwrap();
        assert_eq!(lost.act(OrderAction::Retry, "a", "GD1", t).unwrap().id.as_deref(), Some("GD1-2"));
    }
}
