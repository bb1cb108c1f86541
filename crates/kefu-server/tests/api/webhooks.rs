//! Webhooks and the TMF621 hub (issue 22): every change of a ticket reaches
//! the endpoints that want it, signed by the Standard Webhooks scheme and
//! verified by a receiver the test runs, in order, with the state the change
//! made and no personal data; a 503 is retried after its wait; an endpoint
//! that keeps failing is switched off, switched on again by an
//! administrator, and a delivery replayed; a TMF subscriber is told of
//! creation, status changes and deletion with the specification's payloads.

use crate::common;

use common::*;
use kefu_domain::clock::Clock;
use kefu_domain::policy::Policy;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn policy() -> Policy {
    let mut p = Policy::defaults();
    p.dispatch.on_create = false;
    p.webhooks.retry_seconds = vec![5, 5, 5, 5];
    p.webhooks.disable_after = 3;
    p
}

both_stores!(policy = super::policy();
    webhooks_carry_every_change_signed_in_order,
    a_failing_endpoint_is_retried_switched_off_and_replayed,
    administrators_register_endpoints_and_bad_ones_are_refused,
    a_tmf_subscriber_follows_its_tickets,
    v5_speaks_its_own_words_over_the_same_tickets,
    administrators_keep_endpoints_in_the_console,
);

fn verified(r: &Received, secret: &str, now: i64) -> Value {
    assert!(
        kefu_server::webhooks::verify(secret, &r.id, r.timestamp, &r.signature, &r.body, now, 300),
        "signature of {} verifies",
        r.id
    );
    r.json()
}

async fn register(app: &TestApp, url: &str, events: Value) -> (i64, String) {
    let (s, h) =
        app.post("admin", "/api/v1/webhooks", json!({"url": url, "events": events, "description": "网管"})).await;
    assert_eq!(s, StatusCode::CREATED, "{h}");
    (h["id"].as_i64().unwrap(), h["secret"].as_str().unwrap().to_string())
}

async fn walk(app: &TestApp) -> Value {
    let t = app.create("agent1", ticket_body("fault")).await;
    for (who, body) in [
        ("agent1", json!({"action": "dispatch", "assignee": "engineer1"})),
        ("engineer1", json!({"action": "start"})),
        ("engineer1", json!({"action": "resolve", "result": "已更换光猫"})),
    ] {
        let (s, b) = app.act(who, &t["id"], body).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    t
}

async fn webhooks_carry_every_change_signed_in_order(app: TestApp) {
    let (all, all_rx) = Receiver::start(&[]).await;
    let (resolved, resolved_rx) = Receiver::start(&[]).await;
    let (_, secret) = register(&app, &all_rx, json!([])).await;
    let (_, secret2) = register(&app, &resolved_rx, json!(["ticket.resolved"])).await;
    let t = walk(&app).await;
    let (s, b) =
        app.post("agent1", &format!("/api/v1/tickets/{}/comments", t["id"]), json!({"body": "已电话回访"})).await;
    assert!(s.is_success(), "{b}");
    assert!((app.events)().await >= 5);
    let now = app.clock.now().timestamp();
    let got: Vec<Value> = all.all().iter().map(|r| verified(r, &secret, now)).collect();
    let kinds: Vec<&str> = got.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ticket.created", "ticket.changed", "ticket.changed", "ticket.resolved", "ticket.changed"]);
    // In order, each with the state its change made, ids stable per change.
    let seqs: Vec<i64> = got.iter().map(|e| e["data"]["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let states: Vec<&str> = got.iter().map(|e| e["data"]["ticket"]["status"].as_str().unwrap()).collect();
    assert_eq!(states, ["accepted", "dispatched", "in_progress", "resolved", "resolved"]);
    assert_eq!(got[1]["data"]["changes"]["assignee"], json!({"from": null, "to": "engineer1"}));
    assert_eq!(got[1]["data"]["ticket"]["assignee"], "engineer1");
    assert_eq!(got[3]["data"]["action_zh"], "办结");
    assert_eq!(got[0]["id"], format!("evt_{}_1", t["id"]));
    assert_eq!(all.all()[0].id, format!("evt_{}_1", t["id"]), "the header is the event id");
    assert_eq!(got[0]["data"]["number"], t["number"]);
    // No personal data travels.
    let text = all.all().iter().map(|r| r.body.clone()).collect::<String>();
    for secret_bit in
        ["张三", "13812345678", "11010519491231002X", "建设路", "宽带频繁掉线", "已更换光猫", "已电话回访"]
    {
        assert!(!text.contains(secret_bit), "{secret_bit} stays in kefu");
    }
    // The filtered endpoint got the resolution only.
    let only: Vec<Value> = resolved.all().iter().map(|r| verified(r, &secret2, now)).collect();
    assert_eq!(only.iter().map(|e| e["type"].as_str().unwrap()).collect::<Vec<_>>(), ["ticket.resolved"]);
    // Nothing is sent twice.
    assert_eq!((app.events)().await, 0);
    assert_eq!(all.all().len(), 5);
}

async fn a_failing_endpoint_is_retried_switched_off_and_replayed(app: TestApp) {
    let (rx, url) = Receiver::start(&[503]).await;
    let (id, secret) = register(&app, &url, json!(["ticket.created", "ticket.changed"])).await;
    let t = app.create("agent1", ticket_body("fault")).await;
    let (s, _) = app.act("agent1", &t["id"], json!({"action": "dispatch", "assignee": "engineer1"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((app.events)().await, 1, "the first try fails; the second event waits behind it");
    assert_eq!(rx.all().len(), 1);
    assert_eq!((app.events)().await, 0, "not due before its wait");
    app.clock.advance(chrono::Duration::seconds(6));
    assert_eq!((app.events)().await, 2, "the retry, then the next in line");
    let ids: Vec<String> = rx.all().iter().map(|r| r.id.clone()).collect();
    let first = format!("evt_{}_1", t["id"]);
    assert_eq!(ids, [first.clone(), first.clone(), format!("evt_{}_2", t["id"])], "retried with the same id, in order");
    let (_, log) = app.get("admin", &format!("/api/v1/webhooks/{id}/deliveries")).await;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!((items[1]["state"].as_str(), items[1]["attempts"].as_i64()), (Some("delivered"), Some(2)));
    assert_eq!(items[1]["state_zh"], "已投递");
    assert_eq!(items[1]["payload"]["type"], "ticket.created");

    // A receiver that keeps failing: switched off after 3 failures in a row.
    rx.answer(503);
    let (s, _) = app.act("engineer1", &t["id"], json!({"action": "start"})).await;
    assert_eq!(s, StatusCode::OK);
    for _ in 0..4 {
        (app.events)().await;
        app.clock.advance(chrono::Duration::seconds(6));
    }
    let (_, h) = app.get("admin", &format!("/api/v1/webhooks/{id}")).await;
    assert_eq!((h["enabled"].as_bool(), h["failures"].as_i64()), (Some(false), Some(3)), "{h}");
    assert!(h["disabled_reason"].as_str().unwrap().contains("连续3次"));
    assert!(h.get("secret").is_none(), "the secret is shown once");
    let tries = rx.all().len();
    assert_eq!(tries, 6);
    let (_, log) = app.get("admin", &format!("/api/v1/webhooks/{id}/deliveries?limit=1")).await;
    let stuck = &log["items"][0];
    assert_eq!((stuck["state"].as_str(), stuck["last_status"].as_i64()), (Some("pending"), Some(503)));
    assert_eq!(stuck["last_error"], "answered 503 Service Unavailable");
    assert!(log["next_before"].is_i64());
    // Switched on again once the receiver is fixed: the held event goes out.
    rx.answer(204);
    let (s, h) = app
        .call(Some("admin"), Method::PATCH, &format!("/api/v1/webhooks/{id}"), Some(json!({"enabled": true})), None)
        .await;
    assert_eq!((s, h["failures"].as_i64(), h["disabled_reason"].clone()), (StatusCode::OK, Some(0), Value::Null));
    assert_eq!((app.events)().await, 1);
    let last = rx.all().last().unwrap().clone();
    assert_eq!(verified(&last, &secret, app.clock.now().timestamp())["data"]["ticket"]["status"], "in_progress");
    // A replay sends a delivered event again, same id and body.
    let first_id = items[1]["id"].as_i64().unwrap();
    let (s, d) = app.post("admin", &format!("/api/v1/webhooks/{id}/deliveries/{first_id}/replay"), json!({})).await;
    assert_eq!((s, d["state"].as_str()), (StatusCode::OK, Some("pending")), "{d}");
    assert_eq!((app.events)().await, 1);
    let again = rx.all().last().unwrap().clone();
    assert_eq!((again.id.as_str(), again.body == rx.all()[1].body), (first.as_str(), true));
    let (s, e) = app.post("admin", &format!("/api/v1/webhooks/{id}/deliveries/999999/replay"), json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
}

async fn administrators_register_endpoints_and_bad_ones_are_refused(app: TestApp) {
    let path = "/api/v1/webhooks";
    for (body, field) in [
        (json!({"url": "ftp://example.com/x"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (json!({"url": "http://127.0.0.1:9/x", "events": ["ticket.exploded"]}), "events"),
        (json!({"url": "http://127.0.0.1:9/x", "colour": "red"}), "colour"),
        (json!({"url": 7}), "url"),
        (json!({"url": "http://127.0.0.1:9/x", "description": "长".repeat(201)}), "description"),
    ] {
        let (s, e) = app.post("admin", path, body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {e}");
        assert_eq!(e["error"]["field"], field, "{e}");
        assert!(e["error"]["message_zh"].is_string(), "{e}");
    }
    let (s, _) = app.post("agent1", path, json!({"url": "http://127.0.0.1:9/x"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.get("supervisor1", path).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, h) = app
        .post("admin", path, json!({"url": "http://127.0.0.1:9/x", "events": ["sla.breached", "sla.breached"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!((h["events"].clone(), h["events_zh"].clone()), (json!(["sla.breached"]), json!(["时限超时"])));
    assert!(h["secret"].as_str().unwrap().starts_with("whsec_"));
    let (_, list) = app.get("admin", path).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("secret").is_none());
    let id = h["id"].as_i64().unwrap();
    let (s, e) = app
        .call(Some("admin"), Method::PATCH, &format!("{path}/{id}"), Some(json!({"url": "javascript:x"})), None)
        .await;
    assert_eq!((s, e["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("url")));
    let (s, _) = app.get("admin", &format!("{path}/{id}/deliveries?limit=x")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app.call(Some("admin"), Method::DELETE, &format!("{path}/{id}"), None, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    for p in [format!("{path}/{id}"), format!("{path}/abc"), format!("{path}/{id}/deliveries")] {
        let (s, _) = app.get("admin", &p).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{p}");
    }
}

const TMF: &str = "/tmf-api/troubleTicket/v4";

async fn a_tmf_subscriber_follows_its_tickets(app: TestApp) {
    let (rx, url) = Receiver::start(&[]).await;
    let query = "eventType=TroubleTicketCreateEvent,TroubleTicketStatusChangeEvent,TroubleTicketResolvedEvent,TroubleTicketDeleteEvent";
    let (s, hub) = app.post("supervisor1", &format!("{TMF}/hub"), json!({"callback": url, "query": query})).await;
    assert_eq!(s, StatusCode::CREATED, "{hub}");
    let (hub_id, secret) = (hub["id"].as_str().unwrap().to_string(), hub["secret"].as_str().unwrap().to_string());
    assert_eq!(hub["callback"], url);
    // Created by TMF, worked in kefu, one more withdrawn by TMF DELETE.
    let tt = json!({"description": "OSS告警：光猫离线", "severity": "Major", "ticketType": "fault", "name": "光猫离线",
                    "relatedParty": [{"id": "13912340000", "name": "赵六", "role": "customer"}]});
    let (s, created) = app.post("agent1", &format!("{TMF}/troubleTicket"), tt.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id: Value = created["id"].as_str().unwrap().parse::<i64>().unwrap().into();
    for (who, body) in [
        ("agent1", json!({"action": "dispatch", "assignee": "engineer1"})),
        ("engineer1", json!({"action": "set_priority", "priority": "urgent", "reason": "影响面扩大"})),
        ("engineer1", json!({"action": "start"})),
        ("engineer1", json!({"action": "resolve", "result": "已恢复"})),
    ] {
        let (s, b) = app.act(who, &id, body).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (_, other) = app.post("agent1", &format!("{TMF}/troubleTicket"), tt).await;
    let other_id = other["id"].as_str().unwrap();
    let (s, _) = app.call(Some("agent1"), Method::DELETE, &format!("{TMF}/troubleTicket/{other_id}"), None, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, gone) = app.get("agent1", &format!("{TMF}/troubleTicket/{other_id}")).await;
    assert_eq!(gone["status"], "cancelled", "withdrawn, still on record");
    let (s, e) = app.call(Some("engineer1"), Method::DELETE, &format!("{TMF}/troubleTicket/{id}"), None, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "a resolved ticket cannot be withdrawn: {e}");
    assert!(e["code"].is_string() && e["reason"].is_string(), "TMF error body: {e}");
    (app.events)().await;
    let now = app.clock.now().timestamp();
    let got: Vec<Value> = rx.all().iter().map(|r| verified(r, &secret, now)).collect();
    let seen: Vec<(String, String, String)> = got
        .iter()
        .map(|e| {
            let t = &e["event"]["troubleTicket"];
            (
                e["eventType"].as_str().unwrap().into(),
                t["id"].as_str().unwrap().into(),
                t["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    let (a, b) = (id.to_string(), other_id.to_string());
    let want = |k: &str, i: &str, st: &str| (k.to_string(), i.to_string(), st.to_string());
    assert_eq!(
        seen,
        [
            want("TroubleTicketCreateEvent", &a, "acknowledged"),
            want("TroubleTicketStatusChangeEvent", &a, "inProgress"),
            want("TroubleTicketResolvedEvent", &a, "resolved"),
            want("TroubleTicketCreateEvent", &b, "acknowledged"),
            want("TroubleTicketStatusChangeEvent", &b, "cancelled"),
            want("TroubleTicketDeleteEvent", &b, "cancelled"),
        ],
        "the priority change and start pass the query's filter only when they change the status"
    );
    assert!(got.iter().all(|e| e["eventId"].is_string() && e["eventTime"].is_string()));
    assert_eq!(got[0]["event"]["troubleTicket"]["severity"], "Critical", "as it is now");
    // The hub reads back, another supervisor does not see it, deletion stops it.
    let (s, h) = app.get("supervisor1", &format!("{TMF}/hub/{hub_id}")).await;
    assert_eq!((s, h["query"].as_str(), h.get("secret")), (StatusCode::OK, Some(query), None));
    let (s, _) = app.get("agent1", &format!("{TMF}/hub/{hub_id}")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.call(Some("supervisor1"), Method::DELETE, &format!("{TMF}/hub/{hub_id}"), None, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, e) = app.get("supervisor1", &format!("{TMF}/hub/{hub_id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e["code"], "404", "{e}");
    let (s, _) = app.act("engineer1", &id, json!({"action": "notify_result", "method": "phone"})).await;
    let _ = s;
    (app.events)().await;
    assert_eq!(rx.all().len(), got.len(), "nothing after unsubscribing");
    // Bad registrations: the TMF error body naming the field.
    for (body, field) in [
        (json!({"query": "eventType=TroubleTicketCreateEvent"}), "callback"),
        (json!({"callback": "http://127.0.0.1:9/x", "query": "eventType=Nope"}), "query"),
        (json!({"callback": "mailto:x@y"}), "callback"),
        (json!({"callback": "http://127.0.0.1:9/x", "filter": "x"}), "filter"),
    ] {
        let (s, e) = app.post("supervisor1", &format!("{TMF}/hub"), body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body} → {e}");
        assert!(e["message"].as_str().unwrap().contains(field), "{e}");
    }
}

async fn v5_speaks_its_own_words_over_the_same_tickets(app: TestApp) {
    const V5: &str = "/tmf-api/troubleTicket/v5";
    let (rx, url) = Receiver::start(&[]).await;
    let (s, hub) = app.post("supervisor1", &format!("{V5}/hub"), json!({"callback": url})).await;
    assert_eq!(s, StatusCode::CREATED, "{hub}");
    let secret = hub["secret"].as_str().unwrap().to_string();
    let body = json!({"description": "OSS告警：基站退服", "severity": "Critical", "ticketType": "fault", "@type": "TroubleTicket",
        "relatedParty": [{"role": "customer", "@type": "RelatedPartyRefOrPartyRoleRef",
                          "partyOrPartyRole": {"id": "13912340001", "name": "钱七", "@type": "PartyRef", "@referredType": "Individual"}}],
        "externalIdentifier": [{"id": "NMS-778", "owner": "NMS"}]});
    let (s, tt) = app.post("agent1", &format!("{V5}/troubleTicket"), body).await;
    assert_eq!(s, StatusCode::CREATED, "{tt}");
    assert!(tt.get("externalId").is_none());
    assert!(tt["externalIdentifier"][0]["id"].as_str().unwrap().starts_with("GD"));
    assert!(tt["href"].as_str().unwrap().contains("/troubleTicket/v5/troubleTicket/"));
    let customer = tt["relatedParty"].as_array().unwrap().iter().find(|p| p["role"] == "customer").unwrap();
    assert_eq!(customer["partyOrPartyRole"]["name"], "钱七");
    let id = tt["id"].as_str().unwrap();
    // The same ticket by v4, in v4's words.
    let (_, v4) = app.get("agent1", &format!("{TMF}/troubleTicket/{id}")).await;
    assert_eq!(v4["externalId"], tt["externalIdentifier"][0]["id"]);
    let r = app
        .client
        .get(format!("{}{V5}/troubleTicket?limit=1", app.base))
        .bearer_auth(&app.tokens["agent1"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-result-count"], "1");
    let list: Value = r.json().await.unwrap();
    assert!(list[0]["externalIdentifier"].is_array());
    let (s, e) = app.get("agent1", &format!("{V5}/troubleTicket?colour=red")).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::BAD_REQUEST, Some("400")));
    let (s, p) = app
        .call(
            Some("agent1"),
            Method::PATCH,
            &format!("{V5}/troubleTicket/{id}"),
            Some(json!({"severity": "Minor"})),
            None,
        )
        .await;
    assert_eq!((s, p["severity"].as_str()), (StatusCode::OK, Some("Minor")), "{p}");
    (app.events)().await;
    let got: Vec<Value> = rx.all().iter().map(|r| verified(r, &secret, app.clock.now().timestamp())).collect();
    assert_eq!(got[0]["eventType"], "TroubleTicketCreateEvent");
    let t = &got[0]["event"]["troubleTicket"];
    assert!(t["externalIdentifier"].is_array() && t.get("externalId").is_none(), "{t}");
    assert_eq!(got[1]["eventType"], "TroubleTicketAttributeValueChangeEvent");
    assert_eq!(got[1]["fieldPath"], "priority");
    let hub_id = hub["id"].as_str().unwrap();
    let (s, _) = app.call(Some("supervisor1"), Method::DELETE, &format!("{V5}/hub/{hub_id}"), None, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

/// The console's page: add an endpoint (the secret shown once), see it fail
/// and get switched off with its reason in Chinese, switch it on, read the
/// delivery log and send a delivery again; other roles are turned away.
async fn administrators_keep_endpoints_in_the_console(app: TestApp) {
    let (rx, url) = Receiver::start(&[]).await;
    rx.answer(500);
    let admin = console_login(&app, "admin").await;
    let (s, page) = console_get(&app, &admin, "/console/webhooks").await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("尚无回调地址") && page.contains("工单办结"), "event types by their Chinese names");
    let form =
        [("form_token", "t1"), ("url", url.as_str()), ("description", "数据仓库<b>"), ("event_ticket.created", "1")];
    let (s, _, page) = console_form(&app, &admin, "/console/webhooks", &form).await;
    assert_eq!(s, StatusCode::CREATED, "{page}");
    assert!(page.contains("whsec_"), "the secret, once");
    assert!(page.contains("数据仓库") && !page.contains("数据仓库<b>"), "escaped");
    let (_, page) = console_get(&app, &admin, "/console/webhooks").await;
    assert!(!page.contains("whsec_") && page.contains("工单受理"));
    let (s, _, page) = console_form(&app, &admin, "/console/webhooks", &[("url", "ftp://x")]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("form-error"));
    let (_, list) = app.get("admin", "/api/v1/webhooks").await;
    let id = list[0]["id"].as_i64().unwrap();
    app.create("agent1", ticket_body("fault")).await;
    for _ in 0..3 {
        (app.events)().await;
        app.clock.advance(chrono::Duration::seconds(6));
    }
    let (_, page) = console_get(&app, &admin, "/console/webhooks").await;
    assert!(page.contains("已停用") && page.contains("连续3次投递失败"), "{page}");
    let (_, page) = console_get(&app, &admin, &format!("/console/webhooks/{id}")).await;
    assert!(page.contains("待投递") && page.contains("answered 500"), "{page}");
    rx.answer(204);
    let (s, to, _) = console_form(&app, &admin, &format!("/console/webhooks/{id}"), &[("enabled", "true")]).await;
    assert_eq!((s, to.as_str()), (StatusCode::SEE_OTHER, "/console/webhooks"));
    (app.events)().await;
    let (_, log) = app.get("admin", &format!("/api/v1/webhooks/{id}/deliveries")).await;
    let delivery = log["items"][0]["id"].as_i64().unwrap();
    assert_eq!(log["items"][0]["state"], "delivered");
    let path = format!("/console/webhooks/{id}/replay/{delivery}");
    let (s, to, _) = console_form(&app, &admin, &path, &[("form_token", "t2")]).await;
    assert_eq!((s, to), (StatusCode::SEE_OTHER, format!("/console/webhooks/{id}")));
    let before = rx.all().len();
    (app.events)().await;
    assert_eq!(rx.all().len(), before + 1, "sent again");
    let (_, page) = console_get(&app, &admin, &format!("/console/webhooks/{id}")).await;
    assert!(page.contains("已投递"));
    let sup = console_login(&app, "supervisor1").await;
    let (s, _) = console_get(&app, &sup, "/console/webhooks").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}
