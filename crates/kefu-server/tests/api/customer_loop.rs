//! The customer loop over HTTP and the portal pages, with real deliveries:
//! e-mail to a real SMTP server (aiosmtpd, started here) and SMS to a
//! local HTTP gateway that records what it gets and answers with message
//! ids, then sends delivery receipts back.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const RECEIPT_TOKEN: &str = "receipt-secret";

struct Loop {
    app: TestApp,
    sms: SmsGateway,
    smtp: SmtpSink,
}

async fn start(backend: Backend, fail_first: usize) -> Loop {
    let (sms, url) = SmsGateway::start(fail_first).await;
    let smtp = SmtpSink::start().await;
    let delivery: DeliveryConfig = toml::from_str(&format!(
        r#"
        retry_base_seconds = 30
        [smtp]
        host = "127.0.0.1"
        port = {}
        tls = "none"
        from = "客服中心 <kefu@example.com>"
        [sms]
        url = "{url}"
        headers = {{ "X-Api-Key" = "k-123" }}
        to_field = "mobile"
        text_field = "content"
        extra = {{ sign_name = "客服中心" }}
        response_id = "data.sms_id"
        receipt_id_field = "sms_id"
        receipt_status_field = "report_status"
        receipt_token = "{RECEIPT_TOKEN}"
        "#,
        smtp.port
    ))
    .unwrap();
    let app = spawn_app_delivering(backend, manual_dispatch(), delivery).await;
    Loop { app, sms, smtp }
}

fn link_in(text: &str) -> String {
    let at = text.find("/portal/t/").unwrap_or_else(|| panic!("no portal link in {text}"));
    text[at..].split(|c: char| c.is_whitespace() || c == '，' || c == '。').next().unwrap().to_string()
}

async fn page(app: &TestApp, path: &str) -> (StatusCode, String) {
    let r = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Posts a portal form; the portal answers with a redirect (not followed).
async fn form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client.post(format!("{}{path}", app.base)).form(fields).send().await.unwrap();
    let status = r.status();
    let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    (status, location.unwrap_or(r.text().await.unwrap()))
}

async fn ticket(app: &TestApp, id: &Value) -> Value {
    app.get("supervisor1", &format!("/api/v1/tickets/{id}")).await.1
}

async fn handled(app: &TestApp, ticket_type: &str, handler: &str) -> Value {
    let t = app.create("agent1", ticket_body(ticket_type)).await;
    let id = t["id"].clone();
    for (who, body) in [
        ("agent1", json!({"action": "dispatch", "assignee": handler})),
        (handler, json!({"action": "start"})),
        (handler, json!({"action": "resolve", "result": "已更换光猫，线路恢复正常"})),
    ] {
        let (s, b) = app.act(who, &id, body).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    t
}

/// A fault ticket from intake to archive: receipt by SMS, result by e-mail,
/// confirmation and survey through the signed links, review, archive; the
/// coverage report counts it.
async fn a_ticket_closes_its_loop_through_real_messages(backend: Backend) {
    let Loop { app, sms, smtp } = start(backend, 1).await;
    let t = handled(&app, "fault", "engineer1").await;
    let (id, number) = (t["id"].clone(), t["number"].as_str().unwrap().to_string());
    // The receipt: the gateway is busy once; the outbox retries after backoff.
    assert_eq!((app.loop_jobs)().await.0, 0);
    let (_, msgs) = app.get("agent1", &format!("/api/v1/tickets/{id}/messages")).await;
    assert_eq!(msgs[0]["kind"], "receipt");
    assert_eq!((msgs[0]["state"].as_str(), msgs[0]["attempts"].as_i64()), (Some("pending"), Some(1)));
    assert!(msgs[0]["last_error"].as_str().unwrap().contains("503"), "{msgs}");
    assert_eq!(msgs[0]["recipient"], "138****5678", "masked for agents");
    app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!((app.loop_jobs)().await.0, 1);
    let receipt = sms.texts_to("13812345678");
    assert_eq!(receipt.len(), 1);
    assert!(receipt[0].contains(&number) && receipt[0].contains("已受理"), "{}", receipt[0]);
    assert_eq!(sms.got.lock().unwrap()[0]["sign_name"], "客服中心", "fixed fields are sent");
    // Result notice by e-mail, to the address the customer gave.
    let (s, b) = app.act("agent1", &id, json!({"action": "notify_result", "method": "email"})).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("email")));
    let notify = json!({"action": "notify_result", "method": "email", "email": "zhang.san@example.com"});
    assert_eq!(app.act("agent1", &id, notify).await.0, StatusCode::OK);
    assert_eq!((app.loop_jobs)().await.0, 1);
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["rcpt_tos"], json!(["zhang.san@example.com"]));
    assert!(mails[0]["subject"].as_str().unwrap().contains(&number));
    let body = mails[0]["body"].as_str().unwrap();
    assert!(body.contains("已更换光猫，线路恢复正常") && body.contains("24 小时"), "{body}");
    // The SMS receipt comes back from the gateway.
    let receipts =
        json!([{"sms_id": "sms-1", "report_status": "DELIVRD"}, {"sms_id": "nope", "report_status": "DELIVRD"}]);
    let r = app.client.post(format!("{}/api/v1/sms/receipts", app.base)).json(&receipts).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "no token, no receipt");
    let r = app
        .client
        .post(format!("{}/api/v1/sms/receipts", app.base))
        .header("X-Receipt-Token", RECEIPT_TOKEN)
        .json(&receipts)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"accepted": 1, "unknown": 1}));
    let (_, msgs) = app.get("supervisor1", &format!("/api/v1/tickets/{id}/messages")).await;
    assert_eq!((msgs[0]["state"].as_str(), msgs[1]["state"].as_str()), (Some("delivered"), Some("sent")));
    assert_eq!(msgs[1]["recipient"], "z***@example.com");
    // The customer confirms through the link in the e-mail.
    let link = link_in(body);
    let (s, html) = page(&app, &link).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains(&number) && html.contains("已反馈结果") && html.contains("id=\"confirm\""), "{html}");
    let (s, to) = form(&app, &format!("{link}/confirm"), &[]).await;
    assert_eq!((s, to), (StatusCode::SEE_OTHER, format!("{link}?done=confirm")));
    let after = ticket(&app, &id).await;
    assert_eq!(
        (after["status"].as_str(), after["customer_loop"]["confirmed_by"].as_str()),
        (Some("confirmed"), Some("customer"))
    );
    // The scheduler sends the survey (faults are visited by SMS).
    let (_, _, invited) = (app.loop_jobs)().await;
    assert_eq!(invited, 1);
    let texts = sms.texts_to("13812345678");
    assert_eq!(texts.len(), 2);
    assert!(texts[1].contains("评价"), "{}", texts[1]);
    let survey = link_in(&texts[1]);
    let (_, html) = page(&app, &survey).await;
    assert!(html.contains("id=\"survey\""), "{html}");
    let (s, _) = form(&app, &format!("{survey}/survey"), &[("satisfaction", "9"), ("nps", "9")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "satisfaction is 1–5");
    let (s, _) =
        form(&app, &format!("{survey}/survey"), &[("satisfaction", "5"), ("nps", "9"), ("comment", "师傅很专业")])
            .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let after = ticket(&app, &id).await;
    assert_eq!(after["status"], "visited");
    assert_eq!((after["satisfaction"].as_i64(), after["nps"].as_i64()), (Some(5), Some(9)));
    assert_eq!(after["customer_loop"]["visit"]["state"], "visited");
    // Review, then archive.
    let (s, b) = app.act("supervisor1", &id, json!({"action": "review", "passed": true, "comment": "合格"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app.act("supervisor1", &id, json!({"action": "archive"})).await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::OK, Some("archived")), "{b}");
    let (_, report) = app.get("supervisor1", "/api/v1/reports/return-visits?from=2026-11-22&to=2026-11-22").await;
    assert_eq!(report["total"]["resolved"], 1);
    assert_eq!(report["total"]["coverage"], 1.0);
    assert_eq!(report["total"]["meets_target"], true);
    assert_eq!(report["total"]["satisfaction_avg"], 5.0);
    assert_eq!(report["coverage_target"], 0.8);
    let (_, events) = app.get("supervisor1", &format!("/api/v1/tickets/{id}/events")).await;
    let actions: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(
        actions.ends_with(&["notify_result", "confirm", "visit_invite", "return_visit", "review", "archive"]),
        "{actions:?}"
    );
}

/// Archive is refused, with the missing step named, while the result
/// notice has not reached its gateway; unsubscribe has no return visit.
async fn no_loop_step_can_be_skipped(backend: Backend) {
    let Loop { app, sms, .. } = start(backend, 0).await;
    let u = app.create("agent1", ticket_body("unsubscribe")).await;
    let id = u["id"].clone();
    for (who, body) in [
        ("agent1", json!({"action": "approve"})),
        ("agent1", json!({"action": "resolve", "result": "已退订视频彩铃包"})),
        ("agent1", json!({"action": "notify_result", "method": "sms"})),
        ("supervisor1", json!({"action": "review", "passed": true})),
    ] {
        assert_eq!(app.act(who, &id, body).await.0, StatusCode::OK);
    }
    let (s, b) = app.act("supervisor1", &id, json!({"action": "archive"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["error"]["code"], "loop_incomplete");
    assert_eq!(b["error"]["details"]["missing"], json!(["result_notice_delivery"]));
    assert!(b["error"]["message_zh"].as_str().unwrap().contains("结果通知送达"));
    assert_eq!(ticket(&app, &id).await["status"], "reviewed", "nothing changed");
    (app.loop_jobs)().await;
    let texts = sms.texts_to("13812345678");
    assert!(texts.iter().any(|t| t.contains("退订") && t.contains("已退订视频彩铃包")), "{texts:?}");
    assert_eq!(app.act("supervisor1", &id, json!({"action": "archive"})).await.0, StatusCode::OK);
    // In the default flows the states themselves keep the order.
    let f = handled(&app, "fault", "engineer1").await;
    let (s, b) = app.act("supervisor1", &f["id"], json!({"action": "archive"})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("action_not_allowed")));
    let (s, _) = app.act("agent1", &f["id"], json!({"action": "confirm"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "no confirmation before the result notice");
}

/// An appeal reopens the ticket, sends a complaint up to L3 and any other
/// type to the supervisors, and restarts its deadlines.
async fn an_appeal_reopens_and_escalates(backend: Backend) {
    let Loop { app, sms, .. } = start(backend, 0).await;
    let c = handled(&app, "complaint", "agent2").await;
    let id = c["id"].clone();
    assert_eq!(ticket(&app, &id).await["tier"], 1);
    assert_eq!(app.act("agent1", &id, json!({"action": "notify_result", "method": "sms"})).await.0, StatusCode::OK);
    (app.loop_jobs)().await;
    app.clock.advance(chrono::Duration::hours(3));
    // The link as the customer's phone received it (staff never see it).
    let link = {
        let texts = sms.texts_to("13812345678");
        link_in(texts.iter().find(|t| t.contains("处理完毕")).unwrap())
    };
    let (s, html) = form(&app, &format!("{link}/appeal"), &[("reason", "  ")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a reason is required: {html}");
    assert!(html.contains("id=\"error\""));
    let (s, _) = form(&app, &format!("{link}/appeal"), &[("reason", "问题没有解决，晚上仍然掉线")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let t = ticket(&app, &id).await;
    assert_eq!(t["status"], "in_progress");
    assert_eq!((t["tier"].as_i64(), t["assignee"]["username"].as_str()), (Some(3), Some("specialist1")), "{t}");
    assert_eq!(t["appeal_count"], 1);
    assert_eq!(t["customer_loop"]["appeal_open"], true);
    let resolution = t["deadlines"].as_array().unwrap().iter().find(|d| d["kind"] == "resolution").unwrap().clone();
    assert_eq!(resolution["state"], "running", "restarted: {resolution}");
    let (_, notices) = app.get("specialist1", "/api/v1/notices").await;
    assert!(notices["items"].as_array().unwrap().iter().any(|n| n["kind"] == "appeal"), "{notices}");
    // Resolved again by L3: the appeal is answered.
    let (s, b) = app.act("specialist1", &id, json!({"action": "resolve", "result": "更换线路后恢复"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(ticket(&app, &id).await["customer_loop"]["appeal_open"], false);
    // A consultation appealed through an agent goes to the supervisors.
    let q = handled(&app, "consultation", "agent2").await;
    assert_eq!(
        app.act("agent1", &q["id"], json!({"action": "notify_result", "method": "phone"})).await.0,
        StatusCode::OK
    );
    let (s, b) = app.act("agent1", &q["id"], json!({"action": "appeal", "reason": "答复不清楚"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!((b["supervised"].as_bool(), b["tier"].as_i64()), (Some(true), Some(1)));
    let (_, notices) = app.get("supervisor1", "/api/v1/notices").await;
    assert!(notices["items"].as_array().unwrap().iter().any(|n| n["kind"] == "supervised"), "{notices}");
}

/// No answer counts as confirmed after the policy's time; a complaint's
/// phone visit that never reaches the customer is recorded as unreachable
/// and does not count as covered.
async fn silence_confirms_and_unreachable_visits_are_recorded(backend: Backend) {
    let Loop { mut app, .. } = start(backend, 0).await;
    let c = handled(&app, "complaint", "specialist1").await;
    let id = c["id"].clone();
    assert_eq!(app.act("agent1", &id, json!({"action": "notify_result", "method": "phone"})).await.0, StatusCode::OK);
    app.clock.advance(chrono::Duration::hours(23));
    assert_eq!((app.loop_jobs)().await.1, 0, "not yet");
    app.clock.advance(chrono::Duration::hours(1));
    let (_, confirmed, invited) = (app.loop_jobs)().await;
    assert_eq!((confirmed, invited), (1, 0), "complaints are visited by phone, not invited");
    for who in ["agent1", "supervisor1", "engineer1", "specialist1"] {
        app.relogin(who).await;
    }
    let t = ticket(&app, &id).await;
    assert_eq!(
        (t["status"].as_str(), t["customer_loop"]["confirmed_by"].as_str()),
        (Some("confirmed"), Some("default"))
    );
    let (_, queue) = app.get("agent1", "/api/v1/return-visits?method=phone").await;
    assert_eq!(queue["items"][0]["number"], c["number"], "{queue}");
    let miss = json!({"action": "return_visit", "method": "phone", "reached": false, "comment": "无人接听"});
    for _ in 0..2 {
        let (_, b) = app.act("agent1", &id, miss.clone()).await;
        assert_eq!(b["status"], "confirmed");
    }
    let (_, b) = app.act("agent1", &id, miss).await;
    assert_eq!(b["status"], "visited", "three attempts: unreachable");
    assert_eq!(
        (b["customer_loop"]["visit"]["state"].as_str(), b["customer_loop"]["visit"]["attempts"].as_i64()),
        (Some("unreachable"), Some(3))
    );
    assert_eq!(app.get("agent1", "/api/v1/return-visits?method=phone").await.1["total"], 0);
    // A second ticket visited: coverage 1 of 2 resolved = 50 %, below the 80 % target.
    let f = handled(&app, "fault", "engineer1").await;
    for body in [
        json!({"action": "notify_result", "method": "phone"}),
        json!({"action": "confirm"}),
        json!({"action": "return_visit", "method": "phone", "reached": true, "satisfaction": 3, "nps": 5}),
    ] {
        assert_eq!(app.act("agent1", &f["id"], body).await.0, StatusCode::OK);
    }
    let (_, r) = app.get("supervisor1", "/api/v1/reports/return-visits?from=2026-11-01&to=2026-11-30").await;
    let total = &r["total"];
    assert_eq!(
        (total["resolved"].as_i64(), total["visited"].as_i64(), total["unreachable"].as_i64()),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!((total["coverage"].as_f64(), total["meets_target"].as_bool()), (Some(0.5), Some(false)));
    assert_eq!((total["satisfied_rate"].as_f64(), total["nps"].as_f64()), (Some(0.0), Some(-100.0)));
    assert_eq!(r["teams"].as_array().unwrap().len(), 1, "{r}");
    let (s, b) = app.get("agent1", "/api/v1/reports/return-visits").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let (s, b) = app.get("supervisor1", "/api/v1/reports/return-visits?from=2026-11-30&to=2026-11-01").await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("to")));
}

/// Wrong, altered or expired links get a clear page and change nothing;
/// the lookup needs the number and the phone together.
async fn bad_links_change_nothing(backend: Backend) {
    let Loop { app, .. } = start(backend, 0).await;
    let t = handled(&app, "fault", "engineer1").await;
    let id = t["id"].clone();
    let number = t["number"].as_str().unwrap();
    assert_eq!(app.act("agent1", &id, json!({"action": "notify_result", "method": "sms"})).await.0, StatusCode::OK);
    (app.loop_jobs)().await;
    let (s, html) = page(&app, "/portal").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("工单号"));
    let (s, _) = form(&app, "/portal/lookup", &[("number", number), ("phone", "13900000000")]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, to) = form(&app, "/portal/lookup", &[("number", &number.to_lowercase()), ("phone", "13812345678")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, html) = page(&app, &to).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("已更换光猫") && html.contains("id=\"appeal\""), "{html}");
    let tampered = format!("{}x", to);
    let (s, html) = page(&app, &tampered).await;
    assert_eq!(s, StatusCode::GONE);
    assert!(html.contains("链接无效"));
    let (s, _) = form(&app, &format!("{tampered}/confirm"), &[]).await;
    assert_eq!(s, StatusCode::GONE);
    app.clock.advance(chrono::Duration::hours(2));
    let (s, html) = form(&app, &format!("{to}/confirm"), &[]).await;
    assert_eq!(s, StatusCode::GONE, "lookup links last an hour");
    assert!(html.contains("已过期"));
    assert_eq!(ticket(&app, &id).await["status"], "result_notified", "nothing changed");
    let (s, _) = page(&app, "/portal/t/garbage").await;
    assert_eq!(s, StatusCode::GONE);
}

/// Every type from intake to archive over the API and the portal, each
/// notice received by the SMTP server or the SMS gateway.
async fn every_type_goes_from_intake_to_archive(backend: Backend) {
    let Loop { app, sms, smtp } = start(backend, 0).await;
    let types = ["complaint", "consultation", "business", "account", "service_request", "fault", "unsubscribe"];
    for (i, ty) in types.iter().enumerate() {
        let phone = format!("1391234{i:04}");
        let mut body = ticket_body(ty);
        body["customer"]["phone"] = json!(phone);
        let t = app.create("agent1", body).await;
        let (id, number) = (t["id"].clone(), t["number"].as_str().unwrap().to_string());
        let handler = match *ty {
            "complaint" => "specialist1",
            "fault" => "engineer1",
            _ => "agent2",
        };
        let mut steps = match *ty {
            "unsubscribe" => vec![
                ("agent1", json!({"action": "approve"})),
                ("agent1", json!({"action": "resolve", "result": "已退订"})),
            ],
            "business" => vec![
                ("agent1", json!({"action": "dispatch", "assignee": handler})),
                ("supervisor1", json!({"action": "approve"})),
                (handler, json!({"action": "start"})),
                (handler, json!({"action": "resolve", "result": "已办理"})),
            ],
            _ => vec![
                ("agent1", json!({"action": "dispatch", "assignee": handler})),
                (handler, json!({"action": "start"})),
                (handler, json!({"action": "resolve", "result": "已处理"})),
            ],
        };
        let email = format!("customer{i}@example.com");
        steps.push(match i % 2 {
            0 => ("agent1", json!({"action": "notify_result", "method": "sms"})),
            _ => ("agent1", json!({"action": "notify_result", "method": "email", "email": email})),
        });
        for (who, b) in steps {
            let (s, r) = app.act(who, &id, b.clone()).await;
            assert_eq!(s, StatusCode::OK, "{ty}: {b}: {r}");
        }
        (app.loop_jobs)().await;
        // Sent in parallel: they may arrive in either order.
        let texts = sms.texts_to(&phone);
        assert!(texts.iter().any(|t| t.contains(&number) && t.contains("已受理")), "{ty}: receipt {texts:?}");
        let notice = if i % 2 == 0 {
            texts.iter().find(|t| !t.contains("已受理")).cloned().unwrap_or_else(|| panic!("{ty}: no result SMS"))
        } else {
            let mail = smtp.mails().into_iter().find(|m| m["rcpt_tos"] == json!([email])).expect("result e-mail");
            mail["body"].as_str().unwrap().to_string()
        };
        assert!(notice.contains(&number), "{ty}: {notice}");
        if *ty != "unsubscribe" {
            let link = link_in(&notice);
            assert_eq!(form(&app, &format!("{link}/confirm"), &[]).await.0, StatusCode::SEE_OTHER, "{ty}");
            (app.loop_jobs)().await;
            if *ty == "complaint" {
                let visit = json!({"action": "return_visit", "method": "phone", "reached": true, "satisfaction": 4});
                assert_eq!(app.act("agent1", &id, visit).await.0, StatusCode::OK);
            } else {
                let invitation = sms.texts_to(&phone).pop().unwrap();
                assert!(invitation.contains("评价"), "{ty}: {invitation}");
                let survey = format!("{}/survey", link_in(&invitation));
                assert_eq!(form(&app, &survey, &[("satisfaction", "5")]).await.0, StatusCode::SEE_OTHER, "{ty}");
            }
        }
        for (who, b) in [
            ("supervisor1", json!({"action": "review", "passed": true, "comment": "合格"})),
            ("supervisor1", json!({"action": "archive"})),
        ] {
            let (s, r) = app.act(who, &id, b).await;
            assert_eq!(s, StatusCode::OK, "{ty}: {r}");
        }
        assert_eq!(ticket(&app, &id).await["status"], "archived", "{ty}");
    }
    let (_, r) = app.get("supervisor1", "/api/v1/reports/return-visits?from=2026-11-22&to=2026-11-22").await;
    assert_eq!((r["total"]["resolved"].as_i64(), r["total"]["coverage"].as_f64()), (Some(6), Some(1.0)), "{r}");
}

macro_rules! on_both {
    ($($name:ident),+) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::common::Backend::Sqlite).await; } )+ }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::common::Backend::Postgres).await; } )+ }
    };
}

/// A result typed as a whole sentence reaches the customer's phone as one
/// sentence: the template's full stop after it is not doubled ("。。").
async fn a_result_sentence_is_not_stopped_twice(backend: Backend) {
    let Loop { app, sms, .. } = start(backend, 0).await;
    let t = app.create("agent1", ticket_body("fault")).await;
    let id = t["id"].clone();
    for (who, body) in [
        ("agent1", json!({"action": "dispatch", "assignee": "engineer1"})),
        ("engineer1", json!({"action": "start"})),
        ("engineer1", json!({"action": "resolve", "result": "已更换光猫，线路恢复正常。"})),
        ("agent1", json!({"action": "notify_result", "method": "sms"})),
    ] {
        let (s, b) = app.act(who, &id, body).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    (app.loop_jobs)().await;
    let texts = sms.texts_to("13812345678");
    let result = texts.iter().find(|t| t.contains("处理完毕")).expect("the result notice was sent");
    assert!(result.contains("线路恢复正常。") && !result.contains("。。"), "{result}");
}

/// A note marked 回复客户 reaches the customer: by SMS through the gateway,
/// with its delivery state in the ticket's messages, and in the portal's
/// conversation; an internal note goes nowhere.
async fn a_reply_reaches_the_customer(backend: Backend) {
    let Loop { app, sms, .. } = start(backend, 0).await;
    let t = app.create("agent1", ticket_body("fault")).await;
    let (id, number) = (t["id"].clone(), t["number"].as_str().unwrap().to_string());
    (app.loop_jobs)().await; // the receipt
    let path = format!("/api/v1/tickets/{id}/comments");
    let (s, b) = app.post("agent1", &path, json!({"body": "内部：先查线路", "internal": true})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = app.post("agent1", &path, json!({"body": "工程师明早九点上门检修", "internal": false})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    (app.loop_jobs)().await;
    let texts = sms.texts_to("13812345678");
    assert_eq!(texts.len(), 2, "the receipt and the reply, not the internal note: {texts:?}");
    assert!(texts[1].contains("工程师明早九点上门检修") && texts[1].contains(&number), "{}", texts[1]);
    assert!(!texts.iter().any(|t| t.contains("先查线路")));
    let (_, msgs) = app.get("agent1", &format!("/api/v1/tickets/{id}/messages")).await;
    let reply = msgs.as_array().unwrap().iter().find(|m| m["kind"] == "reply").expect("the reply is in the outbox");
    assert_eq!((reply["channel"].as_str(), reply["state"].as_str()), (Some("sms"), Some("sent")), "{reply}");
    let (s, to) = form(&app, "/portal/lookup", &[("number", &number), ("phone", "13812345678")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let page = app.client.get(format!("{}{to}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"conversation\"") && page.contains("工程师明早九点上门检修"), "{page}");
    assert!(!page.contains("先查线路"), "internal notes stay internal");
}

on_both!(
    a_reply_reaches_the_customer,
    a_result_sentence_is_not_stopped_twice,
    every_type_goes_from_intake_to_archive,
    a_ticket_closes_its_loop_through_real_messages,
    no_loop_step_can_be_skipped,
    an_appeal_reopens_and_escalates,
    silence_confirms_and_unreachable_visits_are_recorded,
    bad_links_change_nothing
);
