//! Issue 13: the holes a security review and a fuzzer found, each as the
//! attack that found it. Every test here failed before its fix.

use crate::common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn assert_error(status: StatusCode, body: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(!body["error"]["message"].as_str().unwrap_or("").is_empty(), "{body}");
    assert!(!body["error"]["message_zh"].as_str().unwrap_or("").is_empty(), "{body}");
}

/// Sends raw bytes as a JSON body; returns status, content type and body.
async fn raw(app: &TestApp, user: &str, method: Method, path: &str, body: &str) -> (StatusCode, String, Value) {
    let r = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(&app.tokens[user])
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the server answers (no dropped connection)");
    let status = r.status();
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = r.text().await.unwrap();
    (status, ct, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

// --- hole 2: a stray character drops the connection ---

async fn stray_characters_get_an_answer(app: TestApp) {
    // Full-width digits (as Chinese input methods type them) are folded.
    let mut b = ticket_body("fault");
    b["customer"]["phone"] = json!("１３８１２３４５６７８");
    let t = app.create("agent1", b).await;
    assert_eq!(t["customer"]["phone"], "138****5678");
    // Anything else that is not a phone number: 422 naming the field.
    for phone in
        ["138\u{200b}12345678", "\u{200b}\u{202e}", "０１０－１２３４５６７８x", "宽带宽带宽带", "1381234567８９"]
    {
        let mut b = ticket_body("fault");
        b["customer"]["phone"] = json!(phone);
        let (s, b) = app.post("agent1", "/api/v1/tickets", b).await;
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(b["error"]["field"], "customer.phone");
    }
    let (s, b) = app.get("agent1", "/api/v1/tickets?customer_phone=%E2%80%8B%E2%80%AE").await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(b["error"]["field"], "customer_phone");
    let mut b = ticket_body("fault");
    b["customer"]["id_number"] = json!("１１０１０５１９４９１２３１００２Ｘ");
    app.create("agent1", b).await;
}

/// A small deterministic generator (xorshift) of nasty Unicode: every
/// request field gets arbitrary strings, and the server answers each with a
/// status and a JSON body — 201 or a 4xx naming the field, never a 500 or a
/// dropped connection.
struct Nasty(u64);

const POOL: &[&str] = &[
    "１",
    "３",
    "８",
    "０",
    "－",
    "＋",
    "（",
    "）",
    "\u{3000}",
    "\u{200b}",
    "\u{200d}",
    "\u{202e}",
    "\u{2066}",
    "\u{feff}",
    "\u{0}",
    "\u{7}",
    "\u{1b}",
    "\n",
    "\t",
    "\u{85}",
    "\u{a0}",
    "é",
    "e\u{301}",
    "𝟙",
    "😀",
    "👨‍👩‍👧",
    "宽",
    "带",
    "号",
    "路",
    "区",
    "1",
    "3",
    "8",
    "0",
    "-",
    "+",
    " ",
    "X",
    "x",
    "\"",
    "\\",
    "<",
    ">",
    "&",
    "'",
    "%",
    "{",
    "}",
    "\u{fffd}",
    "\u{10ffff}",
    "ǅ",
    "ß",
    "İ",
    "\u{2028}",
    "\u{e000}",
];

impl Nasty {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn string(&mut self) -> String {
        let len = (self.next() % 24) as usize;
        (0..len).map(|_| POOL[(self.next() % POOL.len() as u64) as usize]).collect()
    }
}

async fn arbitrary_unicode_in_every_field_is_answered(app: TestApp) {
    let mut nasty = Nasty(0x9e37_79b9_7f4a_7c15);
    let fields: &[&[&str]] = &[
        &["channel"],
        &["type"],
        &["title"],
        &["description"],
        &["customer", "name"],
        &["customer", "phone"],
        &["customer", "id_number"],
        &["customer", "address"],
        &["customer", "level"],
        &["service_number"],
        &["priority"],
        &["occurred_at"],
        &["location"],
        &["submitted_by"],
        &["business_line"],
    ];
    let t = app.create("agent1", ticket_body("consultation")).await;
    let mut answered = 0;
    for round in 0..12 {
        for path in fields {
            let mut b = ticket_body("fault");
            let value = nasty.string();
            match path {
                [a] => b[*a] = json!(value),
                [a, c] => b[*a][*c] = json!(value),
                _ => unreachable!(),
            }
            let (s, ct, body) = raw(&app, "agent1", Method::POST, "/api/v1/tickets", &b.to_string()).await;
            assert!(s == StatusCode::CREATED || s.is_client_error(), "{path:?} = {value:?}: {s} {body}");
            assert!(ct.starts_with("application/json"), "{path:?}: {ct}");
            if s.is_client_error() {
                assert!(body["error"]["field"].is_string(), "{path:?} = {value:?}: {body}");
            }
            answered += 1;
        }
        // Action fields and list filters too.
        let v = nasty.string();
        for body in [
            json!({"action": "set_priority", "priority": v, "reason": v}),
            json!({"action": "suspend", "reason": v}),
            json!({"action": v}),
        ] {
            let (s, ct, b) =
                raw(&app, "agent1", Method::POST, &format!("/api/v1/tickets/{}/actions", t["id"]), &body.to_string())
                    .await;
            assert!(s.is_success() || s.is_client_error(), "round {round}: {s} {b}");
            assert!(ct.starts_with("application/json"));
        }
        for filter in ["customer_phone", "number", "q", "status", "created_from", "assignee", "team"] {
            let q: String = url_encode(&v);
            let (s, b) = app.get("agent1", &format!("/api/v1/tickets?{filter}={q}")).await;
            assert!(s.is_success() || s.is_client_error(), "{filter}={v:?}: {s} {b}");
            assert!(b.is_object(), "{filter}: {b}");
        }
        let (s, b) = app.get("agent1", &format!("/api/v1/tickets/{}", url_encode(&v))).await;
        assert!(s.is_client_error() || s.is_success(), "{s} {b}");
        assert!(b.is_object(), "{b}");
    }
    assert_eq!(answered, 12 * fields.len());
}

fn url_encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

// --- hole 6: anyone can lock the staff out, and learn who exists ---

fn client_from(ip: &str) -> reqwest::Client {
    kefu_server::delivery::install_tls_provider();
    reqwest::Client::builder().local_address(ip.parse::<std::net::IpAddr>().unwrap()).build().unwrap()
}

async fn login_from(app: &TestApp, ip: &str, username: &str, password: &str) -> (StatusCode, Value) {
    let r = client_from(ip)
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn nobody_can_lock_the_staff_out_or_learn_who_exists(app: TestApp) {
    // An attacker at one address guesses agent1's password many times.
    let mut answers = Vec::new();
    for _ in 0..30 {
        answers.push(login_from(&app, "127.0.0.2", "agent1", "Wrong-pass-1").await);
    }
    // The same answer for an unknown account, a wrong password, a throttled try.
    answers.push(login_from(&app, "127.0.0.2", "no-such-user", "Wrong-pass-1").await);
    answers.push(login_from(&app, "127.0.0.5", "no-such-user", "Wrong-pass-1").await);
    let first = answers[0].clone();
    assert_eq!(first.0, StatusCode::UNAUTHORIZED);
    for a in &answers {
        assert_eq!(a, &first, "every refusal looks the same");
    }
    // The attacker's address is throttled even with the right password …
    assert_eq!(login_from(&app, "127.0.0.2", "agent1", PASSWORD).await, first);
    // … while the real user, at the address they work from, logs in.
    assert_eq!(login_from(&app, "127.0.0.1", "agent1", PASSWORD).await.0, StatusCode::OK);
    // The doubling wait runs out (max 15 minutes).
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(login_from(&app, "127.0.0.2", "agent1", PASSWORD).await.0, StatusCode::OK);

    // Many addresses (a botnet): past the account's ceiling only the
    // addresses the account has logged in from may try; the real user's
    // own address still gets in.
    for i in 0..25 {
        let ip = format!("127.0.1.{}", 10 + i);
        assert_eq!(login_from(&app, &ip, "agent2", "Wrong-pass-1").await, first);
    }
    assert_eq!(login_from(&app, "127.0.0.9", "agent2", PASSWORD).await, first, "a new address waits while guarded");
    assert_eq!(login_from(&app, "127.0.0.1", "agent2", PASSWORD).await.0, StatusCode::OK, "the real user gets in");

    // A call centre behind one NAT address logs in together at shift start.
    for _ in 0..5 {
        for (user, _) in USERS {
            assert_eq!(login_from(&app, "127.0.0.1", user, PASSWORD).await.0, StatusCode::OK, "{user}");
        }
    }
}

// --- hole 8: ambiguous requests are applied ---

async fn ambiguous_requests_are_refused(app: TestApp) {
    let t = app.create("agent1", ticket_body("fault")).await;
    let path = format!("/api/v1/tickets/{}/actions", t["id"]);
    let (s, _, b) = raw(
        &app,
        "agent1",
        Method::POST,
        &path,
        r#"{"action":"set_priority","priority":"normal","reason":"x","action":"withdraw"}"#,
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "duplicate_key");
    assert_eq!(b["error"]["field"], "action");
    let (s, _, b) = raw(
        &app,
        "agent1",
        Method::POST,
        "/api/v1/tickets",
        r#"{"channel":"phone","customer":{"name":"a","name":"b"}}"#,
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "duplicate_key");
    assert_eq!(b["error"]["field"], "customer.name");
    let (_, now) = app.get("agent1", &format!("/api/v1/tickets/{}", t["id"])).await;
    assert_ne!(now["status"], "withdrawn", "nothing was applied");
    // Unknown fields are named, in every write body.
    let (s, b) = app.put("admin", "/api/v1/users/6/profile", json!({"role": "admin"})).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(b["error"]["field"], "role");
    let mut body = ticket_body("fault");
    body["customer"]["salary"] = json!(1);
    let (s, b) = app.post("agent1", "/api/v1/tickets", body).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(b["error"]["field"], "customer.salary");
    let (s, b) = app.act("agent1", &t["id"], json!({"action": "suspend", "reason": "等待", "until": "tomorrow"})).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(b["error"]["field"], "until");
    // Control characters in text.
    for bad in ["宽带\u{0}断网", "a\u{1b}[31m", "\u{202e}tpircs"] {
        let mut body = ticket_body("fault");
        body["title"] = json!(bad);
        let (s, b) = app.post("agent1", "/api/v1/tickets", body).await;
        assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert_eq!(b["error"]["field"], "title");
    }
    // A body that is not an object names no internal type.
    let (s, _, b) = raw(&app, "agent1", Method::POST, "/api/v1/tickets", "[1,2,3]").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "malformed_request");
    let (s, _, b) = raw(&app, "agent1", Method::POST, "/api/v1/tickets", r#"{"customer":[1]}"#).await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(!b.to_string().contains("struct"), "{b}");
    assert!(!b.to_string().contains("Input"), "{b}");
}

// --- hole 9: idempotency keys cross endpoints ---

async fn idempotency_keys_are_scoped_and_bound_to_their_request(app: TestApp) {
    let (s, t) =
        app.call(Some("agent1"), Method::POST, "/api/v1/tickets", Some(ticket_body("fault")), Some("k-1")).await;
    assert_eq!(s, StatusCode::CREATED);
    // The same key on another route is another request.
    let body = json!({"action": "set_priority", "priority": "important", "reason": "客户要求"});
    let path = format!("/api/v1/tickets/{}/actions", t["id"]);
    let (s, b) = app.call(Some("agent1"), Method::POST, &path, Some(body.clone()), Some("k-1")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["priority"], "important", "the action ran; no ticket creation was replayed");
    // A retry is replayed …
    let (s, again) = app.call(Some("agent1"), Method::POST, &path, Some(body), Some("k-1")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["updated_at"], b["updated_at"]);
    // … a different body under the same key is refused, and changes nothing.
    let other = json!({"action": "set_priority", "priority": "normal", "reason": "客户要求"});
    let (s, e) = app.call(Some("agent1"), Method::POST, &path, Some(other), Some("k-1")).await;
    assert_error(s, &e, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(e["error"]["field"], "Idempotency-Key");
    let (_, now) = app.get("agent1", &path.replace("/actions", "")).await;
    assert_eq!(now["priority"], "important");
    let mut changed = ticket_body("fault");
    changed["title"] = json!("另一张工单");
    let (s, _) = app.call(Some("agent1"), Method::POST, "/api/v1/tickets", Some(changed), Some("k-1")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Keys are per user: another agent's identical key is their own.
    let (s, _) =
        app.call(Some("agent2"), Method::POST, "/api/v1/tickets", Some(ticket_body("fault")), Some("k-1")).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(app.ticket_count().await, 2);
}

// --- hole 10: slow clients hold connections forever ---

async fn slow_clients_are_cut_off(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_string();
    // Headers at a trickle: the connection is closed after the header limit (1 s).
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    for b in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaa" {
        if s.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        if started.elapsed() > std::time::Duration::from_secs(4) {
            break;
        }
    }
    let mut buf = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(3), s.read_to_end(&mut buf)).await;
    assert!(closed || matches!(read, Ok(Ok(_)) | Ok(Err(_))), "the server closed the trickling connection");
    assert!(started.elapsed() < std::time::Duration::from_secs(8));
    // A body at a trickle: 408 with the JSON error body after the body limit (1 s).
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        app.tokens["agent1"]
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), s.read(&mut buf)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    // Connections per address are capped (4 here): the fifth is closed.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = vec![0u8; 1024];
        let n = c.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(c);
    }
    let mut fifth = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let _ = fifth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(std::time::Duration::from_secs(3), fifth.read(&mut buf)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "the fifth connection from one address is closed: {}", String::from_utf8_lossy(&buf[..n]));
    drop(held);
}

// --- hole 11: the contract lies in places ---

async fn every_error_is_json_and_documented(app: TestApp) {
    let t = app.create("agent1", ticket_body("fault")).await;
    for path in [
        "/api/v1/tickets/%FF%FE",
        "/api/v1/customers/..%2F1/reveal",
        "/api/v1/calendar/add?from=2026-11-22T10:00:00%2B08:00&working_days=-5",
        "/api/v1/no-such-thing",
    ] {
        let method = if path.contains("reveal") { Method::POST } else { Method::GET };
        let (s, ct, b) = raw(&app, "supervisor1", method, path, "{}").await;
        assert!(s.is_client_error(), "{path}: {s}");
        assert!(ct.starts_with("application/json"), "{path}: {ct} {b}");
        assert!(b["error"]["code"].is_string(), "{path}: {b}");
    }
    let r = app
        .client
        .post(format!("{}/api/v1/sms/receipts", app.base))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    // An unknown state is an error, not an empty list.
    let (s, b) = app.get("agent1", "/api/v1/tickets?status=abc").await;
    assert_error(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(b["error"]["field"], "status");
    // The scheme is case-insensitive; a 401 says how to authenticate.
    let r = app
        .client
        .get(format!("{}/api/v1/tickets/{}", app.base, t["id"]))
        .header("authorization", format!("bearer {}", app.tokens["agent1"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.client.get(format!("{}/api/v1/tickets", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    // Metrics are not public.
    let (s, _) = app.call(None, Method::GET, "/metrics", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The document lists every error status on every operation, and the
    // access log as the page it is.
    let (_, doc) = app.call(None, Method::GET, "/api/openapi.json", None, None).await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for code in ["400", "401", "403", "404", "409", "413", "422", "429"] {
                assert!(op["responses"].get(code).is_some(), "{method} {path} does not document {code}");
            }
        }
    }
    let log = &doc["paths"]["/api/v1/access-log"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(!log.to_string().contains("\"array\""), "access log is a page, not an array: {log}");
}

// --- hole 1: staff can act as the customer ---

/// Posts a portal form without following the redirect.
async fn portal_form(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = client.post(format!("{}{path}", app.base)).form(fields).send().await.unwrap();
    let status = r.status();
    let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_string());
    (status, location.unwrap_or(r.text().await.unwrap()))
}

async fn staff_never_hold_the_customers_link(app: TestApp) {
    let t = app.create("agent1", ticket_body("fault")).await;
    let id = t["id"].clone();
    assert_eq!(t["assignee"]["username"], "engineer1", "dispatched at registration");
    for (who, body) in [
        ("engineer1", json!({"action": "start"})),
        ("engineer1", json!({"action": "resolve", "result": "已更换光猫"})),
        ("agent1", json!({"action": "notify_result", "method": "sms"})),
    ] {
        let (s, b) = app.act(who, &id, body).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    assert_eq!((app.loop_jobs)().await.0, 2, "receipt and result sent");
    // The customer's phone got the links …
    let sent = std::fs::read_to_string(&app.messages_log).unwrap();
    assert_eq!(sent.matches("/portal/t/").count(), 2, "{sent}");
    // … no staff view of the messages holds one.
    for user in ["agent1", "engineer1", "supervisor1", "inspector1"] {
        let (s, msgs) = app.get(user, &format!("/api/v1/tickets/{id}/messages")).await;
        assert_eq!(s, StatusCode::OK, "{user}: {msgs}");
        let text = msgs.to_string();
        assert!(!text.contains("/portal/t/"), "{user} sees a customer link: {text}");
        assert!(text.contains("客户专用链接"), "{user}: {text}");
    }
    let (_, events) = app.get("supervisor1", &format!("/api/v1/tickets/{id}/events")).await;
    assert!(!events.to_string().contains("/portal/t/"));
    // Someone who looks the ticket up by number and phone gets a link of
    // another kind, and what they do is recorded as such …
    let number = t["number"].as_str().unwrap();
    let (s, to) = portal_form(&app, "/portal/lookup", &[("number", number), ("phone", "13812345678")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{to}");
    let (s, _) = portal_form(&app, &format!("{to}/confirm"), &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, events) = app.get("supervisor1", &format!("/api/v1/tickets/{id}/events")).await;
    let last = events.as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["action"].as_str(), last["actor_name"].as_str()), (Some("confirm"), Some("customer:lookup")));
    assert!(last["actor"].is_null(), "no staff account acted");
}

// --- hole 3: masking gaps ---

async fn personal_data_is_masked_wherever_it_is_written(app: TestApp) {
    let mut b = ticket_body("fault");
    b["description"] = json!(
        "客户另留电话139-8765-4321、139 8765 4321、+86 139 8765 4321、8613987654321，上门地址朝阳区建设路1号3单元502室"
    );
    b["location"] = json!("北京市朝阳区建设路1号3单元502室");
    b["submitted_by"] = json!("李四");
    let t = app.create("agent1", b).await;
    let id = t["id"].clone();
    // The engineer hands it to the complaint specialist, who so sees it too.
    app.act("engineer1", &id, json!({"action": "start"})).await;
    let transfer = json!({"action": "transfer", "to": "specialist1", "reason": "客户要求投诉处理", "mode": "system"});
    let (s, b) = app.act("engineer1", &id, transfer).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = app
        .post(
            "agent1",
            &format!("/api/v1/tickets/{id}/comments"),
            json!({"body": "回拨 139 8765 4321 未接通", "internal": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for user in ["agent1", "engineer1", "specialist1", "supervisor1", "inspector1", "admin"] {
        let (_, v) = app.get(user, &format!("/api/v1/tickets/{id}")).await;
        let (_, events) = app.get(user, &format!("/api/v1/tickets/{id}/events")).await;
        let (_, comments) = app.get(user, &format!("/api/v1/tickets/{id}/comments")).await;
        let seen = format!("{v}{events}{comments}");
        let phone_full = matches!(user, "specialist1");
        let address_full = matches!(user, "engineer1");
        for written in ["139-8765-4321", "139 8765 4321", "8613987654321", "13987654321"] {
            assert_eq!(seen.contains(written), phone_full, "{user} and {written}: {seen}");
        }
        assert_eq!(seen.contains("建设路1号"), address_full, "{user}: {seen}");
        // The service number is the customer's phone: as open as the phone.
        assert_eq!(v["service_number"] == "13812345678", phone_full, "{user}: {}", v["service_number"]);
        let names_full = !matches!(user, "inspector1" | "admin");
        assert_eq!(v["submitted_by"] == "李四", names_full, "{user}: {}", v["submitted_by"]);
    }
    // The engineer reveals the service number like the phone: logged.
    let (s, r) = app
        .post(
            "engineer1",
            &format!("/api/v1/tickets/{id}/reveal"),
            json!({"field": "service_number", "reason": "上门维修前需电话预约客户时间"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r["access_log_id"].as_i64().unwrap() > 0);
}

// --- hole 5: no need-to-know ---

/// The role × relation × action matrix, generated from the policy: each
/// staff member stands in a known relation to one ticket (handler, first
/// owner, team member, other team, a transfer, supervisor, inspector), and
/// seeing, listing, noting, replying, acting and revealing answer as the
/// policy's `[access.see]` and `[access.act]` say — 404 for those who may
/// not see it, exactly as for a ticket that does not exist.
async fn people_see_and_act_on_their_tickets_only(app: TestApp) {
    use kefu_domain::access::Relation as R;
    let need = kefu_domain::policy::Policy::defaults().access;
    app.post("admin", "/api/v1/departments", json!({"code": "service", "name": "客服部"})).await;
    for (code, name) in [("hotline", "热线一组"), ("network", "网络维护组")] {
        let (s, b) =
            app.post("admin", "/api/v1/teams", json!({"department": "service", "code": code, "name": name})).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    for (user, team) in
        [("agent1", "hotline"), ("agent2", "hotline"), ("engineer1", "hotline"), ("specialist1", "network")]
    {
        let (s, b) = app.put("supervisor1", &format!("/api/v1/users/{user}/profile"), json!({"team": team})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let t = app.create("agent1", ticket_body("consultation")).await;
    let id = t["id"].clone();
    let (s, b) = app.act("agent1", &id, json!({"action": "dispatch", "assignee": "agent2"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let unknown = app.create("agent2", ticket_body("consultation")).await["id"].as_i64().unwrap() + 1000;
    let relations: &[(&str, &[R])] = &[
        ("agent1", &[R::FirstOwner, R::Team]),
        ("agent2", &[R::Assignee, R::Team]),
        ("engineer1", &[R::Team]),
        ("specialist1", &[]),
        ("supervisor1", &[]),
        ("inspector1", &[]),
        ("admin", &[]),
    ];
    let endpoint_allows =
        |endpoint: &str, role| kefu_domain::policy::Policy::defaults().access.allows(endpoint, role).unwrap_or(false);
    for (user, rels) in relations {
        let role = USERS.iter().find(|(u, _)| u == user).unwrap().1;
        let (see, act) = (need.may_see(role, rels), need.may_act(role, rels));
        let hidden = |s: StatusCode, what: &str| {
            assert_eq!(s, StatusCode::NOT_FOUND, "{user} ({rels:?}) must not see the ticket: {what}");
        };
        // The ticket and its records.
        for path in ["", "/events", "/comments", "/transfers", "/messages"] {
            let endpoint = format!("GET /api/v1/tickets/{{id}}{path}");
            if !endpoint_allows(&endpoint, role) {
                continue;
            }
            let (s, b) = app.get(user, &format!("/api/v1/tickets/{id}{path}")).await;
            match see {
                true => assert_eq!(s, StatusCode::OK, "{user} sees {path}: {b}"),
                false => hidden(s, path),
            }
            if path.is_empty() && see && !act {
                assert_eq!(b["allowed_actions"], json!([]), "{user} is offered no action");
            }
            // Not seeing looks exactly like not existing.
            let (s2, b2) = app.get(user, &format!("/api/v1/tickets/{unknown}{path}")).await;
            if !see {
                assert_eq!((s, b.clone()), (s2, b2), "{user}: {path} tells hidden from missing");
            }
        }
        // Lists.
        let (_, list) = app.get(user, "/api/v1/tickets?per_page=500").await;
        let listed = list["items"].as_array().unwrap().iter().any(|x| x["id"] == id);
        assert_eq!(listed, see, "{user} lists it");
        // An internal note needs to see it; a reply to the customer and an
        // action need to be one of its people.
        if endpoint_allows("POST /api/v1/tickets/{id}/comments", role) {
            let note = json!({"body": format!("{user} 的备注"), "internal": true});
            let (s, b) = app.post(user, &format!("/api/v1/tickets/{id}/comments"), note).await;
            match see {
                true => assert_eq!(s, StatusCode::CREATED, "{user} notes: {b}"),
                false => hidden(s, "note"),
            }
            let reply = json!({"body": "您好，已为您查询", "internal": false});
            let (s, b) = app.post(user, &format!("/api/v1/tickets/{id}/comments"), reply).await;
            match (see, act) {
                (true, true) => assert_eq!(s, StatusCode::CREATED, "{user} replies: {b}"),
                (true, false) => assert_eq!(s, StatusCode::FORBIDDEN, "{user} may not reply: {b}"),
                (false, _) => hidden(s, "reply"),
            }
        }
        // An action that leaves the ticket open (the team queue is open tickets).
        let (s, b) =
            app.act(user, &id, json!({"action": "set_priority", "priority": "important", "reason": "客户催办"})).await;
        if !see {
            hidden(s, "set_priority");
        } else if !act {
            assert_eq!(s, StatusCode::FORBIDDEN, "{user} may not act: {b}");
            assert!(b["error"]["message_zh"].as_str().unwrap().contains("处理关系"), "{b}");
        } else {
            assert_ne!(s, StatusCode::NOT_FOUND, "{user}: {b}");
        }
        let reveal = json!({"field": "customer.phone", "reason": "回访客户"});
        let (s, _) = app.post(user, &format!("/api/v1/tickets/{id}/reveal"), reveal).await;
        if !see {
            hidden(s, "reveal");
        }
    }
    // A transfer makes its receiver one of the ticket's people, and the
    // sender stays one after it was accepted.
    let fresh = app.create("agent1", ticket_body("consultation")).await["id"].clone();
    app.act("agent1", &fresh, json!({"action": "dispatch", "assignee": "agent2"})).await;
    assert_eq!(app.get("specialist1", &format!("/api/v1/tickets/{fresh}")).await.0, StatusCode::NOT_FOUND);
    let transfer = json!({"action": "transfer", "to": "specialist1", "reason": "需要专员跟进", "mode": "system"});
    assert_eq!(app.act("agent2", &fresh, transfer).await.0, StatusCode::OK);
    assert_eq!(app.get("specialist1", &format!("/api/v1/tickets/{fresh}")).await.0, StatusCode::OK);
    let (s, b) = app.act("specialist1", &fresh, json!({"action": "accept_transfer"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(app.get("agent2", &format!("/api/v1/tickets/{fresh}")).await.0, StatusCode::OK);
    // A reveal needs a real reason: one from the policy's list or written out.
    for reason in ["x", "核对", "xxxxxxxxxxxxxxxx"] {
        let (s, b) = app
            .post(
                "agent1",
                &format!("/api/v1/tickets/{fresh}/reveal"),
                json!({"field": "customer.phone", "reason": reason}),
            )
            .await;
        assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("reason")), "{reason}");
    }
    let written = json!({"field": "customer.phone", "reason": "客户来电要求核对登记的联系电话"});
    assert_eq!(app.post("agent1", &format!("/api/v1/tickets/{fresh}/reveal"), written).await.0, StatusCode::OK);
    // A customer is revealed only to someone with one of their tickets.
    let customer = t["customer"]["id"].as_i64().unwrap();
    let body = json!({"field": "customer.phone", "reason": "回访客户"});
    let (s, _) = app.post("engineer1", &format!("/api/v1/customers/{customer}/reveal"), body.clone()).await;
    assert_eq!(s, StatusCode::OK, "engineer1 is in the team the customer's ticket is with");
    let (s, _) = app.post("specialist1", &format!("/api/v1/customers/{customer}/reveal"), body).await;
    assert_eq!(s, StatusCode::OK, "specialist1 holds the transferred ticket");
}

mod need_to_know {
    use super::*;
    both_stores!(policy = manual_dispatch(); people_see_and_act_on_their_tickets_only);
    async fn people_see_and_act_on_their_tickets_only(app: TestApp) {
        super::people_see_and_act_on_their_tickets_only(app).await
    }
}

both_stores!(
    personal_data_is_masked_wherever_it_is_written,
    staff_never_hold_the_customers_link,
    stray_characters_get_an_answer,
    arbitrary_unicode_in_every_field_is_answered,
    nobody_can_lock_the_staff_out_or_learn_who_exists,
    ambiguous_requests_are_refused,
    idempotency_keys_are_scoped_and_bound_to_their_request,
    every_error_is_json_and_documented,
);

mod limited {
    use super::common::*;

    fn limits() -> kefu_server::ServeLimits {
        kefu_server::ServeLimits {
            header_timeout_secs: 1,
            body_timeout_secs: 1,
            max_connections_per_address: 4,
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_clients_are_cut_off() {
        super::slow_clients_are_cut_off(spawn_app_limited(Backend::Sqlite, limits()).await).await;
    }
}
