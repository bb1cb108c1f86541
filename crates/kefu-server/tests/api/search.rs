//! Ticket search (R-50, the `q` of the ticket list): Chinese words and
//! fragments, ranked with snippets, under every other filter and the
//! caller's access rules; personal numbers never searchable; the index
//! follows the store's feed and survives its own loss.

use crate::common;

use common::*;
use kefu_domain::Role;
use kefu_domain::clock::FixedClock;
use kefu_domain::flow::{Actor, FlowSet};
use kefu_domain::intake::IntakeRequest;
use kefu_domain::policy::Policy;
use kefu_server::{Kefu, Settings};
use kefu_store_postgres::PgStore;
use kefu_store_postgres::testing::TestSchema;
use kefu_store_sqlite::SqliteStore;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

/// A ticket of a customer of their own (named, with a phone of their own).
fn ticket(ty: &str, title: &str, description: &str, name: &str) -> Value {
    let mut b = ticket_body(ty);
    let phone = 13700000000u64 + name.chars().map(|c| c as u64).sum::<u64>();
    b["customer"]["phone"] = json!(phone.to_string());
    b["service_number"] = json!(phone.to_string());
    b["title"] = json!(title);
    b["description"] = json!(description);
    b["customer"]["name"] = json!(name);
    b
}

fn numbers(v: &Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|i| i["number"].as_str().unwrap().to_string()).collect()
}

async fn tickets_are_found_by_chinese_words_within_access(app: TestApp) {
    let fault = app
        .create(
            "agent1",
            ticket("fault", "光猫故障，宽带无法上网", "家中宽带故障，光猫LOS灯红，回电13900001111", "赵六"),
        )
        .await;
    let video =
        app.create("agent1", ticket("unsubscribe", "申请退订会员", "客户要求退订爱奇艺视频会员包", "钱七")).await;
    let plan = app
        .create("agent1", ticket("consultation", "咨询套餐资费", "询问5G套餐月租，身份证11010519491231002X", "王五"))
        .await;
    let others = app.create("agent2", ticket("fault", "宽带故障报修", "光纤入户故障", "孙八")).await;
    let n = |t: &Value| t["number"].as_str().unwrap().to_string();
    let search = |user: &'static str, q: &'static str| {
        let app = &app;
        async move {
            let (s, b) = app.get(user, &format!("/api/v1/tickets?{q}")).await;
            assert_eq!(s, StatusCode::OK, "{q}: {b}");
            b
        }
    };
    // A single character finds the words it is part of (the LIKE scan's miss).
    let b = search("supervisor1", "q=故").await;
    assert_eq!(b["total"], 2, "{b}");
    assert_eq!(b["next_after"], Value::Null, "ranked lists page by number");
    let hit = &b["items"][0]["search"];
    let snippet = hit["snippet"].as_str().unwrap();
    let (from, to) =
        (hit["highlights"][0][0].as_u64().unwrap() as usize, hit["highlights"][0][1].as_u64().unwrap() as usize);
    assert_eq!(&snippet[from..to], "故", "{hit}");
    assert!(hit["score"].as_f64().unwrap() > 0.0);
    // Need to know: agent1 does not see agent2's ticket.
    assert_eq!(numbers(&search("agent1", "q=故").await), [n(&fault)]);
    // Every word typed must match, wherever it stands.
    assert_eq!(numbers(&search("agent1", "q=退订+视频").await), [n(&video)]);
    assert!(numbers(&search("agent1", "q=退订+宽带").await).is_empty());
    // Synonyms of the shipped lexicon: 网断了 = 无法上网.
    assert_eq!(numbers(&search("agent1", "q=网断了").await), [n(&fault)]);
    // Combined with the other filters.
    assert!(numbers(&search("supervisor1", "q=宽带&type=consultation").await).is_empty());
    assert_eq!(numbers(&search("supervisor1", "q=宽带&first_owner=agent2").await), [n(&others)]);
    // The customer's name, whole or part; phone and ID numbers are not text.
    assert_eq!(numbers(&search("agent1", "q=王五").await), [n(&plan)]);
    assert_eq!(numbers(&search("agent1", "q=5G+套餐").await), [n(&plan)]);
    for q in ["q=13900001111", "q=11010519491231002X", "q=1101051949"] {
        assert!(numbers(&search("supervisor1", q).await).is_empty(), "{q} must not be searchable");
    }
    // Replies to the customer are searchable text, internal notes are not.
    let path = format!("/api/v1/tickets/{}/comments", plan["id"]);
    let (s, _) = app.post("agent1", &path, json!({"body": "已为您办理流量加油包", "internal": false})).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app.post("agent1", &path, json!({"body": "内部：客户疑似黄牛", "internal": true})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(numbers(&search("agent1", "q=加油包").await), [n(&plan)]);
    assert!(numbers(&search("agent1", "q=黄牛").await).is_empty());
    // Paging of a ranked list.
    let b = search("supervisor1", "q=宽带&per_page=1&page=2").await;
    assert_eq!((b["total"].as_i64(), b["items"].as_array().unwrap().len()), (Some(2), 1), "{b}");
}

async fn the_console_search_box_ranks_and_marks(app: TestApp) {
    app.create("agent1", ticket("fault", "光猫故障，宽带无法上网", "光猫LOS灯红", "赵六")).await;
    let cookie = console_login(&app, "agent1").await;
    let (_, html) = console_get(&app, &cookie, "/console?queue=all&q=%E6%95%85").await;
    assert!(html.contains("<mark>故</mark>"), "the match is marked in the row");
}

both_stores!(tickets_are_found_by_chinese_words_within_access, the_console_search_box_ranks_and_marks);

/// A node of its own over `store`: its own index directory and clock.
async fn node<S: kefu_store::Store>(store: S, dir: &std::path::Path, clock: Arc<FixedClock>) -> Kefu<S> {
    let mut policy = Policy::defaults();
    // Read what other nodes wrote before every search.
    policy.search.catch_up_seconds = 0;
    let settings = Settings {
        password_cost: kefu_server::auth::PasswordCost { memory_kib: 1024, iterations: 1 },
        search_dir: Some(dir.to_path_buf()),
        ..Settings::default()
    };
    Kefu::new(store, FlowSet::defaults(), policy, clock, settings).await.unwrap()
}

async fn found<S: kefu_store::Store>(k: &Kefu<S>, q: &str) -> usize {
    let f = kefu_store::TicketFilter { q: Some(q.into()), page: 1, per_page: 50, ..Default::default() };
    k.list_tickets(f).await.unwrap().page.items.len()
}

/// Two nodes on one database, each with its own index: what one writes
/// the other finds; a node that was killed resumes from its index's mark;
/// a damaged index is rebuilt from the store.
async fn nodes_follow_the_feed_and_recover<S: kefu_store::Store>(store: S) {
    let dirs = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (dirs.path().join("a"), dirs.path().join("b"));
    let clock = Arc::new(FixedClock::new("2026-11-22T02:00:00Z".parse().unwrap()));
    let a = node(store.clone(), &dir_a, clock.clone()).await;
    let u = a.add_user("agent1", Role::Agent, None, PASSWORD).await.unwrap();
    let actor = Actor::new(u.id, "agent1", Role::Agent);
    let intake = |title: &str| {
        let mut b = ticket_body("fault");
        b["title"] = json!(title);
        serde_json::from_value::<IntakeRequest>(b).unwrap()
    };
    a.create_ticket(&actor, &intake("光猫故障一号"), None).await.unwrap();
    clock.advance(chrono::Duration::hours(1));
    a.create_ticket(&actor, &intake("光猫故障二号"), None).await.unwrap();
    let b = node(store.clone(), &dir_b, clock.clone()).await;
    assert_eq!(found(&b, "光猫").await, 2, "node b finds what node a registered");
    drop(b); // as if killed: nothing is flushed on the way out
    clock.advance(chrono::Duration::hours(1));
    a.create_ticket(&actor, &intake("光猫故障三号"), None).await.unwrap();
    let b = node(store.clone(), &dir_b, clock.clone()).await;
    let (index, n) = b.ticket_catch_up().await.unwrap();
    assert_eq!((n, index.len()), (2, 3), "resumed at its mark: the last change before it and the new one");
    assert_eq!(found(&b, "三号").await, 1);
    drop((b, index));
    // Damage: the index's metadata overwritten.
    for e in std::fs::read_dir(&dir_b).unwrap().flatten() {
        std::fs::write(e.path().join("meta.json"), b"{ not json").unwrap();
    }
    let b = node(store.clone(), &dir_b, clock.clone()).await;
    assert_eq!(found(&b, "光猫").await, 3, "rebuilt from the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_nodes_follow_the_feed_and_recover() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("kefu.db"), kefu_store::crypto::test_cipher()).unwrap();
    nodes_follow_the_feed_and_recover(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_follow_the_feed_and_recover() {
    let schema = TestSchema::create().await;
    let store = PgStore::connect(&schema.url, kefu_store::crypto::test_cipher()).await.unwrap();
    nodes_follow_the_feed_and_recover(store).await;
}
