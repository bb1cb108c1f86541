//! Staff notices (站内通知) a change causes, decided inside the change's
//! decision so they commit with it: the new handler of a dispatch, the
//! receivers of a transfer, the first-contact owner of every transfer and
//! of the result, the supervisors of an escalation to them, the lead
//! of a queue a ticket waits in, colleagues mentioned in a note, and the
//! recipients of SLA warnings and breaches.

use crate::directory::OrgSnapshot;
use kefu_domain::action::ActionKind;
use kefu_domain::flow::Actor;
use kefu_domain::sla::{Alert, Recipient};
use kefu_domain::templates::Templates;
use kefu_domain::ticket::Ticket;
use kefu_domain::{Role, UserId};
use kefu_store::NewNotice;

/// Notices for one change, at most one per person and kind, never to the actor.
pub struct Notices {
    actor: UserId,
    out: Vec<NewNotice>,
}

impl Notices {
    pub fn new(actor: UserId) -> Notices {
        Notices { actor, out: Vec::new() }
    }

    pub fn add(&mut self, who: impl IntoIterator<Item = UserId>, kind: &str, en: &str, zh: &str) {
        for user in who {
            if user != self.actor && !self.out.iter().any(|n| n.user == user && n.kind == kind) {
                self.out.push(NewNotice { user, kind: kind.into(), message: en.into(), message_zh: zh.into() });
            }
        }
    }

    pub fn into_vec(self) -> Vec<NewNotice> {
        self.out
    }
}

/// What an action tells whom.
pub fn for_action(
    org: &OrgSnapshot,
    texts: &Templates,
    before: &Ticket,
    after: &Ticket,
    action: ActionKind,
    actor: &Actor,
) -> Vec<NewNotice> {
    let n = &after.number;
    let who = &actor.username;
    let mut out = Notices::new(actor.id);
    let new_handler = after.assignee.filter(|a| before.assignee != Some(*a));
    match action {
        ActionKind::Dispatch | ActionKind::Redispatch => out.add(
            new_handler,
            "dispatch",
            &format!("ticket {n} was dispatched to you by {who}"),
            &format!("工单 {n} 已由 {who} 派给您处理"),
        ),
        ActionKind::Transfer => {
            let receivers = after
                .transfer_to
                .map_or_else(|| org.members(after.transfer_team, after.transfer_department), |u| vec![u]);
            let text = texts.render("staff_transfer", "zh", &[("number", n), ("by", who)]);
            out.add(receivers, "transfer", &text.body_en, &text.body);
            out.add(
                [after.first_owner],
                "transfer",
                &format!("your ticket {n} was transferred by {who}"),
                &format!("您首问的工单 {n} 已由 {who} 发起转派"),
            );
        }
        ActionKind::AcceptTransfer | ActionKind::RejectTransfer => {
            let (en, zh) =
                if action == ActionKind::AcceptTransfer { ("accepted", "接收") } else { ("rejected", "拒绝") };
            out.add(
                [after.first_owner].into_iter().chain(before.assignee),
                &format!("transfer_{en}"),
                &format!("{who} {en} the transfer of ticket {n}"),
                &format!("{who} 已{zh}工单 {n} 的转派"),
            );
        }
        ActionKind::Escalate => {
            out.add(
                new_handler,
                "escalation",
                &format!("ticket {n} was escalated to you (L{})", after.tier),
                &format!("工单 {n} 已升级至您处理（L{}）", after.tier),
            );
            if after.unassignable {
                out.add(
                    org.lead_or_supervisors(after.team),
                    "queued",
                    &format!("ticket {n} was escalated to L{} but nobody is free; it waits in the queue", after.tier),
                    &format!("工单 {n} 已升级至 L{}，但暂无可派人员，已进入班组队列", after.tier),
                );
            }
            out.add(
                [after.first_owner],
                "escalation",
                &format!("your ticket {n} was escalated by {who}"),
                &format!("您首问的工单 {n} 已由 {who} 升级"),
            );
        }
        ActionKind::Resolve => out.add(
            [after.first_owner],
            "resolved",
            &format!("your ticket {n} was resolved by {who}"),
            &format!("您首问的工单 {n} 已由 {who} 办结"),
        ),
        _ => {}
    }
    if after.supervised && !before.supervised {
        supervised(org, after, &mut out);
    }
    out.into_vec()
}

/// The supervisors hear that a ticket needs them (主管督办), and the
/// first-contact owner that it was escalated.
pub fn supervised(org: &OrgSnapshot, t: &Ticket, out: &mut Notices) {
    let n = &t.number;
    out.add(
        org.with_role(Role::Supervisor),
        "supervised",
        &format!("ticket {n} is escalated to the supervisors"),
        &format!("工单 {n} 已升级至主管督办"),
    );
    out.add(
        [t.first_owner],
        "supervised",
        &format!("your ticket {n} is escalated to the supervisors"),
        &format!("您首问的工单 {n} 已升级至主管督办"),
    );
}

/// Whom an SLA recipient names on this ticket.
pub fn recipients(org: &OrgSnapshot, t: &Ticket, who: &[Recipient]) -> Vec<UserId> {
    let mut out: Vec<UserId> = Vec::new();
    for r in who {
        let ids = match r {
            Recipient::Owner => vec![t.assignee.unwrap_or(t.first_owner)],
            Recipient::FirstOwner => vec![t.first_owner],
            Recipient::TeamLead => org.lead_or_supervisors(t.team),
            Recipient::Supervisor => org.with_role(Role::Supervisor),
        };
        for id in ids {
            if !out.contains(&id) {
                out.push(id);
            }
        }
    }
    out
}

/// The notices of SLA alerts, worded by the `staff_sla_warning` and
/// `staff_sla_breach` templates.
pub fn for_alerts(org: &OrgSnapshot, texts: &Templates, t: &Ticket, alerts: &[Alert], out: &mut Notices) {
    for a in alerts {
        let due = kefu_domain::time::shanghai_short(a.due_at);
        let kind = if a.level == "warning" { "sla_warning" } else { "sla_breach" };
        let vars = [
            ("number", t.number.as_str()),
            ("kind", a.kind.as_str()),
            ("label_zh", a.label_zh.as_str()),
            ("due", &due),
        ];
        let text = texts.render(&format!("staff_{kind}"), "zh", &vars);
        out.add(recipients(org, t, &a.notify), kind, &text.body_en, &text.body);
    }
}
