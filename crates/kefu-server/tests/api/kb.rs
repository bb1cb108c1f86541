//! The knowledge base over HTTP: editors keep articles with their
//! versions; everyone searches them in Chinese, each write searchable at once.

use crate::common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn article() -> Value {
    json!({
        "code": "kb-101",
        "title": "宽带无法上网怎么办",
        "category": "故障报修",
        "tags": ["宽带", "断网"],
        "similar": ["家里宽带突然上不了网"],
        "body": "先查看光猫指示灯，LOS灯红色请报修；再重启光猫和路由器。",
        "answers": {"sms": "请重启光猫和路由器，仍不能上网请回复1报修。"},
        "status": "published"
    })
}

fn codes(v: &Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap().to_string()).collect()
}

async fn editors_keep_articles_and_everyone_finds_them(app: TestApp) {
    let (s, b) = app.post("agent1", "/api/v1/kb/articles", article()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "agents read the knowledge base, editors write it: {b}");
    let a = app.ok("supervisor1", Method::POST, "/api/v1/kb/articles", Some(article()), StatusCode::CREATED).await;
    assert_eq!(
        (a["code"].as_str(), a["version"].as_i64(), a["updated_by"].as_str()),
        (Some("KB-101"), Some(1), Some("supervisor1"))
    );
    let (s, _) = app.post("supervisor1", "/api/v1/kb/articles", article()).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let mut long_sms = article();
    long_sms["code"] = json!("KB-102");
    long_sms["answers"]["sms"] = json!("短".repeat(71));
    let (s, b) = app.post("supervisor1", "/api/v1/kb/articles", long_sms).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("answers.sms")), "{b}");
    // Searchable at once, by words nobody wrote (synonyms) and by one character.
    for q in ["网断了", "光猫", "故", "LOS"] {
        let (s, b) = app.get("agent1", &format!("/api/v1/kb/articles?q={q}")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(codes(&b), ["KB-101"], "{q}: {b}");
    }
    let (_, b) = app.get("agent1", "/api/v1/kb/articles?q=%E7%BD%91%E6%96%AD%E4%BA%86").await;
    let hit = &b["items"][0];
    assert!(hit["score"].as_f64().unwrap() > 0.0 && !hit["snippet"].as_str().unwrap().is_empty(), "{hit}");
    // A change is a new version, searchable at once; the old one stays in the history.
    let path = "/api/v1/kb/articles/KB-101";
    let changed = app.ok("admin", Method::PUT, path, Some(json!({"title": "携号转网办理条件"})), StatusCode::OK).await;
    assert_eq!((changed["version"].as_i64(), changed["category"].as_str()), (Some(2), Some("故障报修")));
    assert_eq!(codes(&app.get("agent1", "/api/v1/kb/articles?q=携号转网").await.1), ["KB-101"]);
    let history = app.get("agent1", &format!("{path}/versions")).await.1;
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["title"], "宽带无法上网怎么办");
    // The console shows each version as a change from the one before.
    let cookie = console_login(&app, "supervisor1").await;
    let (status, html) = console_get(&app, &cookie, "/console/kb/KB-101/versions").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<del>宽带无法上网怎么办</del> → <ins>携号转网办理条件</ins>"), "{html}");
    assert!(html.contains("id=\"v2\"") && html.contains("id=\"v1\""), "{html}");
    let (s, b) = app.call(Some("admin"), Method::PUT, path, Some(json!({"code": "KB-999"})), None).await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("code")), "{b}");
    // Without q: the list by code, filtered.
    let listed = app.get("agent1", "/api/v1/kb/articles?category=故障报修&status=published").await.1;
    assert_eq!((listed["total"].as_i64(), codes(&listed)), (Some(1), vec!["KB-101".to_string()]));
    let (s, b) = app.get("agent1", "/api/v1/kb/articles?status=live").await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));
    let (s, b) = app.get("agent1", "/api/v1/kb/articles?colour=red").await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("colour")));
    // Deleted: gone from reads and from search.
    app.ok("supervisor1", Method::DELETE, path, None, StatusCode::NO_CONTENT).await;
    assert_eq!(app.get("agent1", path).await.0, StatusCode::NOT_FOUND);
    assert!(codes(&app.get("agent1", "/api/v1/kb/articles?q=携号转网").await.1).is_empty());
    assert_eq!(app.call(Some("supervisor1"), Method::DELETE, path, None, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("agent1", "/api/v1/kb/articles/%E4%B8%80%20x").await.0, StatusCode::NOT_FOUND);
}

async fn customers_find_public_articles_in_force_only(app: TestApp) {
    let mut public = article();
    public["code"] = json!("KB-201");
    let mut internal = article();
    internal["code"] = json!("KB-202");
    internal["public"] = json!(false);
    internal["title"] = json!("内部：宽带故障处理口径");
    let mut draft = article();
    draft["code"] = json!("KB-203");
    draft["status"] = json!("draft");
    let mut expired = article();
    expired["code"] = json!("KB-204");
    expired["valid_to"] = json!("2020-01-01");
    for a in [public, internal, draft, expired] {
        app.ok("supervisor1", Method::POST, "/api/v1/kb/articles", Some(a), StatusCode::CREATED).await;
    }
    let get = |path: String| {
        let (c, base) = (app.client.clone(), app.base.clone());
        async move {
            let r = c.get(format!("{base}{path}")).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    // In the customer's words, without logging in.
    let (s, html) = get("/portal/kb?q=家里宽带上不了网了".into()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("/portal/kb/KB-201"), "{html}");
    for hidden in ["KB-202", "KB-203", "KB-204"] {
        assert!(!html.contains(hidden), "{hidden} is not for customers");
        assert_eq!(get(format!("/portal/kb/{hidden}")).await.0, StatusCode::NOT_FOUND);
    }
    let (s, html) = get("/portal/kb/KB-201".into()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("重启光猫"), "{html}");
    // Was it helpful? Customers say so in the portal, staff through the API; editors read both.
    let r = app
        .client
        .post(format!("{}/portal/kb/KB-201/feedback", app.base))
        .form(&[("helpful", "false"), ("reason", "没说怎么报修")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .client
        .post(format!("{}/portal/kb/KB-202/feedback", app.base))
        .form(&[("helpful", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "no votes on what customers cannot see");
    app.ok(
        "agent1",
        Method::POST,
        "/api/v1/kb/articles/KB-201/feedback",
        Some(json!({"helpful": true})),
        StatusCode::CREATED,
    )
    .await;
    let votes = app.get("supervisor1", "/api/v1/kb/articles/KB-201/feedback").await.1;
    assert_eq!((votes["helpful"].as_i64(), votes["not_helpful"].as_i64()), (Some(1), Some(1)), "{votes}");
    assert_eq!(votes["latest"][1]["reason"], "没说怎么报修");
    assert_eq!(votes["latest"][1]["source"], "customer");
    // Staff see them all.
    let staff = app.get("agent1", "/api/v1/kb/articles?q=宽带").await.1;
    assert_eq!(staff["total"].as_i64(), Some(4), "{staff}");
}

async fn administrators_teach_the_search_new_words(app: TestApp) {
    let mut a = article();
    a["code"] = json!("KB-301");
    a["title"] = json!("携号转网办理条件");
    a["body"] = json!("在网满120天、无欠费即可申请携号转网。");
    app.ok("supervisor1", Method::POST, "/api/v1/kb/articles", Some(a), StatusCode::CREATED).await;
    assert!(codes(&app.get("agent1", "/api/v1/kb/articles?q=换家运营商").await.1).is_empty());
    let (s, _) = app
        .call(Some("agent1"), Method::PUT, "/api/v1/search/lexicon", Some(json!({"words": ["换家运营商"]})), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let entries = json!({"words": ["换家运营商"], "synonyms": [["携号转网", "换家运营商"]]});
    let saved = app.ok("admin", Method::PUT, "/api/v1/search/lexicon", Some(entries), StatusCode::OK).await;
    assert_eq!(saved["synonyms"][0][1], "换家运营商");
    // Applied at once, without a restart; the articles are all still there.
    assert_eq!(codes(&app.get("agent1", "/api/v1/kb/articles?q=换家运营商").await.1), ["KB-301"]);
    assert_eq!(codes(&app.get("agent1", "/api/v1/kb/articles?q=携号转网").await.1), ["KB-301"]);
    assert_eq!(app.get("agent1", "/api/v1/search/lexicon").await.1["words"], json!(["换家运营商"]));
    let (s, b) = app
        .call(Some("admin"), Method::PUT, "/api/v1/search/lexicon", Some(json!({"synonyms": [["一个"]]})), None)
        .await;
    assert_eq!((s, b["error"]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("synonyms")), "{b}");
}

both_stores!(
    editors_keep_articles_and_everyone_finds_them,
    customers_find_public_articles_in_force_only,
    administrators_teach_the_search_new_words
);
