//! The organisation from the command line: departments, teams with leads
//! and staff profiles set by `kefu org` and `kefu user set` are what the
//! running server dispatches by.

use crate::common;

use common::{Target, login};
use serde_json::{Value, json};

async fn run(target: &Target, args: &[&str]) -> String {
    let out = target.kefu().args(args).output().await.unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_set_up_from_the_cli_drives_dispatch() {
    let target = Target::sqlite().await;
    run(&target, &["user", "add", "engineer9", "--role", "engineer", "--password", common::PASSWORD]).await;
    assert!(run(&target, &["org", "dept-add", "technical", "--name", "技术部"]).await.contains("technical 技术部"));
    run(&target, &["org", "team-add", "network", "--dept", "technical", "--name", "网络维护组", "--lead", "engineer9"])
        .await;
    let out = run(
        &target,
        &[
            "user",
            "set",
            "engineer9",
            "--team",
            "network",
            "--types",
            "fault",
            "--regions",
            "朝阳区,海淀区",
            "--capacity",
            "5",
        ],
    )
    .await;
    assert!(out.contains("\"capacity\":5"), "{out}");
    let listed = run(&target, &["org", "list"]).await;
    assert!(listed.contains("team network 网络维护组 (lead engineer9)"), "{listed}");
    assert!(listed.contains("engineer9 engineer L2 team network capacity 5 on duty"), "{listed}");
    // Refusals name the field, in both languages, and change nothing.
    let bad = target.kefu().args(["user", "set", "engineer9", "--tier", "7"]).output().await.unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("tier"), "{}", String::from_utf8_lossy(&bad.stderr));
    let dup = target.kefu().args(["org", "dept-add", "technical", "--name", "x"]).output().await.unwrap();
    assert!(String::from_utf8_lossy(&dup.stderr).contains("已存在"));

    let (mut server, base) = target.start().await;
    let client = common::client();
    let token = login(&client, &base).await;
    let body = json!({
        "channel": "phone", "type": "fault", "title": "宽带断网", "description": "光猫LOS灯红",
        "customer": {"name": "周七", "phone": "13900001111", "address": "北京市海淀区中关村大街1号"},
    });
    let t: Value = client
        .post(format!("{base}/api/v1/tickets"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["assignee"]["username"], "engineer9", "{t}");
    assert_eq!(t["tier"], 2);
    server.kill().await.unwrap();
}
