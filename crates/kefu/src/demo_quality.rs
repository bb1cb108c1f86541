//! The demo's quality data: a dozen stores in three regions inspected last
//! month and this, last month graded, one failing this month (its
//! rectification open); requests taken at store counters; QA reviews of
//! resolved demo tickets; an innovation entry. All through the service, as
//! an inspector or agent would.

use crate::sample::Rng;
use anyhow::{Result, anyhow};
use chrono::Datelike;
use kefu_domain::quality::{Cycle, Scorecard, SectionKind};
use kefu_server::Kefu;
use kefu_store::{Store, TicketFilter};
use serde_json::{Map, Value, json};

const STORES: &[(&str, &str, &str, &str)] = &[
    ("GZ-TH01", "天河体育中心营业厅", "广州", "黄丽"),
    ("GZ-YX02", "越秀北京路营业厅", "广州", "周强"),
    ("GZ-HZ03", "海珠江南西营业厅", "广州", "吴芳"),
    ("GZ-BY04", "白云机场路营业厅", "广州", "郑伟"),
    ("SZ-FT01", "福田华强北营业厅", "深圳", "冯静"),
    ("SZ-NS02", "南山科技园营业厅", "深圳", "陈涛"),
    ("SZ-LH03", "罗湖东门营业厅", "深圳", "褚红"),
    ("SZ-BA04", "宝安中心营业厅", "深圳", "卫东"),
    ("FS-CC01", "禅城祖庙营业厅", "佛山", "蒋敏"),
    ("FS-NH02", "南海桂城营业厅", "佛山", "沈军"),
    ("FS-SD03", "顺德大良营业厅", "佛山", "韩梅"),
    ("FS-SS04", "三水西南营业厅", "佛山", "杨帆"),
];

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!(e.to_string())
}

/// Answers to every standard and red-line item: mostly full, some points
/// lost (with a reason where the card asks for one).
fn answers(card: &Scorecard, rng: &mut Rng, strict: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for (s, i) in card.items() {
        match s.kind {
            SectionKind::Standard => {
                let lose = if rng.below(if strict { 3 } else { 5 }) == 0 { (i.points / 2.0).floor() } else { 0.0 };
                let mut a = json!({"item": i.key, "points": i.points - lose});
                if lose > 0.0 {
                    a["reason"] = json!("抽查发现不足，已当场指出");
                    if let Some(c) = i.root_causes.first() {
                        a["root_cause"] = json!(c);
                    }
                }
                out.push(a);
            }
            SectionKind::RedLine => out.push(json!({"item": i.key, "points": i.points})),
            SectionKind::Bonus if rng.below(6) == 0 => out.push(json!({"item": i.key, "points": i.points})),
            _ => {}
        }
    }
    out
}

/// A failing inspection: the first five standard items earn nothing.
fn failing(card: &Scorecard) -> Vec<Value> {
    let mut out = Vec::new();
    let mut zeroed = 0;
    for (s, i) in card.items() {
        match s.kind {
            SectionKind::Standard if zeroed < 5 => {
                zeroed += 1;
                out.push(json!({"item": i.key, "points": 0, "reason": "检查发现不合格，限期整改"}));
            }
            SectionKind::Standard | SectionKind::RedLine => out.push(json!({"item": i.key, "points": i.points})),
            _ => {}
        }
    }
    out
}

fn body(pairs: Value) -> Map<String, Value> {
    pairs.as_object().cloned().unwrap_or_default()
}

pub async fn seed<S: Store>(kefu: &Kefu<S>) -> Result<()> {
    let inspector = crate::demo::actor(kefu, "inspector1").await?;
    let mut rng = Rng::new(20261201);
    let today = kefu_domain::time::shanghai_date(kefu.now());
    let this = Cycle::Month { year: today.year(), month: today.month() };
    let (first, _) = this.days();
    let last = this.containing(first.pred_opt().ok_or_else(|| anyhow!("no day before {first}"))?);
    let cards = kefu.scorecards().await.map_err(err)?;
    let card =
        |k: &str| cards.iter().find(|(v, _)| v.key == k).map(|(_, c)| c.clone()).ok_or_else(|| anyhow!("no {k}"));
    let (store_card, review_card) = (card("store_inspection")?, card("ticket_review")?);
    for (n, (code, name, region, manager)) in STORES.iter().enumerate() {
        kefu.create_outlet(&body(json!({"code": code, "name": name, "region": region, "manager": manager})))
            .await
            .map_err(err)?;
        for period in [last, this] {
            let strict = n % 4 == 3;
            let items = answers(&store_card, &mut rng, strict);
            let b = body(json!({"scorecard": "store_inspection", "period": period.to_string(), "items": items}));
            kefu.inspect(&inspector, code, &b, None).await.map_err(err)?;
        }
    }
    kefu.grade_stores(&inspector, &last.to_string()).await.map_err(err)?;
    let (code, ..) = STORES[STORES.len() - 1];
    let b = body(json!({"scorecard": "store_inspection", "period": this.to_string(), "items": failing(&store_card)}));
    kefu.inspect(&inspector, code, &b, None).await.map_err(err)?;
    // Requests taken at store counters, listed on each store's page.
    let agent = crate::demo::actor(kefu, "agent1").await?;
    for (code, ..) in STORES.iter().take(4) {
        let mut req = crate::sample::intake(&mut rng);
        req.channel = Some("store".into());
        req.store = Some(code.to_string());
        kefu.create_ticket(&agent, &req, None).await.map_err(err)?;
    }
    // QA reviews of a sample of resolved tickets.
    let resolved = kefu
        .store
        .list_tickets(TicketFilter { status: Some("resolved".into()), page: 1, per_page: 12, ..Default::default() })
        .await?;
    for t in resolved.items {
        let b = body(json!({"ticket": t.number, "items": answers(&review_card, &mut rng, false)}));
        if let Err(e) = kefu.review_ticket(&inspector, &b, None).await {
            tracing::info!(ticket = %t.number, error = %e, "demo review skipped");
        }
    }
    let supervisor = crate::demo::actor(kefu, "supervisor1").await?;
    let entry = json!({"agent": "agent1", "title": "宽带故障自助排查话术（首解率提升）", "points": 40});
    kefu.record_innovation(&supervisor, &body(entry)).await.map_err(err)?;
    Ok(())
}
