//! Report exports over HTTP: asked for, made by the background job
//! with progress, downloaded when ready; every row there, masked per the
//! role that asked, in CSV and XLSX; recorded in the access log; nobody
//! else's to read.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Read;

async fn ask(app: &TestApp, who: &str, body: Value) -> Value {
    let (s, b) = app.post(who, "/api/v1/reports/exports", body.clone()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{body} → {b}");
    assert_eq!(b["state"], "queued", "{b}");
    b
}

async fn download(app: &TestApp, who: &str, status: &Value) -> (String, Vec<u8>) {
    let url = status["download_url"].as_str().unwrap_or_else(|| panic!("not ready: {status}"));
    let r = app.client.get(format!("{}{url}", app.base)).bearer_auth(&app.tokens[who]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let kind = r.headers()["content-type"].to_str().unwrap().to_string();
    (kind, r.bytes().await.unwrap().to_vec())
}

/// The rows of the first worksheet of an XLSX file, as text cells.
fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut xml = String::new();
    zip.by_name("xl/worksheets/sheet1.xml").unwrap().read_to_string(&mut xml).unwrap();
    xml.split("<row ")
        .skip(1)
        .map(|row| {
            row.split("<c ")
                .skip(1)
                .map(|c| {
                    let inner = |tag: &str| {
                        c.split_once(&format!("<{tag}>"))
                            .and_then(|(_, r)| r.split_once(&format!("</{tag}>")).map(|(v, _)| v))
                    };
                    inner("t").or_else(|| inner("v")).unwrap_or("").to_string()
                })
                .collect()
        })
        .collect()
}

async fn every_ticket_is_exported_masked_in_csv_and_xlsx(app: TestApp, count: usize) {
    (app.seed)(count).await;
    let csv = ask(&app, "agent1", json!({"kind": "tickets", "format": "csv"})).await;
    let xlsx = ask(&app, "supervisor1", json!({"kind": "tickets", "format": "xlsx", "type": "fault"})).await;
    // Before the job: waiting, no link.
    let (_, st) = app.get("agent1", &format!("/api/v1/reports/exports/{}", csv["id"])).await;
    assert!(st["download_url"].is_null() && st["progress"] == 0.0, "{st}");
    assert_eq!((app.exports)().await, 2);
    let (_, st) = app.get("agent1", &format!("/api/v1/reports/exports/{}", csv["id"])).await;
    assert_eq!(
        (st["state"].as_str(), st["progress"].as_f64(), st["total_rows"].as_i64()),
        (Some("done"), Some(1.0), Some(count as i64)),
        "{st}"
    );
    let (kind, bytes) = download(&app, "agent1", &st).await;
    assert!(kind.starts_with("text/csv"), "{kind}");
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), count + 1, "every ticket, and the header");
    assert!(lines[0].starts_with("工单编号,登记时间,渠道,类型"), "{}", lines[0]);
    // Agents see phone numbers masked; every number is there once.
    let numbers: std::collections::HashSet<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(numbers.len(), count);
    assert!(
        lines[1..].iter().all(|l| l.contains("****") && l.contains("电话") && l.contains("故障报修")),
        "{}",
        lines[1]
    );

    // Someone else's export is not theirs to read.
    let (s, _) = app.get("agent2", &format!("/api/v1/reports/exports/{}", csv["id"])).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, st) = app.get("supervisor1", &format!("/api/v1/reports/exports/{}", xlsx["id"])).await;
    let (kind, bytes) = download(&app, "supervisor1", &st).await;
    assert!(kind.starts_with("application/vnd.openxmlformats"), "{kind}");
    let rows = xlsx_rows(&bytes);
    assert_eq!(rows.len(), count + 1);
    assert_eq!(rows[0][0], "工单编号");
    // Asked for and downloaded: both in the access log.
    let (_, log) = app.get("admin", "/api/v1/access-log?per_page=20").await;
    let entries: Vec<&Value> = log["items"].as_array().unwrap().iter().filter(|e| e["action"] == "export").collect();
    assert!(entries.iter().any(|e| e["reason"] == "download"), "{log}");
    assert!(entries.iter().any(|e| e["reason"] == "tickets xlsx"), "{log}");
}

async fn a_kpi_report_is_exported_as_on_screen(app: TestApp) {
    (app.seed)(30).await;
    (app.rollup)(None).await;
    let query = "metric=transfer_rate&group_by=channel&from=2026-11-01&to=2026-11-30";
    let (_, screen) = app.get("supervisor1", &format!("/api/v1/reports/kpi?{query}")).await;
    let e = ask(&app, "supervisor1", json!({"kind": "kpi", "format": "csv", "metric": "transfer_rate", "group_by": "channel", "from": "2026-11-01", "to": "2026-11-30"})).await;
    (app.exports)().await;
    let (_, st) = app.get("supervisor1", &format!("/api/v1/reports/exports/{}", e["id"])).await;
    let (_, bytes) = download(&app, "supervisor1", &st).await;
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), screen["items"].as_array().unwrap().len() + 1, "{text}");
    assert!(lines[1].starts_with("电话,Phone,0,30,"), "{text}");
    // Bad requests are named.
    for (body, field) in [
        (json!({"kind": "tickets", "format": "pdf"}), "format"),
        (json!({"kind": "people", "format": "csv"}), "kind"),
        (json!({"kind": "kpi", "format": "csv", "metric": "nope"}), "metric"),
        (json!({"kind": "tickets", "format": "csv", "status": "nope"}), "status"),
    ] {
        let (s, b) = app.post("supervisor1", "/api/v1/reports/exports", body.clone()).await;
        assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(field)), "{body}: {b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ticket_is_exported_masked_in_csv_and_xlsx_sqlite() {
    // The round trip at 100,000 rows.
    every_ticket_is_exported_masked_in_csv_and_xlsx(spawn_app_with(Backend::Sqlite, manual_dispatch()).await, 100_000)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ticket_is_exported_masked_in_csv_and_xlsx_postgres() {
    every_ticket_is_exported_masked_in_csv_and_xlsx(spawn_app_with(Backend::Postgres, manual_dispatch()).await, 1_200)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kpi_report_is_exported_as_on_screen_sqlite() {
    a_kpi_report_is_exported_as_on_screen(spawn_app_with(Backend::Sqlite, manual_dispatch()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kpi_report_is_exported_as_on_screen_postgres() {
    a_kpi_report_is_exported_as_on_screen(spawn_app_with(Backend::Postgres, manual_dispatch()).await).await;
}

async fn a_scheduled_report_is_emailed_once_to_staff(mut app: TestApp) {
    (app.seed)(12).await;
    (app.rollup)(None).await;
    let set_email =
        |who: &'static str, email: &'static str| (format!("/api/v1/users/{who}/profile"), json!({ "email": email }));
    let (path, body) = set_email("supervisor1", "wang.zhuguan@kefu.example");
    let (s, b) = app.put("admin", &path, body).await;
    assert_eq!((s, b["email"].as_str()), (StatusCode::OK, Some("wang.zhuguan@kefu.example")), "{b}");
    let (s, b) = app.put("admin", "/api/v1/users/agent2/profile", json!({"email": "not an address"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("email")), "{b}");
    // A recipient without an address is named.
    let (s, b) = app
        .post(
            "supervisor1",
            "/api/v1/reports/schedules",
            json!({"name": "日报", "frequency": "daily", "recipients": ["agent2"]}),
        )
        .await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("recipients")), "{b}");
    let (s, b) = app
        .post(
            "supervisor1",
            "/api/v1/reports/schedules",
            json!({"name": "日报", "frequency": "hourly", "recipients": ["supervisor1"]}),
        )
        .await;
    assert_eq!(b["error"]["field"], "frequency", "{s} {b}");
    let body = json!({"name": "客服中心日报", "frequency": "daily", "recipients": ["supervisor1"]});
    let (s, sched) = app.post("supervisor1", "/api/v1/reports/schedules", body).await;
    assert_eq!(s, StatusCode::CREATED, "{sched}");
    // The clock stands at 10:00 on 22 November in Shanghai: the first run is 08:00 the next day.
    assert_eq!(sched["next_run_at"], "2026-11-23T00:00:00Z", "{sched}");
    assert_eq!((app.schedules)().await, 0, "not due yet");
    app.clock.set("2026-11-23T00:00:05Z".parse().unwrap());
    assert_eq!((app.schedules)().await, 1);
    assert_eq!((app.schedules)().await, 0, "once");
    for who in ["supervisor1", "agent1"] {
        app.relogin(who).await;
    }
    let (_, list) = app.get("supervisor1", "/api/v1/reports/schedules").await;
    assert_eq!(list["items"][0]["next_run_at"], "2026-11-24T00:00:00Z", "{list}");
    // Through the outbox, to the address in the profile, every figure of the day before.
    let (sent, _, _) = (app.loop_jobs)().await;
    assert!(sent >= 1);
    let log = std::fs::read_to_string(&app.messages_log).unwrap();
    assert!(log.contains("email to wang.zhuguan@kefu.example\n[kefu] 客服中心日报 2026-11-22 — 2026-11-22"), "{log}");
    for words in ["2026-11-22", "首问解决率", "24小时解决率", "n=12"] {
        assert!(log.contains(words), "{words}: {log}");
    }
    let (s, _) = app
        .call(
            Some("agent1"),
            reqwest::Method::DELETE,
            &format!("/api/v1/reports/schedules/{}", sched["id"]),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not theirs");
    let (s, _) = app
        .call(
            Some("supervisor1"),
            reqwest::Method::DELETE,
            &format!("/api/v1/reports/schedules/{}", sched["id"]),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_report_is_emailed_once_to_staff_sqlite() {
    a_scheduled_report_is_emailed_once_to_staff(spawn_app_with(Backend::Sqlite, manual_dispatch()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_report_is_emailed_once_to_staff_postgres() {
    a_scheduled_report_is_emailed_once_to_staff(spawn_app_with(Backend::Postgres, manual_dispatch()).await).await;
}
