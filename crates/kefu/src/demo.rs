//! `kefu serve --demo`: demo staff with fresh printed passwords, and, on an
//! empty database, a few hundred realistic tickets of every type, channel
//! and state, spread over the last 30 days. Everything goes through the
//! ticket service, so demo tickets carry real audit chains.

use crate::sample::{self, Rng};
use anyhow::Result;
use chrono::Duration;
use kefu_domain::Role;
use kefu_domain::clock::FixedClock;
use kefu_domain::flow::Actor;
use kefu_server::Kefu;
use kefu_store::{Store, Written};
use serde_json::{Value, json};
use std::sync::Arc;

const STAFF: &[(&str, &str, Role)] = &[
    ("agent1", "王小明", Role::Agent),
    ("agent2", "李娜", Role::Agent),
    ("engineer1", "张建国", Role::Engineer),
    ("engineer2", "陈志强", Role::Engineer),
    ("specialist1", "刘敏", Role::ComplaintSpecialist),
    ("supervisor1", "赵海燕", Role::Supervisor),
    ("inspector1", "孙晓东", Role::Inspector),
    ("admin", "系统管理员", Role::Admin),
];

const DEMO_TICKETS: usize = 300;

fn password() -> Result<String> {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(format!("Kefu-{:02x}{:02x}-{:02x}{:02x}", b[0], b[1], b[2], b[3]))
}

pub async fn seed<S: Store>(kefu: &Kefu<S>) -> Result<()> {
    println!("演示账号 Demo staff (passwords are new on every --demo start):");
    for (username, name, role) in STAFF {
        let pw = password()?;
        match kefu.store.user_by_username(username).await? {
            Some(_) => kefu.set_password(username, &pw).await.map_err(|e| anyhow::anyhow!(e.to_string()))?,
            None => {
                kefu.add_user(username, *role, Some(name), &pw).await.map_err(|e| anyhow::anyhow!(e.to_string()))?;
            }
        }
        println!("  {username:<12} {pw}   {} {name}", role.label_zh());
    }
    seed_kb(kefu).await?;
    if kefu.store.ticket_count().await? == 0 {
        seed_org(kefu).await?;
        seed_macros(kefu).await?;
        let n = seed_tickets(kefu).await?;
        println!("created {n} demo tickets / 已生成 {n} 张演示工单");
        crate::demo_quality::seed(kefu).await?;
        crate::demo_incidents::seed(kefu).await?;
        crate::demo_orders::seed(kefu).await?;
    }
    Ok(())
}

pub(crate) async fn actor<S: Store>(kefu: &Kefu<S>, username: &str) -> Result<Actor> {
    let u =
        kefu.store.user_by_username(username).await?.ok_or_else(|| anyhow::anyhow!("demo user {username} missing"))?;
    Ok(Actor::new(u.id, u.username, u.role))
}

/// Stands for whoever automatic dispatch gave the ticket to.
const HANDLER: &str = "@handler";
/// Stands for the agent who registered the ticket (首问), who closes the
/// loop with the customer: need to know lets the ticket's own people act.
const REGISTRAR: &str = "@registrar";

/// Stands for a colleague of the handler's (the other engineer), who takes
/// over a transferred ticket.
const COLLEAGUE: &str = "@colleague";

/// How the customer answered the return visit: mostly content, not always
/// (satisfaction, NPS, comment), or not reached at all.
fn visit(rng: &mut Rng) -> Value {
    const ANSWERS: &[(i64, i64, &str)] = &[
        (5, 10, "客户对处理结果满意"),
        (5, 10, "工程师很专业，谢谢"),
        (5, 9, "处理及时，态度很好"),
        (5, 9, "问题已解决"),
        (5, 9, "满意"),
        (5, 8, "解决了，还算快"),
        (4, 9, "满意，希望以后少出故障"),
        (4, 8, "基本满意，希望上门更准时"),
        (4, 7, "满意，但等待时间偏长"),
        (3, 6, "一般，来回沟通多次"),
        (2, 3, "处理时间过长，多次催促才解决"),
        (1, 1, "问题反复出现，很不满意"),
    ];
    if rng.below(12) == 0 {
        return json!({"action": "return_visit", "method": "phone", "reached": false, "comment": "三次致电无人接听"});
    }
    let (satisfaction, nps, comment) = *rng.pick(ANSWERS);
    json!({"action": "return_visit", "method": "phone", "reached": true, "satisfaction": satisfaction, "nps": nps, "comment": comment})
}

/// The steps that take a ticket of a type to archived: (who, action body).
/// Some tickets are transferred on the way, some appealed (and reopened,
/// their plan ends there), some visits do not reach the customer.
fn steps(ticket_type: &str, rng: &mut Rng) -> Vec<(&'static str, Value)> {
    let h = HANDLER;
    let appealed = ticket_type != "unsubscribe" && rng.below(20) == 0;
    let visit = visit(rng);
    let reached = visit["reached"] == true;
    let mut close = vec![(REGISTRAR, json!({"action": "notify_result", "method": "phone"}))];
    if appealed {
        close.push((REGISTRAR, json!({"action": "appeal", "reason": "客户表示问题仍未解决，要求重新处理"})));
    } else {
        close.push((REGISTRAR, json!({"action": "confirm"})));
        close.push((REGISTRAR, visit));
        if reached {
            close.push(("supervisor1", json!({"action": "review", "passed": true, "comment": "处理及时规范"})));
            close.push(("supervisor1", json!({"action": "archive"})));
        }
    }
    let mut v = match ticket_type {
        "unsubscribe" => {
            return vec![
                (REGISTRAR, json!({"action": "approve"})),
                (REGISTRAR, json!({"action": "resolve", "result": "已为客户退订该业务，次月起不再收费"})),
                (REGISTRAR, json!({"action": "notify_result", "method": "phone"})),
                ("supervisor1", json!({"action": "review", "passed": true})),
                ("supervisor1", json!({"action": "archive"})),
            ];
        }
        "business" => vec![("supervisor1", json!({"action": "approve", "comment": "资料齐全，同意办理"}))],
        _ => vec![],
    };
    v.push((h, json!({"action": "start"})));
    if ticket_type == "fault" && rng.below(6) == 0 {
        v.push((
            h,
            json!({"action": "transfer", "to": COLLEAGUE, "reason": "需要网络维护组现场处理", "mode": "phone"}),
        ));
        v.push((COLLEAGUE, json!({"action": "accept_transfer"})));
    }
    v.push((h, json!({"action": "resolve", "result": "已核实并处理完毕，已电话告知客户处理结果"})));
    v.extend(close);
    v
}

/// Departments, teams with leads, and the staff in them.
async fn seed_org<S: Store>(kefu: &Kefu<S>) -> Result<()> {
    let e = |e: kefu_server::error::ApiError| anyhow::anyhow!(e.to_string());
    for (code, name) in [("service", "客服部"), ("technical", "技术部"), ("complaints", "投诉处理中心")] {
        kefu.create_department(Some(code), Some(name)).await.map_err(e)?;
    }
    let teams = [
        ("service", "hotline", "热线一组", "supervisor1", &["agent1", "agent2", "supervisor1"][..]),
        ("technical", "network", "网络维护组", "engineer1", &["engineer1", "engineer2"][..]),
        ("complaints", "complaint", "投诉处理组", "specialist1", &["specialist1"][..]),
    ];
    for (dept, code, name, lead, members) in teams {
        kefu.create_team(Some(dept), Some(code), Some(name), Some(lead)).await.map_err(e)?;
        for m in members {
            let mut p = serde_json::Map::new();
            p.insert("team".into(), json!(code));
            kefu.set_profile(m, &p, None).await.map_err(e)?;
        }
    }
    Ok(())
}

/// The demo knowledge base: the articles of `seed/kb` in this source tree,
/// once (an operator's own knowledge base comes by `kefu kb import`).
async fn seed_kb<S: Store>(kefu: &Kefu<S>) -> Result<()> {
    let empty = kefu.store.articles(kefu_store::ArticleFilter { page: 1, per_page: 1, ..Default::default() }).await?;
    if empty.total > 0 {
        return Ok(());
    }
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../seed/kb"));
    if !dir.is_dir() {
        println!("no demo knowledge base at {} / 未找到演示知识库", dir.display());
        return Ok(());
    }
    let (added, _) = crate::kb::import(kefu, dir).await?;
    println!("imported {added} knowledge base articles / 已导入 {added} 篇知识库文章");
    Ok(())
}

/// The hotline's shared canned replies, as a supervisor keeps them.
async fn seed_macros<S: Store>(kefu: &Kefu<S>) -> Result<()> {
    let supervisor = actor(kefu, "supervisor1").await?;
    let shared = [
        ("受理致歉", "{customer}您好，非常抱歉给您带来不便，您的工单{number}已受理，我们会尽快处理。", None),
        ("上门预约", "{customer}您好，工程师将联系您预约上门时间，请保持电话畅通。", None),
        ("投诉加急", "{customer}您好，您反映的问题已按加急处理，专人跟进。", Some("urgent")),
        ("待客户回电", "已致电客户未接通，短信提醒客户回电。", None),
    ];
    for (name, body, priority) in shared {
        let input = kefu_domain::macros::MacroInput {
            name: Some(name.into()),
            shared: Some(true),
            body: Some(body.into()),
            internal: Some(name == "待客户回电"),
            priority: priority.map(Into::into),
        };
        kefu.create_macro(&supervisor, input).await.map_err(|e| anyhow::anyhow!(e.to_string()))?;
    }
    Ok(())
}

async fn seed_tickets<S: Store>(kefu: &Kefu<S>) -> Result<usize> {
    let start = kefu.now() - Duration::days(30);
    let clock = Arc::new(FixedClock::new(start));
    let demo = Kefu::new(
        kefu.store.clone(),
        kefu.core.flows.clone(),
        kefu.core.policy.clone(),
        clock.clone(),
        kefu.core.settings.clone(),
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let mut rng = Rng::new(20261122);
    let registrar = [actor(kefu, "agent1").await?, actor(kefu, "agent2").await?];
    let step_minutes = Duration::minutes(30 * 24 * 60 / DEMO_TICKETS as i64);
    for i in 0..DEMO_TICKETS {
        clock.set(start + step_minutes * i as i32);
        let req = sample::intake(&mut rng);
        let ticket_type = req.ticket_type.clone().unwrap_or_default();
        let who = &registrar[i % 2];
        let Written::New { ticket, .. } =
            demo.create_ticket(who, &req, None).await.map_err(|e| anyhow::anyhow!(e.to_string()))?
        else {
            continue;
        };
        let plan = steps(&ticket_type, &mut rng);
        // Some tickets wait days for their result: deadlines breached, as in a real month.
        // (Not the last days: a result is never dated after today.)
        let slow = rng.below(8) == 0 && i < DEMO_TICKETS * 22 / 30;
        // Older tickets have gone further; a few stay where they are.
        let age_share = (i as f64 / DEMO_TICKETS as f64).min(0.999);
        let depth = ((1.0 - age_share) * (plan.len() + 2) as f64) as usize + rng.below(3);
        // Dispatched at registration; a ticket nobody could take waits in its queue.
        if ticket.assignee.is_none() {
            continue;
        }
        for (who, mut body) in plan.into_iter().take(depth) {
            let late = slow && body["action"] == "resolve";
            clock.advance(if late { Duration::days(6) } else { Duration::minutes(5 + rng.below(90) as i64) });
            if late {
                // The watcher notices what ran out meanwhile, as it would have
                // every minute: breaches recorded, notices sent, escalations.
                if let Err(e) = demo.raise_sla_alerts(ticket.id).await {
                    tracing::info!(ticket = %ticket.number, error = %e, "demo alerts refused");
                }
            }
            // Who holds the ticket now (a transfer changes it), and their colleague.
            let org = demo.org().await.map_err(|e| anyhow::anyhow!(e.to_string()))?;
            let now = demo.ticket(&ticket.id.to_string()).await.map_err(|e| anyhow::anyhow!(e.to_string()))?;
            let handler = now.assignee.map(|u| org.username(u)).unwrap_or_default();
            let colleague = if handler == "engineer1" { "engineer2" } else { "engineer1" };
            if body["to"] == COLLEAGUE {
                body["to"] = json!(colleague);
            }
            let name = match who {
                HANDLER => handler.as_str(),
                COLLEAGUE => colleague,
                REGISTRAR => registrar[i % 2].username.as_str(),
                other => other,
            };
            let a = actor(kefu, name).await?;
            let map = body.as_object().cloned().unwrap_or_default();
            // A step the rules refuse (a colleague at capacity …) ends this
            // ticket's story where it is; the demo goes on.
            if let Err(e) = demo.act(&a, &ticket.id.to_string(), &map, None).await {
                tracing::info!(ticket = %ticket.number, step = %body["action"], error = %e, "demo ticket stops here");
                break;
            }
        }
    }
    Ok(DEMO_TICKETS)
}
