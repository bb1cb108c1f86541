//! The TMF621 Trouble Ticket v4 façade's reads (issue 22): kefu tickets, as
//! the caller may see them, as `TroubleTicket` resources — the mapping of
//! type, priority, state, dates, parties, service, notes, files and status
//! history; `fields`, `offset`/`limit` with `X-Total-Count`/`X-Result-Count`;
//! the attribute filters; the specification's error body.

use crate::common;

use common::*;
use kefu_domain::policy::Policy;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn policy() -> Policy {
    let mut p = Policy::defaults();
    p.dispatch.on_create = false;
    p
}

both_stores!(policy = super::policy();
    a_ticket_reads_as_a_trouble_ticket,
    lists_page_filter_and_refuse_as_the_specification_says,
    a_client_creates_a_ticket_by_tmf_and_follows_it,
    a_patch_moves_the_ticket_through_its_own_flow,
    the_specifications_own_example_goes_through,
);

const BASE: &str = "/tmf-api/troubleTicket/v4/troubleTicket";

async fn tmf(app: &TestApp, user: &str, path: &str) -> (StatusCode, Value, Option<(String, String)>) {
    let r = app.client.get(format!("{}{path}", app.base)).bearer_auth(&app.tokens[user]).send().await.unwrap();
    let status = r.status();
    let h = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    let counts = h("x-total-count").zip(h("x-result-count"));
    (status, r.json().await.unwrap(), counts)
}

async fn a_ticket_reads_as_a_trouble_ticket(app: TestApp) {
    let t = app.create("agent1", ticket_body("fault")).await;
    let id = t["id"].clone();
    for (who, body) in
        [("agent1", json!({"action": "dispatch", "assignee": "engineer1"})), ("engineer1", json!({"action": "start"}))]
    {
        let (s, b) = app.act(who, &id, body).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = app
        .post(
            "engineer1",
            &format!("/api/v1/tickets/{id}/comments"),
            json!({"body": "已联系客户，约好上门", "internal": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, tt, _) = tmf(&app, "supervisor1", &format!("{BASE}/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{tt}");
    assert_eq!(tt["id"], id.to_string());
    assert!(tt["href"].as_str().unwrap().ends_with(&format!("{BASE}/{id}")), "{tt}");
    assert_eq!(tt["externalId"], t["number"]);
    assert_eq!((tt["name"].as_str(), tt["ticketType"].as_str()), (Some("宽带频繁掉线"), Some("fault")));
    assert_eq!(
        (tt["severity"].as_str(), tt["priority"].as_str()),
        (Some("Critical"), Some("High")),
        "faults are urgent"
    );
    assert_eq!(tt["status"], "inProgress");
    let history: Vec<&str> =
        tt["statusChange"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(history, ["acknowledged", "inProgress", "inProgress"], "{tt}");
    assert_eq!(tt["channel"], json!({"id": "phone", "name": "电话", "@referredType": "Channel"}));
    let roles: Vec<&str> = tt["relatedParty"].as_array().unwrap().iter().map(|p| p["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["customer", "originator", "assignee"]);
    assert_eq!(tt["relatedParty"][0]["@referredType"], "Individual");
    assert_eq!(tt["relatedEntity"][0]["role"], "serviceNumber");
    assert_eq!(tt["relatedEntity"][0]["id"], "138****5678", "masked for the role, like every read");
    assert_eq!(
        (tt["note"][0]["text"].as_str(), tt["note"][0]["@type"].as_str()),
        (Some("已联系客户，约好上门"), Some("InternalNote"))
    );
    assert!(tt["expectedResolutionDate"].is_string() && tt["creationDate"].is_string(), "{tt}");
    assert_eq!(tt["@type"], "TroubleTicket");

    // `fields` selects (id and href always there).
    let (_, some, _) = tmf(&app, "supervisor1", &format!("{BASE}/{id}?fields=status,externalId")).await;
    let mut keys: Vec<&str> = some.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["externalId", "href", "id", "status"]);

    // Need to know, and the specification's errors.
    let (s, e, _) = tmf(&app, "agent2", &format!("{BASE}/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        (e["code"].as_str(), e["reason"].as_str(), e["status"].as_str()),
        (Some("404"), Some("Not Found"), Some("404")),
        "{e}"
    );
    let (s, _, _) = tmf(&app, "supervisor1", &format!("{BASE}/GD20261122000001")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the id is kefu's id; the number is externalId");
}

async fn lists_page_filter_and_refuse_as_the_specification_says(app: TestApp) {
    let mut ids = Vec::new();
    for ty in ["fault", "consultation", "consultation", "complaint", "consultation"] {
        ids.push(app.create("agent1", ticket_body(ty)).await["id"].clone());
    }
    let (s, b) = app.act("agent1", &ids[1], json!({"action": "withdraw", "reason": "客户来电撤单"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let (s, all, counts) = tmf(&app, "supervisor1", &format!("{BASE}?limit=2")).await;
    assert_eq!(s, StatusCode::OK, "{all}");
    assert_eq!(counts, Some(("5".into(), "2".into())));
    let (_, page, counts) = tmf(&app, "supervisor1", &format!("{BASE}?offset=1&limit=3&fields=externalId")).await;
    assert_eq!(counts, Some(("5".into(), "3".into())));
    let (_, whole, _) = tmf(&app, "supervisor1", &format!("{BASE}?limit=5&fields=externalId")).await;
    assert_eq!(page.as_array().unwrap()[..], whole.as_array().unwrap()[1..4], "offset 1, limit 3 of the same order");

    let (_, cancelled, counts) = tmf(&app, "supervisor1", &format!("{BASE}?status=cancelled")).await;
    assert_eq!(counts.unwrap().0, "1");
    assert_eq!(cancelled[0]["id"], ids[1].to_string());
    let (_, held, counts) = tmf(&app, "supervisor1", &format!("{BASE}?status=held")).await;
    assert_eq!((counts.unwrap().0.as_str(), held.as_array().unwrap().len()), ("0", 0));
    let (_, c, counts) = tmf(&app, "supervisor1", &format!("{BASE}?ticketType=consultation")).await;
    assert_eq!(counts.unwrap().0, "3", "{c}");
    // The VIP customer's consultations are important: Major, Medium.
    assert_eq!((c[0]["severity"].as_str(), c[0]["priority"].as_str()), (Some("Major"), Some("Medium")), "{c}");
    let (_, _, counts) = tmf(&app, "supervisor1", &format!("{BASE}?ticketType=consultation&severity=Major")).await;
    assert_eq!(counts.unwrap().0, "3");
    let (_, _, counts) = tmf(&app, "supervisor1", &format!("{BASE}?ticketType=consultation&priority=Low")).await;
    assert_eq!(counts.unwrap().0, "0");
    let number = c[0]["externalId"].as_str().unwrap().to_string();
    let (_, one, _) = tmf(&app, "supervisor1", &format!("{BASE}?externalId={number}")).await;
    assert_eq!(one.as_array().unwrap().len(), 1);

    let (s, none, counts) = tmf(&app, "supervisor1", &format!("{BASE}?offset=4294967295&limit=1")).await;
    assert_eq!((s, counts), (StatusCode::OK, Some(("5".into(), "0".into()))), "{none}");

    for bad in [
        "status=open",
        "ticketType=fax",
        "severity=Huge",
        "limit=-1",
        "offset=x",
        "color=red",
        "creationDate.gte=yesterday",
    ] {
        let (s, e, _) = tmf(&app, "supervisor1", &format!("{BASE}?{bad}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {e}");
        assert_eq!((e["code"].as_str(), e["@type"].as_str()), (Some("400"), Some("Error")), "{bad}: {e}");
    }
}

/// A TMF client registers a ticket (the spec's create body), kefu takes it
/// like any intake, the client reads it back; a retry with its key is the
/// same ticket; a body missing what the specification requires is 400.
async fn a_client_creates_a_ticket_by_tmf_and_follows_it(app: TestApp) {
    let body = json!({
        "description": "OSS告警：用户光猫离线超过30分钟",
        "severity": "Major",
        "ticketType": "fault",
        "name": "光猫离线",
        "channel": {"id": "web"},
        "relatedParty": [{"id": "13912340000", "name": "赵六", "role": "customer", "@referredType": "Individual"}],
        "relatedEntity": [{"id": "KD88880001", "role": "serviceNumber", "@referredType": "Service"}],
        "@type": "TroubleTicket"
    });
    let post = |body: Value, key: Option<&'static str>| {
        let mut r = app.client.post(format!("{}{BASE}", app.base)).bearer_auth(&app.tokens["agent1"]).json(&body);
        if let Some(k) = key {
            r = r.header("Idempotency-Key", k);
        }
        async move {
            let resp = r.send().await.unwrap();
            let replayed = resp.headers().contains_key("idempotent-replayed");
            (resp.status(), replayed, resp.json::<Value>().await.unwrap())
        }
    };
    let (s, _, tt) = post(body.clone(), Some("oss-alarm-1")).await;
    assert_eq!(s, StatusCode::CREATED, "{tt}");
    assert_eq!(
        (tt["status"].as_str(), tt["severity"].as_str(), tt["ticketType"].as_str()),
        (Some("acknowledged"), Some("Major"), Some("fault"))
    );
    assert!(tt["externalId"].as_str().unwrap().starts_with("GD"));
    assert_eq!(tt["relatedParty"][0]["name"], "赵六");
    let (s, replayed, again) = post(body.clone(), Some("oss-alarm-1")).await;
    assert_eq!((s, replayed, &again["id"]), (StatusCode::CREATED, true, &tt["id"]));
    // kefu's own API sees it as a kefu ticket.
    let (_, t) = app.get("agent1", &format!("/api/v1/tickets/{}", tt["id"].as_str().unwrap())).await;
    assert_eq!(
        (t["title"].as_str(), t["priority"].as_str(), t["service_number"].as_str()),
        (Some("光猫离线"), Some("important"), Some("KD8***0001")),
        "{t}"
    );

    for (field, broken) in [
        (
            "severity",
            json!({"description": "x", "ticketType": "fault", "relatedParty": [{"id": "13912340000", "role": "customer"}]}),
        ),
        (
            "ticketType",
            json!({"description": "x", "severity": "Minor", "ticketType": "fax", "relatedParty": [{"id": "13912340000", "role": "customer"}]}),
        ),
        ("relatedParty", json!({"description": "x", "severity": "Minor", "ticketType": "fault"})),
        (
            "relatedParty.id",
            json!({"description": "x", "severity": "Minor", "ticketType": "fault", "relatedParty": [{"id": "abc", "role": "customer"}]}),
        ),
    ] {
        let (s, _, e) = post(broken, None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{field}: {e}");
        assert!(e["message"].as_str().unwrap().contains(field), "{field}: {e}");
    }
}

async fn patch(app: &TestApp, user: &str, id: &Value, body: Value) -> (StatusCode, Value) {
    let r = app
        .client
        .patch(format!("{}{BASE}/{}", app.base, id.as_str().map_or(id.to_string(), str::to_string)))
        .bearer_auth(&app.tokens[user])
        .header("content-type", "application/merge-patch+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// A patch of status goes through the flow's own actions (the handler
/// resolves with the reason as the result), severity through set_priority,
/// notes become notes; what kefu keeps as registered is refused by name,
/// and a status the flow does not lead to now is 409.
async fn a_patch_moves_the_ticket_through_its_own_flow(app: TestApp) {
    let t = app.create("agent1", ticket_body("fault")).await;
    let id = t["id"].clone();
    for (who, body) in
        [("agent1", json!({"action": "dispatch", "assignee": "engineer1"})), ("engineer1", json!({"action": "start"}))]
    {
        let (s, b) = app.act(who, &id, body).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, e) = patch(&app, "engineer1", &id, json!({"name": "改名"})).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::BAD_REQUEST, Some("400")), "{e}");
    let (s, e) = patch(&app, "engineer1", &id, json!({"status": "closed"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    let (s, tt) = patch(
        &app,
        "engineer1",
        &id,
        json!({"status": "resolved", "statusChangeReason": "更换光猫后恢复", "note": [{"text": "OSS 已确认告警清除"}]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{tt}");
    assert_eq!(tt["status"], "resolved");
    assert_eq!(tt["statusChangeReason"], "更换光猫后恢复");
    assert!(tt["note"].as_array().unwrap().iter().any(|n| n["text"] == "OSS 已确认告警清除"), "{tt}");
    let (_, k) = app.get("engineer1", &format!("/api/v1/tickets/{id}")).await;
    assert_eq!((k["status"].as_str(), k["result"].as_str()), (Some("resolved"), Some("更换光猫后恢复")), "{k}");

    let other = app.create("agent1", ticket_body("consultation")).await["id"].clone();
    let (s, tt) =
        patch(&app, "agent1", &other, json!({"severity": "Minor", "statusChangeReason": "客户说明不急"})).await;
    assert_eq!((s, tt["severity"].as_str()), (StatusCode::OK, Some("Minor")), "{tt}");
    let (s, tt) =
        patch(&app, "agent1", &other, json!({"status": "cancelled", "statusChangeReason": "客户来电撤单"})).await;
    assert_eq!((s, tt["status"].as_str()), (StatusCode::OK, Some("cancelled")), "{tt}");
}

/// TMF621 v5.0.1's `TroubleTicket_create_example_request`, as published.
fn spec_example() -> Value {
    json!({
        "name": "complaint over last bill",
        "description": "I do not accept the last VOD charge, since the movie was constantly interrupted, I had to quick watching the movie in the middle ",
        "severity": "Major", "status": "inProgress", "ticketType": "Bill Dispute",
        "expectedResolutionDate": "2019-06-10T07:34:45.968Z", "requestedResolutionDate": "2022-05-31T07:34:45.968Z",
        "attachment": [{"id": "34345", "description": "Scanned disputed bill", "attachmentType": "billCopy", "mimeType": "image/png",
                        "name": "March Bill", "url": "https://mycsp.com:7070/docloader?docnum=3534555", "@type": "Attachment"}],
        "channel": {"id": "8774", "name": "self service", "@type": "ChannelRef"},
        "note": [{"id": "77456", "author": "Jack Smith", "date": "2022-05-31T07:34:45.968Z",
                  "text": "This is quite important, please aproch me as soon as posible", "@type": "Note"}],
        "relatedEntity": [{"role": "disputedBill", "@type": "RelatedEntity",
                           "entity": {"id": "3472", "href": "https://mycsp.com:8080/tmf-api/customerBillManagement/v5/customerBill/8297",
                                      "name": "March 2019 Bill", "@type": "EntityRef", "@referredType": "CustomerBill"}}],
        "relatedParty": [
            {"role": "member", "@type": "RelatedPartyRefOrPartyRoleRef",
             "partyOrPartyRole": {"id": "9866", "href": "https://mycsp.com:8080/tmf-api/partyManagement/v5/individual/9866",
                                  "name": "Sandy Smith", "@type": "PartyRef", "@referredType": "Individual"}},
            {"role": "reporter", "@type": "RelatedPartyRefOrPartyRoleRef",
             "partyOrPartyRole": {"id": "9867", "name": "Jack Smith", "@type": "PartyRef", "@referredType": "Individual"}}
        ],
        "@type": "TroubleTicket"
    })
}

/// The specification's own create example: refused only for what kefu must
/// have and it lacks — whose number to call back (a party with role
/// customer) — and registered once that is there: "Bill Dispute" is a
/// complaint, the client's channel 8774 is kefu's web.
async fn the_specifications_own_example_goes_through(app: TestApp) {
    let v5 = "/tmf-api/troubleTicket/v5/troubleTicket";
    let (s, e) = app.post("agent1", v5, spec_example()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["message"].as_str().unwrap().starts_with("relatedParty"), "{e}");
    let mut body = spec_example();
    body["relatedParty"].as_array_mut().unwrap().push(json!({"role": "customer", "@type": "RelatedPartyRefOrPartyRoleRef",
        "partyOrPartyRole": {"id": "13912340002", "name": "Sandy Smith", "@type": "PartyRef", "@referredType": "Individual"}}));
    let (s, tt) = app.post("agent1", v5, body).await;
    assert_eq!(s, StatusCode::CREATED, "{tt}");
    assert_eq!(
        (tt["ticketType"].as_str(), tt["severity"].as_str(), tt["status"].as_str()),
        (Some("complaint"), Some("Major"), Some("acknowledged"))
    );
    assert_eq!(tt["channel"]["id"], "web");
    assert_eq!(tt["name"], "complaint over last bill");
    let (s, e) = app
        .post(
            "agent1",
            BASE,
            json!({"description": "x", "severity": "Major", "ticketType": "Gardening",
        "relatedParty": [{"id": "13912340003", "role": "customer"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(e["message"].as_str().unwrap().starts_with("ticketType"), "{e}");
}
