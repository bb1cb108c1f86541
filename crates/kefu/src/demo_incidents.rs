//! Demo data of issue 19: a broadband outage in 朝阳区 declared, confirmed
//! and being repaired, with its emergency plan running, a note, the
//! customers told, and the tickets of the next callers linked at intake
//! (the banner agents see on the intake page); and a security incident in
//! the register for the administrators.

use crate::sample::Rng;
use anyhow::{Result, anyhow};
use kefu_server::Kefu;
use kefu_store::Store;
use serde_json::{Map, Value, json};

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!(e.to_string())
}

fn body(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

pub async fn seed<S: Store>(kefu: &Kefu<S>) -> Result<()> {
    let sup = crate::demo::actor(kefu, "supervisor1").await?;
    let agent = crate::demo::actor(kefu, "agent1").await?;
    let started = kefu.now() - chrono::Duration::minutes(50);
    let eta = kefu.now() + chrono::Duration::hours(3);
    let declared = json!({
        "type": "outage", "severity": "major", "title": "朝阳区望京片区光缆中断",
        "scope": {"regions": ["朝阳区"], "services": ["宽带"], "elements": ["OLT-WJ-07"]},
        "started_at": started, "eta": eta, "note": "网管告警：OLT-WJ-07 上联光缆中断，抢修队已出发",
    });
    let i = kefu.create_incident(&sup, &body(declared)).await.map_err(err)?;
    let id = i["id"].as_i64().ok_or_else(|| anyhow!("no incident id"))?;
    for action in [json!({"action": "confirm"}), json!({"action": "start_playbook"})] {
        kefu.incident_action(&sup, id, &body(action)).await.map_err(err)?;
    }
    let check = json!({"action": "check_step", "step": "confirm_scope", "note": "影响望京西路沿线约 1,800 户宽带"});
    kefu.incident_action(&sup, id, &body(check)).await.map_err(err)?;
    // The next callers from the district: linked as they are registered.
    let mut rng = Rng::new(19);
    for n in 0..6 {
        let mut req = crate::sample::intake(&mut rng);
        req.ticket_type = Some("fault".into());
        req.title = Some("宽带无法上网".into());
        req.description = Some("客户反映家中宽带突然无法上网，光猫LOS灯红色闪烁。".into());
        req.business_line = Some("宽带".into());
        if let Some(c) = req.customer.as_mut() {
            c.address = Some(format!("北京市朝阳区望京西路{}号", 10 + n));
        }
        kefu.create_ticket(&agent, &req, None).await.map_err(err)?;
    }
    let notify = json!({"action": "notify", "text": "您好，朝阳区望京片区因光缆中断宽带暂时无法使用，我们正在全力抢修，预计今晚恢复。"});
    kefu.incident_action(&sup, id, &body(notify)).await.map_err(err)?;
    let lost = json!({
        "kind": "lost_device", "severity": "minor", "title": "营业厅登记用平板遗失",
        "description": "望京营业厅一台用于业务登记的平板遗失，设备已开启锁屏密码，已申请远程擦除。",
        "affected_records": 0, "affected_customers": 0,
    });
    kefu.report_security_incident(&agent, &body(lost)).await.map_err(err)?;
    let v = kefu.incident_view(id).await.map_err(err)?;
    let (number, linked) = (v["number"].as_str().unwrap_or(""), &v["children"]["total"]);
    println!("demo incident {number} with {linked} linked tickets / 演示重大故障 {number} 已关联 {linked} 张工单");
    Ok(())
}
