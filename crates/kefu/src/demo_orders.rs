//! Demo data of issue 20: the services of the demo customers, as the
//! operator's BSS would export them (`kefu inventory import` takes the same
//! CSV), and two orders waiting for an agent: a plan change and the
//! unsubscribe of a value-added service, each with the customer's consent.

use crate::sample::Rng;
use anyhow::{Result, anyhow};
use kefu_domain::intake::IntakeRequest;
use kefu_server::Kefu;
use kefu_store::{Store, TicketFilter};
use serde_json::json;

const PLANS: &[&str] = &["PLAN-5G-129", "PLAN-5G-199", "PLAN-4G-59"];
const EXTRAS: &[&str] = &["VAS-CRBT", "VAS-MUSIC", "DATA-10G", "SMS-100", "IPTV-STD"];

pub async fn seed<S: Store>(kefu: &Kefu<S>) -> Result<()> {
    let page = kefu.store.list_tickets(TicketFilter { page: 1, per_page: 80, ..Default::default() }).await?;
    let mut phones: Vec<(String, String)> =
        page.items.iter().map(|t| (t.customer.phone.as_str().to_string(), t.customer.name.clone())).collect();
    phones.sort();
    phones.dedup_by(|a, b| a.0 == b.0);
    let mut rng = Rng::new(20);
    let mut csv =
        String::from("phone,name,product_code,service_number,state,started_at,contract_end,devices_out,balance\n");
    for (i, (phone, name)) in phones.iter().enumerate() {
        let name = name.replace([',', '"'], " ");
        let balance = if i % 9 == 4 { "-38.50" } else { "12.00" };
        csv.push_str(&format!("{phone},{name},{},{phone},在用,2025-0{}-01,,0,{balance}\n", rng.pick(PLANS), 1 + i % 9));
        if i % 2 == 0 {
            let contract = if i % 4 == 0 { "2027-06-30" } else { "" };
            csv.push_str(&format!("{phone},{name},BB-300M,KD{:06},在用,2025-03-15,{contract},1,\n", 100_000 + i));
        }
        csv.push_str(&format!("{phone},{name},{},{phone},在用,2025-06-01,,0,\n", rng.pick(EXTRAS)));
    }
    let counts = kefu.import_inventory(&csv).await.map_err(|e| anyhow!(e.to_string()))?;
    println!("imported {} demo services / 已导入 {} 条演示业务", counts.added, counts.added);
    let agent = crate::demo::actor(kefu, "agent1").await?;
    let Some((phone, name)) = phones.first() else { return Ok(()) };
    let customer = kefu.store.customer_by_phone(phone).await?.ok_or_else(|| anyhow!("demo customer missing"))?;
    let services = kefu.store.services(customer.id).await?;
    let consent = json!({"method": "phone", "at": kefu.now() - chrono::Duration::minutes(10), "evidence": "录音编号 REC20261201001"});
    let mut orders = Vec::new();
    if let Some(plan) = services.iter().find(|s| s.product_code.starts_with("PLAN-")) {
        let to = PLANS.iter().find(|p| **p != plan.product_code).copied().unwrap_or("PLAN-5G-199");
        orders.push((
            "business",
            "套餐变更",
            json!({"kind": "plan_change", "items": [{"action": "modify", "service": plan.id, "product_code": to}]}),
        ));
    }
    if let Some(vas) =
        services.iter().find(|s| EXTRAS.contains(&s.product_code.as_str()) && s.product_code != "IPTV-STD")
    {
        orders.push((
            "unsubscribe",
            "退订增值业务",
            json!({"kind": "unsubscribe", "items": [{"action": "delete", "service": vas.id}]}),
        ));
    }
    for (ticket_type, title, order) in orders {
        let req: IntakeRequest = serde_json::from_value(json!({
            "channel": "phone", "type": ticket_type, "title": title,
            "description": format!("客户来电要求{title}，已核实身份并录音确认"),
            "customer": {"name": name, "phone": phone}, "service_number": phone,
            "consent": consent, "order": order,
        }))?;
        kefu.create_ticket(&agent, &req, None).await.map_err(|e| anyhow!(e.to_string()))?;
    }
    Ok(())
}
