//! A calendar year added in the config directory reaches the running
//! server and the CLI without a rebuild.

use crate::common;

use common::{Target, login};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_added_in_the_config_dir_is_used() {
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(config.path().join("calendar")).unwrap();
    let y2027 =
        "year = 2027\nsource = \"test\"\n[[holidays]]\nname = \"元旦\"\nfrom = \"2027-01-01\"\nto = \"2027-01-01\"\n";
    std::fs::write(config.path().join("calendar/2027.toml"), y2027).unwrap();
    let target = Target::sqlite().await;

    let out = target
        .kefu()
        .env("KEFU_CONFIG_DIR", config.path())
        .args(["calendar", "day", "2027-01-01"])
        .output()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2027-01-01 off 元旦放假");

    let mut cmd = target.kefu();
    cmd.env("KEFU_CONFIG_DIR", config.path());
    let (mut server, base) = common::start_with(cmd).await;
    let client = common::client();
    let token = login(&client, &base).await;
    let policy: Value =
        client.get(format!("{base}/api/v1/policy")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(policy["calendar_years"], serde_json::json!([2025, 2026, 2027]));
    server.kill().await.unwrap();
}
