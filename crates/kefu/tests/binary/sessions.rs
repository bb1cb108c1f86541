//! Issue 13, hole 7: sessions end with the password, the role or the
//! account — on every node, at once — and a token lifetime of zero is
//! refused at start.

use crate::common;

use common::{PASSWORD, Target, client, login};
use reqwest::StatusCode;

async fn run(target: &Target, args: &[&str]) {
    let out = target.kefu().args(args).output().await.unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

async fn me(client: &reqwest::Client, base: &str, token: &str) -> StatusCode {
    client.get(format!("{base}/api/v1/auth/me")).bearer_auth(token).send().await.unwrap().status()
}

async fn sessions_end_on_every_node(target: Target) {
    let (_a, node_a) = target.start().await;
    let (_b, node_b) = target.start().await;
    let c = client();
    // Logged in on node A, used on both (node B has seen the token too).
    let token = login(&c, &node_a).await;
    assert_eq!(me(&c, &node_a, &token).await, StatusCode::OK);
    assert_eq!(me(&c, &node_b, &token).await, StatusCode::OK);
    // A new password (from the command line) ends it on both nodes at once.
    run(&target, &["user", "passwd", "agent1", "--password", "Another-pass-2"]).await;
    assert_eq!(me(&c, &node_a, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&c, &node_b, &token).await, StatusCode::UNAUTHORIZED);
    run(&target, &["user", "passwd", "agent1", "--password", PASSWORD]).await;
    // A new role ends the sessions too.
    let token = login(&c, &node_a).await;
    assert_eq!(me(&c, &node_b, &token).await, StatusCode::OK);
    run(&target, &["user", "role", "agent1", "--role", "engineer"]).await;
    assert_eq!(me(&c, &node_a, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&c, &node_b, &token).await, StatusCode::UNAUTHORIZED);
    // So does disabling the account, which cannot log in until enabled.
    let token = login(&c, &node_a).await;
    run(&target, &["user", "disable", "agent1"]).await;
    assert_eq!(me(&c, &node_b, &token).await, StatusCode::UNAUTHORIZED);
    let r = c
        .post(format!("{node_b}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "agent1", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    run(&target, &["user", "enable", "agent1"]).await;
    let token = login(&c, &node_b).await;
    assert_eq!(me(&c, &node_a, &token).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_on_every_node_sqlite() {
    sessions_end_on_every_node(Target::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_on_every_node_postgres() {
    sessions_end_on_every_node(Target::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_lifetime_of_zero_is_refused() {
    let target = Target::sqlite().await;
    for ttl in ["0", "-1", "100000"] {
        let out = target.kefu().env("KEFU_TOKEN_TTL_HOURS", ttl).args(["migrate"]).output().await.unwrap();
        assert!(!out.status.success(), "KEFU_TOKEN_TTL_HOURS={ttl} was accepted");
        assert!(String::from_utf8_lossy(&out.stderr).contains("token_ttl_hours"), "{ttl}");
    }
}
