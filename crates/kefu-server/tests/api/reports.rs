//! Reports and KPIs over HTTP: the metric dictionary that
//! every figure is computed by, served to staff and shown in the console.

use crate::common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

fn item<'a>(list: &'a Value, key: &str) -> &'a Value {
    list["items"].as_array().unwrap().iter().find(|m| m["key"] == key).unwrap_or_else(|| panic!("{key}: {list}"))
}

async fn staff_read_what_each_figure_means(app: TestApp) {
    let (s, list) = app.get("agent1", "/api/v1/reports/metrics").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    for m in list["items"].as_array().unwrap() {
        for field in ["key", "name_zh", "name_en", "unit", "definition_zh"] {
            assert!(m[field].as_str().is_some_and(|v| !v.is_empty()), "{field} of {m}");
        }
    }
    // The targets are the policy's, shares as fractions.
    let in_24h = item(&list, "resolved_in_limit_rate");
    assert_eq!((in_24h["unit"].as_str(), in_24h["target"]["value"].as_f64()), (Some("percent"), Some(0.95)));
    assert_eq!(item(&list, "visit_coverage")["target"]["value"].as_f64(), Some(0.8));
    assert_eq!(item(&list, "complaint_rate")["target"]["better"], "lower");
    assert!(item(&list, "backlog").get("target").is_none(), "no target, no field");
    // Both calendars of a duration are kept; the definition says which is shown.
    let first = item(&list, "first_response_time");
    assert_eq!(
        (first["formula"]["kind"].as_str(), first["formula"]["calendar"].as_str()),
        (Some("duration"), Some("working"))
    );
    // The on-time rate once over all deadlines and once per deadline kind.
    let response = item(&list, "on_time_rate.response");
    assert!(response["name_zh"].as_str().unwrap().starts_with("按时率（"), "{response}");
    // Customers have no business here.
    let (s, _) = app.call(None, reqwest::Method::GET, "/api/v1/reports/metrics", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The console's page names every metric in words, with its target.
    let cookie = console_login(&app, "supervisor1").await;
    let (_, html) = console_get(&app, &cookie, "/console/reports/metrics").await;
    for words in ["24小时解决率", "首问解决率", "≥ 95%", "按办结日", "工作日时间（另记自然时间）"]
    {
        assert!(html.contains(words), "{words}: {html}");
    }
}

both_stores!(staff_read_what_each_figure_means);
