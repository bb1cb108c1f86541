//! The console's pages over HTTP: the session cookie, the login redirect,
//! the origin check on forms and the role gate. (The whole day's work in a
//! real browser is `e2e/console.mjs`.)

use crate::common;

use common::*;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN};

async fn console_sessions_forms_and_roles(app: TestApp) {
    let c = no_redirects();
    let r = c.get(format!("{}/console", app.base)).send().await.unwrap();
    assert_eq!((r.status(), r.headers()[LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/console/login"));
    let r = c
        .post(format!("{}/console/login", app.base))
        .form(&[("username", "agent1"), ("password", "wrong-Pass-1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("用户名或密码错误"));
    let agent = console_login(&app, "agent1").await;
    let page = c.get(format!("{}/console", app.base)).header(COOKIE, &agent).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["referrer-policy"], "same-origin");
    assert!(page.text().await.unwrap().contains("工作台"));
    // A form posted from another site is refused and registers nothing.
    let before = app.ticket_count().await;
    let form = [
        ("customer.phone", "13812345678"),
        ("customer.name", "张三"),
        ("channel", "phone"),
        ("type", "fault"),
        ("title", "t"),
        ("description", "d"),
    ];
    let r = c
        .post(format!("{}/console/new", app.base))
        .header(COOKIE, &agent)
        .header(ORIGIN, "http://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.ticket_count().await, before);
    let host = app.base.trim_start_matches("http://").to_string();
    let r = c
        .post(format!("{}/console/new", app.base))
        .header(COOKIE, &agent)
        .header(ORIGIN, format!("http://{host}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(to.starts_with("/console/tickets/GD") && to.ends_with("?created=1"), "{to}");
    assert_eq!(app.ticket_count().await, before + 1);
    let page = c.get(format!("{}{to}", app.base)).header(COOKIE, &agent).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"flash\"") && page.contains("138****5678"), "masked for agents");
    // The dashboard is the supervisors'; an agent gets 403.
    let r = c.get(format!("{}/console/dashboard", app.base)).header(COOKIE, &agent).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let sup = console_login(&app, "supervisor1").await;
    let r = c.get(format!("{}/console/dashboard?partial=1", app.base)).header(COOKIE, &sup).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().matches("<svg").count() >= 3);
    // Logging out ends the session on the server too.
    let r = c.post(format!("{}/console/logout", app.base)).header(COOKIE, &agent).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = c.get(format!("{}/console", app.base)).header(COOKIE, &agent).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

/// The hidden token of the page's form: the same submission sent twice.
fn token_of(page: &str) -> String {
    let at = page.find("name=\"form_token\" value=\"").expect("the form carries its token") + 26;
    page[at..].split('"').next().unwrap().to_string()
}

/// A form sent twice (Ctrl+Enter twice, a reloaded POST) acts once: the
/// repeat gets the first result; the same token with other fields is refused.
async fn a_form_counts_once(app: TestApp) {
    let c = no_redirects();
    let agent = console_login(&app, "agent1").await;
    let page = c.get(format!("{}/console/new", app.base)).header(COOKIE, &agent).send().await.unwrap();
    let token = token_of(&page.text().await.unwrap());
    let before = app.ticket_count().await;
    let mut form = vec![
        ("customer.phone", "13812345678"),
        ("customer.name", "张三"),
        ("channel", "phone"),
        ("type", "fault"),
        ("title", "宽带无法上网"),
        ("description", "光猫LOS灯红色闪烁"),
        ("form_token", token.as_str()),
    ];
    let mut seen = Vec::new();
    for _ in 0..2 {
        let r = c.post(format!("{}/console/new", app.base)).header(COOKIE, &agent).form(&form).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        seen.push(r.headers()[LOCATION].to_str().unwrap().to_string());
    }
    assert_eq!(app.ticket_count().await, before + 1, "one ticket for one submission");
    assert_eq!(seen[0], seen[1], "the repeat leads to the same ticket");
    form[4] = ("title", "另一件事");
    let r = c.post(format!("{}/console/new", app.base)).header(COOKIE, &agent).form(&form).send().await.unwrap();
    assert!(r.status().is_client_error(), "a token reused for another form is refused: {}", r.status());
    assert_eq!(app.ticket_count().await, before + 1);
    // A note sent twice is one note.
    let ticket = seen[0].trim_start_matches("/console/tickets/").split('?').next().unwrap().to_string();
    let page = c.get(format!("{}/console/tickets/{ticket}", app.base)).header(COOKIE, &agent).send().await.unwrap();
    let token = token_of(&page.text().await.unwrap());
    let note = [("body", "已联系客户，约明早上门"), ("internal", "true"), ("form_token", token.as_str())];
    for _ in 0..2 {
        let path = format!("{}/console/tickets/{ticket}/comment", app.base);
        let r = c.post(path).header(COOKIE, &agent).form(&note).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let (_, comments) = app.get("agent1", &format!("/api/v1/tickets/{ticket}/comments")).await;
    assert_eq!(comments.as_array().map(Vec::len), Some(1), "{comments}");
}

/// Looking the caller up on the intake form keeps what was typed and fills
/// the blank customer fields from their record — a field the role sees
/// masked only as a hint, never as a value that would be registered.
async fn intake_lookup_fills_from_the_record(app: TestApp) {
    app.create("engineer1", ticket_body("fault")).await;
    let agent = console_login(&app, "agent1").await;
    let form = [("customer.phone", "138 1234 5678"), ("title", "又掉线了"), ("form_token", "t-1")];
    let r = no_redirects()
        .post(format!("{}/console/new/lookup", app.base))
        .header(COOKIE, &agent)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let value = |id: &str| {
        let at = page.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("{id} in the page"));
        page[at..].split("value=\"").nth(1).unwrap().split('"').next().unwrap().to_string()
    };
    assert_eq!(value("title"), "又掉线了", "what was typed is kept");
    assert_eq!(value("customer.name"), "张三");
    assert_eq!(value("customer.level"), "vip");
    assert_eq!(value("customer.address"), "", "agents see the address masked: not filled");
    assert!(page.contains("id=\"recorded-address\"") && page.contains("****"), "shown masked as a hint");
    assert!(!page.contains("建设路1号"), "the full address never reaches an agent's page");
    // The customer's page: for those with one of their tickets, no one else.
    let t = app.create("agent1", ticket_body("complaint")).await;
    let customer = t["customer"]["id"].clone();
    for (user, want) in [("agent1", StatusCode::OK), ("agent2", StatusCode::NOT_FOUND)] {
        let cookie = console_login(&app, user).await;
        let r = no_redirects()
            .get(format!("{}/console/customers/{customer}", app.base))
            .header(COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), want, "{user}");
    }
}

/// The escalation form's one select reaches the API's fields: 主管督办
/// becomes `to_supervisor`, a tier `to_tier`.
async fn escalation_form_reaches_the_api(app: TestApp) {
    let t = app.create("agent1", ticket_body("fault")).await;
    let id = t["id"].clone();
    let handler = t["assignee"]["username"].as_str().expect("dispatched at registration").to_string();
    assert_eq!(app.act(&handler, &id, serde_json::json!({"action": "start"})).await.0, StatusCode::OK);
    let cookie = console_login(&app, &handler).await;
    let number = t["number"].as_str().unwrap();
    let form = [("action", "escalate"), ("escalate_to", "supervisor"), ("reason", "客户第三次来电投诉")];
    let r = no_redirects()
        .post(format!("{}/console/tickets/{number}/act", app.base))
        .header(COOKIE, &cookie)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    let (_, after) = app.get("supervisor1", &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(after["supervised"], true, "{after}");
}

/// A bulk action is each ticket's own action: done where the person may,
/// refused with the reason where not, nothing half-done.
async fn bulk_actions_go_ticket_by_ticket(app: TestApp) {
    let a = app.create("agent1", ticket_body("fault")).await;
    let b = app.create("agent1", ticket_body("fault")).await;
    let numbers = [a["number"].as_str().unwrap(), b["number"].as_str().unwrap()];
    let form = |reason: &'static str| {
        let mut f = vec![("bulk_action", "set_priority"), ("priority", "urgent"), ("reason", reason)];
        f.extend(numbers.iter().map(|n| ("ticket", *n)));
        f
    };
    for (user, ok_rows) in [("agent2", 0), ("agent1", 2)] {
        let cookie = console_login(&app, user).await;
        let r = no_redirects()
            .post(format!("{}/console/bulk", app.base))
            .header(COOKIE, &cookie)
            .form(&form("客户集中投诉，统一提级"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let page = r.text().await.unwrap();
        assert_eq!(page.matches("class=\"ok-row\"").count(), ok_rows, "{user}: {page}");
        assert_eq!(page.matches("class=\"err-row\"").count(), 2 - ok_rows, "{user}");
    }
    for n in numbers {
        let (_, t) = app.get("agent1", &format!("/api/v1/tickets/{n}")).await;
        assert_eq!(t["priority"], "urgent");
    }
}

both_stores!(
    bulk_actions_go_ticket_by_ticket,
    console_sessions_forms_and_roles,
    a_form_counts_once,
    intake_lookup_fills_from_the_record,
    escalation_form_reaches_the_api
);
