//! The authorization matrix: every role × every endpoint of the OpenAPI
//! document, checked against the policy's endpoint table. An endpoint
//! without a rule fails here (and is closed in the server); a stale rule
//! for an endpoint that no longer exists fails too.

use crate::common;

use common::*;
use kefu_domain::policy::Policy;
use kefu_server::http::{OWN_AUTH, PUBLIC};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn every_role_on_every_endpoint(app: TestApp) {
    let policy = Policy::defaults();
    let (_, doc) = app.call(None, Method::GET, "/api/openapi.json", None, None).await;
    let t = app.create("agent1", ticket_body("fault")).await;
    let (ticket, customer) = (t["id"].to_string(), t["customer"]["id"].to_string());
    let mut endpoints = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                endpoints.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    let documented: Vec<String> = endpoints.iter().map(|(m, p)| format!("{m} {p}")).collect();
    for rule in policy.access.endpoints.keys() {
        assert!(documented.contains(rule), "stale access rule for {rule}");
    }
    // Metrics: administrators (or the scraper's token), nobody else.
    for (user, role) in USERS {
        let (status, _) = app.call(Some(user), Method::GET, "/metrics", None, None).await;
        let want = if *role == kefu_domain::Role::Admin { StatusCode::OK } else { StatusCode::FORBIDDEN };
        assert_eq!(status, want, "{user} on /metrics");
    }
    let mut checked = 0;
    // Logging out ends the session, so it goes last.
    endpoints.sort_by_key(|(m, p)| p.ends_with("/logout") && m == "POST");
    for (method, path) in &endpoints {
        let endpoint = format!("{method} {path}");
        if PUBLIC.contains(&endpoint.as_str()) || OWN_AUTH.contains(&endpoint.as_str()) {
            continue;
        }
        let allowed_roles =
            policy.access.endpoints.get(&endpoint).unwrap_or_else(|| panic!("{endpoint} has no access rule"));
        let id = if path.starts_with("/api/v1/customers/") { &customer } else { &ticket };
        let concrete = path.replace("{id}", id);
        let method: Method = method.parse().unwrap();
        for (user, role) in USERS {
            // An empty body: allowed calls fail validation (422), never 403.
            let body = (method == Method::POST).then(|| json!({}));
            let (status, b) = app.call(Some(user), method.clone(), &concrete, body, None).await;
            if allowed_roles.contains(role) {
                assert_ne!(status, StatusCode::FORBIDDEN, "{user} may call {endpoint}: {b}");
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{user} on {endpoint}: {b}");
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{user} may not call {endpoint}: {b}");
                assert!(b["error"]["message"].as_str().unwrap().contains("may not call"));
            }
            checked += 1;
        }
    }
    assert!(checked >= 17 * USERS.len(), "checked {checked} role × endpoint pairs");
    // Without a token every protected endpoint answers 401, public ones answer.
    for (method, path) in &endpoints {
        let endpoint = format!("{method} {path}");
        let (status, _) = app.call(None, method.parse().unwrap(), &path.replace("{id}", &ticket), None, None).await;
        if PUBLIC.contains(&endpoint.as_str()) {
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{endpoint} is public");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{endpoint} needs a token");
        }
    }
}

both_stores!(every_role_on_every_endpoint);
