//! Markup typed by anyone — a customer's name, a title, a reason, a staff
//! member's display name, a query string — reaches every console page and
//! the portal as text: the templates escape every value. The payload is put
//! into every free-text field and name, and each page is checked for the
//! raw markup (and, where the text belongs, for its escaped form, so the
//! check cannot pass by showing nothing).

use crate::common;

use common::*;
use kefu_domain::Role;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use serde_json::{Value, json};

const EVIL: &str = "<script>x()</script>\"onmouseover=y '<img src=z>";
/// For fields of at most 20 characters (the customer's level).
const SHORT: &str = "\"onmouseover=y<u>x";
/// How the start of EVIL reads once escaped.
const SHOWN: &str = "&#60;script&#62;x()&#60;/script&#62;";

/// `page` shows no markup of EVIL and exactly `scripts` script elements (its own).
fn escaped(page: &str, scripts: usize, what: &str) {
    for raw in ["<script>x", "\"onmouseover", "<img", "'<", "<u>x"] {
        assert!(!page.contains(raw), "{what}: {raw:?} reached the page unescaped");
    }
    assert_eq!(page.matches("<script").count(), scripts, "{what}: script elements");
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = no_redirects().get(format!("{}{path}", app.base)).header(COOKIE, cookie).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn post(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let r = no_redirects().post(format!("{}{path}", app.base)).header(COOKIE, cookie).form(form).send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

fn q(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// A fault ticket with EVIL in every free-text field, handled by a staff
/// member whose display name is EVIL, with EVIL reasons, note and result.
async fn evil_ticket(app: &mut TestApp) -> (Value, String) {
    (app.add_user)("evil1", Role::Engineer, EVIL).await;
    app.relogin("evil1").await;
    let mut body = ticket_body("fault");
    body["customer"]["name"] = json!(EVIL);
    body["customer"]["address"] = json!(EVIL);
    body["customer"]["level"] = json!(SHORT);
    body["title"] = json!(EVIL);
    body["description"] = json!(EVIL);
    body["location"] = json!(EVIL);
    let t = app.create("agent1", body).await;
    let id = t["id"].clone();
    let steps = [
        ("agent1", json!({"action": "dispatch", "assignee": "evil1"})),
        ("evil1", json!({"action": "start"})),
        ("evil1", json!({"action": "transfer", "to": "engineer1", "reason": EVIL, "mode": "phone"})),
        ("engineer1", json!({"action": "reject_transfer", "reason": EVIL})),
        ("evil1", json!({"action": "resolve", "result": EVIL})),
    ];
    for (who, step) in steps {
        let (s, b) = app.act(who, &id, step).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = app.post("evil1", &format!("/api/v1/tickets/{id}/comments"), json!({"body": EVIL})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let number = t["number"].as_str().unwrap().to_string();
    (id, number)
}

async fn every_page_escapes_what_people_typed(mut app: TestApp) {
    let (id, number) = evil_ticket(&mut app).await;
    let ticket = format!("/console/tickets/{number}");
    let customer = app.get("supervisor1", &format!("/api/v1/tickets/{id}")).await.1["customer"]["id"].clone();
    for user in ["supervisor1", "agent1", "evil1", "engineer1"] {
        let cookie = console_login(&app, user).await;
        let (s, html) = page(&app, &cookie, &ticket).await;
        assert_eq!(s, StatusCode::OK, "{user}: {html}");
        escaped(&html, 1, &format!("{user}: ticket page"));
        assert!(html.matches(SHOWN).count() >= 4, "{user}: the typed text is shown as text: {html}");
        let (_, html) = page(&app, &cookie, "/console/notices").await;
        escaped(&html, 1, &format!("{user}: notices"));
        let (s, html) = page(&app, &cookie, &format!("/console/customers/{customer}")).await;
        assert_eq!(s, StatusCode::OK, "{user}: the customer page");
        escaped(&html, 1, &format!("{user}: customer page"));
        assert!(html.contains(SHOWN), "{user}: the name shown as text");
        for queue in ["mine", "team", "awaiting_acceptance", "warning", "overdue", "unassigned", "all"] {
            let (_, html) = page(&app, &cookie, &format!("/console?queue={queue}")).await;
            escaped(&html, 1, &format!("{user}: queue {queue}"));
        }
    }
    let cookie = console_login(&app, "supervisor1").await;
    let (_, html) = page(&app, &cookie, "/console?queue=all").await;
    assert!(html.contains(SHOWN), "the title in the queue");
    let evil = q(EVIL);
    let reflected = [
        format!("/console?queue={evil}&q={evil}&type={evil}&priority={evil}&after={evil}"),
        format!("/console/new?phone={evil}&title={evil}&customer.name={evil}&description={evil}&channel={evil}"),
        format!("/console/new?phone=13812345678&service_number={evil}"),
        format!("{ticket}?done={evil}"),
        format!("/console/tickets/{evil}"),
        "/console/visits".to_string(),
        "/console/dashboard".to_string(),
        format!("/console/visits?page={evil}"),
    ];
    for path in &reflected {
        let (_, html) = page(&app, &cookie, path).await;
        escaped(&html, 1, path);
    }
    let (_, html) = page(&app, &cookie, "/console/dashboard?partial=1").await;
    escaped(&html, 0, "dashboard panels");
    assert!(html.contains(SHOWN), "the handler's name in the figures per person");
    // An article's texts, found and shown.
    let art = json!({"code": "KB-666", "title": EVIL, "category": "<u>x", "body": EVIL, "tags": [SHORT], "similar": [EVIL],
                     "answers": {"script": EVIL}, "status": "published"});
    let (st, b) = app.post("supervisor1", "/api/v1/kb/articles", art).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    let vote = json!({"helpful": false, "reason": EVIL});
    assert_eq!(app.post("agent1", "/api/v1/kb/articles/KB-666/feedback", vote).await.0, StatusCode::CREATED);
    for path in [
        "/console/kb?q=script".to_string(),
        "/console/kb".to_string(),
        "/console/kb/KB-666".to_string(),
        format!("/console/kb?q={evil}"),
    ] {
        let (s, html) = page(&app, &cookie, &path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        escaped(&html, 1, &path);
    }
    let (_, html) = page(&app, &cookie, "/console/kb/KB-666").await;
    assert!(html.contains(SHOWN), "the article's text shown as text");
    let words = json!({"words": [SHORT], "synonyms": [[SHORT, "<img src=z>"]]});
    assert_eq!(
        app.call(Some("admin"), reqwest::Method::PUT, "/api/v1/search/lexicon", Some(words), None).await.0,
        StatusCode::OK
    );
    let (_, html) = page(&app, &cookie, "/console/kb/lexicon").await;
    escaped(&html, 1, "search lexicon");
    for path in ["/portal/kb?q=script", "/portal/kb/KB-666"] {
        let (s, html) = page(&app, "", path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        escaped(&html, 1, path);
    }
    // A macro's name and text, on its page and in the ticket's menu.
    let m = json!({"name": "<u>x</u>\"onmouseover=y", "body": EVIL, "shared": true});
    let (st, b) = app.post("supervisor1", "/api/v1/macros", m).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    for path in ["/console/macros".to_string(), ticket.clone(), format!("/console/macros?edit={}", b["id"])] {
        let (_, html) = page(&app, &cookie, &path).await;
        escaped(&html, 1, &path);
        assert!(html.contains("&#60;u&#62;x"), "{path}: the macro's name shown as text");
    }
    // Forms refused by the service come back with the input and the error.
    let fields: Vec<(&str, &str)> = [
        "customer.phone",
        "customer.name",
        "customer.address",
        "customer.level",
        "customer.id_number",
        "service_number",
        "channel",
        "type",
        "priority",
        "title",
        "description",
        "consent.method",
        "consent.evidence",
    ]
    .iter()
    .map(|k| (*k, EVIL))
    .collect();
    let (s, html) = post(&app, &cookie, "/console/new", &fields).await;
    assert!(s.is_client_error(), "{s}");
    escaped(&html, 1, "intake refused");
    assert!(html.contains(SHOWN), "the form keeps what was typed");
    for form in [
        vec![("action", EVIL)],
        vec![("action", "set_priority"), ("priority", EVIL), ("reason", EVIL)],
        vec![("action", "review"), ("passed", EVIL), ("comment", EVIL)],
    ] {
        let (_, html) = post(&app, &cookie, &format!("{ticket}/act"), &form).await;
        escaped(&html, 1, &format!("action {form:?}"));
    }
    let (_, html) = post(&app, &cookie, &format!("{ticket}/comment"), &[("body", "")]).await;
    escaped(&html, 1, "empty note refused");
    let (_, html) = post(&app, "", "/console/login", &[("username", EVIL), ("password", EVIL)]).await;
    escaped(&html, 1, "login refused");
    let (_, html) = page(&app, "", "/console/login").await;
    escaped(&html, 1, "login page");
    portal_escapes(&app, &number).await;
    quality_escapes(&app, &number).await;
    let (_, html) = page(&app, "", "/").await;
    escaped(&html, 0, "start page");
}

/// The customer sees the title and result as text, whatever path led there
/// (each portal page has one script of its own: the chat).
async fn portal_escapes(app: &TestApp, number: &str) {
    let c = no_redirects();
    let r = c
        .post(format!("{}/portal/lookup", app.base))
        .form(&[("number", number), ("phone", "13812345678")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let link = r.headers()[LOCATION].to_str().unwrap().to_string();
    let (s, html) = page(app, "", &link).await;
    assert_eq!(s, StatusCode::OK);
    escaped(&html, 1, "portal ticket");
    assert_eq!(html.matches(SHOWN).count(), 3, "title, result and the reply shown as text: {html}");
    let evil = q(EVIL);
    for path in [format!("{link}?done={evil}"), format!("/portal/t/{evil}"), "/portal".to_string()] {
        let (_, html) = page(app, "", &path).await;
        escaped(&html, 1, &path);
    }
    for (path, form) in [
        ("/portal/lookup".to_string(), vec![("number", EVIL), ("phone", EVIL)]),
        (format!("{link}/appeal"), vec![("reason", EVIL)]),
        (format!("{link}/{evil}"), vec![("reason", EVIL)]),
        (format!("{link}/survey"), vec![("satisfaction", EVIL), ("nps", EVIL), ("comment", EVIL)]),
    ] {
        let (_, html) = post(app, "", &path, &form).await;
        escaped(&html, 1, &path);
    }
}

both_stores!(policy = manual_dispatch(); every_page_escapes_what_people_typed);

/// A store, an inspection, a review and a violation with markup in every
/// free-text field, on every quality page.
async fn quality_escapes(app: &TestApp, number: &str) {
    let (s, b) = app
        .post("inspector1", "/api/v1/stores", json!({"code": "EV1", "name": EVIL, "region": EVIL, "manager": SHORT}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, card) = app.get("inspector1", "/api/v1/quality/scorecards/store_inspection").await;
    let full = |card: &Value| -> Vec<Value> {
        let mut out = Vec::new();
        for s in card["sections"].as_array().unwrap() {
            if matches!(s["kind"].as_str(), Some("standard" | "red_line")) {
                for i in s["items"].as_array().unwrap() {
                    out.push(json!({"item": i["key"], "points": i["points"], "reason": EVIL}));
                }
            }
        }
        out
    };
    let (s, b) = app
        .post(
            "inspector1",
            "/api/v1/stores/EV1/inspections",
            json!({"period": "2026-11", "items": full(&card), "notes": EVIL}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    app.post("inspector1", "/api/v1/stores/grading", json!({"period": "2026-11"})).await;
    let (_, card) = app.get("inspector1", "/api/v1/quality/scorecards/ticket_review").await;
    let mut items = full(&card);
    items[3] = json!({"item": "accuracy", "points": 10, "reason": EVIL});
    let (s, review) = app
        .post("inspector1", "/api/v1/quality/reviews", json!({"ticket": number, "items": items, "notes": EVIL}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{review}");
    let (s, v) = app
        .post(
            "inspector1",
            "/api/v1/quality/violations",
            json!({"agent": "evil1", "kind": "wrong_wording", "description": EVIL, "ticket": number}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, b) = app
        .post(
            "evil1",
            &format!("/api/v1/quality/violations/{}/steps", v["id"]),
            json!({"action": "appeal", "reason": EVIL}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .post("supervisor1", "/api/v1/quality/innovations", json!({"agent": "evil1", "title": EVIL, "points": 10}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let cookie = console_login(app, "inspector1").await;
    for path in [
        "/console/stores?period=2026-11".to_string(),
        "/console/stores/EV1?period=2026-11".to_string(),
        "/console/quality?period=2026-11".to_string(),
        format!("/console/quality/reviews/{}", review["id"]),
        format!("/console/quality/violations/{}", v["id"]),
        "/console/quality/assessments?period=2026-11".to_string(),
        format!("/console/quality/review/{number}"),
        format!("/console/quality?period={}", q(EVIL)),
        format!("/console/stores/{}", q(EVIL)),
    ] {
        let (s, html) = page(app, &cookie, &path).await;
        assert!(s.is_success() || s.is_client_error(), "{path}: {s}");
        escaped(&html, 1, &path);
    }
    let (_, html) = page(app, &cookie, "/console/stores/EV1?period=2026-11").await;
    assert!(html.contains(SHOWN), "the store's name shown as text");
    let (_, html) = page(app, &cookie, &format!("/console/quality/violations/{}", v["id"])).await;
    assert!(html.contains(SHOWN), "the description and the appeal shown as text");
}
