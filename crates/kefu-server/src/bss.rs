//! The BSS port (R-22): where an order is carried out. Two adapters: the
//! embedded inventory (the default: kefu's own services table is the
//! truth, and an order completes as it is handed over), and an HTTP adapter
//! that sends the operator's BSS a TMF622-style product order and follows
//! its state by callback (`POST /api/v1/bss/events`) or by asking.
//! Idempotent by the order id (`externalId`): a retry after a timeout
//! never makes a second order.

use chrono::{DateTime, Utc};
use kefu_domain::order::{ItemAction, OrderKind, OrderState};
use serde::Deserialize;
use serde_json::{Value, json};

/// `[bss]` of the config file. Without `url`: the embedded inventory.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BssConfig {
    /// The product-order API's base, e.g. `https://bss.example.com/tmf-api/productOrderingManagement/v4`.
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer …` to the BSS.
    pub token: Option<String>,
    /// What the BSS sends back on `POST /api/v1/bss/events` (header `X-Bss-Token`).
    pub callback_token: Option<String>,
    pub timeout_seconds: u64,
    /// How long a node holds the orders it took from the queue.
    pub claim_seconds: i64,
}

impl Default for BssConfig {
    fn default() -> Self {
        BssConfig { url: None, token: None, callback_token: None, timeout_seconds: 10, claim_seconds: 120 }
    }
}

/// One line of an order as the BSS sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct BssItem {
    pub action: ItemAction,
    /// The service's id in the inventory (modify, delete).
    pub service: Option<i64>,
    pub product_code: Option<String>,
    pub service_number: Option<String>,
}

/// An order handed to the BSS.
#[derive(Debug, Clone, PartialEq)]
pub struct BssOrder {
    pub id: String,
    pub customer: i64,
    pub kind: OrderKind,
    pub items: Vec<BssItem>,
    pub requested_at: DateTime<Utc>,
}

/// What the BSS said.
#[derive(Debug, Clone, PartialEq)]
pub enum BssReply {
    /// It has the order, in this state.
    Took { state: OrderState, bss_ref: Option<String>, reason: Option<String> },
    /// It refused the order (a 4xx): trying again will not help.
    Refused { reason: String },
    /// It could not be reached or failed (timeout, 5xx): try again later.
    Unavailable { error: String },
}

pub enum Bss {
    Embedded,
    Http(HttpBss),
}

impl Bss {
    pub fn from_config(cfg: &BssConfig) -> Result<Bss, String> {
        match &cfg.url {
            None => Ok(Bss::Embedded),
            Some(url) => HttpBss::new(url, cfg).map(Bss::Http),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Bss::Embedded => "embedded",
            Bss::Http(_) => "http",
        }
    }

    /// Hands the order over. The embedded inventory carries it out at once
    /// (the changes are written with the ticket's change that records it).
    pub async fn submit(&self, order: &BssOrder) -> BssReply {
        match self {
            Bss::Embedded => {
                BssReply::Took { state: OrderState::Completed, bss_ref: Some(order.id.clone()), reason: None }
            }
            Bss::Http(h) => h.submit(order).await,
        }
    }

    /// Asks where an order stands.
    pub async fn poll(&self, order: &BssOrder, bss_ref: Option<&str>) -> BssReply {
        match (self, bss_ref) {
            (Bss::Http(h), Some(r)) => h.poll(r).await,
            // Never acknowledged: hand it over again (the id makes it the same order).
            _ => self.submit(order).await,
        }
    }
}

pub struct HttpBss {
    base: String,
    token: Option<String>,
    client: reqwest::Client,
}

/// TMF622's order states in kefu's words; None: not one of them.
pub fn tmf_state(s: &str) -> Option<OrderState> {
    Some(match s {
        "acknowledged" => OrderState::Acknowledged,
        "inProgress" | "pending" | "held" | "assessingCancellation" | "pendingCancellation" => OrderState::InProgress,
        "completed" => OrderState::Completed,
        "failed" | "rejected" | "cancelled" | "partial" => OrderState::Failed,
        _ => return None,
    })
}

/// The TMF622 ProductOrder body of an order.
pub fn tmf_body(o: &BssOrder) -> Value {
    let items: Vec<Value> = o
        .items
        .iter()
        .enumerate()
        .map(|(n, it)| {
            let action = match it.action {
                ItemAction::Add => "add",
                ItemAction::Modify => "modify",
                ItemAction::Delete => "delete",
            };
            let mut product = json!({});
            if let Some(id) = it.service {
                product["id"] = json!(id.to_string());
            }
            if let Some(code) = &it.product_code {
                product["productSpecification"] = json!({"id": code});
            }
            if let Some(number) = &it.service_number {
                product["productCharacteristic"] = json!([{"name": "serviceNumber", "value": number}]);
            }
            json!({"id": (n + 1).to_string(), "action": action, "product": product, "@type": "ProductOrderItem"})
        })
        .collect();
    json!({
        "externalId": o.id,
        "category": serde_json::to_value(o.kind).unwrap_or(Value::Null),
        "requestedStartDate": o.requested_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "relatedParty": [{"id": o.customer.to_string(), "role": "customer", "@referredType": "Individual"}],
        "productOrderItem": items,
        "@type": "ProductOrder",
    })
}

/// The reply of the BSS to a submission or a question.
fn read_reply(status: reqwest::StatusCode, body: &str) -> BssReply {
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return BssReply::Unavailable { error: format!("BSS answered {status}") };
    }
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    if status.is_client_error() {
        let reason = v.get("reason").or_else(|| v.get("message")).and_then(Value::as_str).unwrap_or("refused");
        return BssReply::Refused { reason: format!("BSS refused the order ({status}): {reason}") };
    }
    let state = v.get("state").and_then(Value::as_str).and_then(tmf_state);
    match state {
        Some(state) => BssReply::Took {
            state,
            bss_ref: v.get("id").and_then(Value::as_str).map(str::to_string),
            reason: v
                .get("stateChangeReason")
                .or_else(|| v.get("errorMessage"))
                .and_then(Value::as_str)
                .map(str::to_string),
        },
        None => BssReply::Unavailable { error: "the BSS's answer names no order state".into() },
    }
}

impl HttpBss {
    fn new(base: &str, cfg: &BssConfig) -> Result<HttpBss, String> {
        crate::delivery::install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(cfg.timeout_seconds.max(1)))
            .build()
            .map_err(|e| format!("BSS client: {e}"))?;
        Ok(HttpBss { base: base.trim_end_matches('/').to_string(), token: cfg.token.clone(), client })
    }

    fn authorized(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn submit(&self, o: &BssOrder) -> BssReply {
        let req = self.client.post(format!("{}/productOrder", self.base)).json(&tmf_body(o));
        self.call(req).await
    }

    async fn poll(&self, bss_ref: &str) -> BssReply {
        // The BSS's id goes in as one path segment, encoded by the URL type.
        let url = reqwest::Url::parse(&format!("{}/productOrder", self.base)).ok().and_then(|mut u| {
            u.path_segments_mut().ok()?.push(bss_ref);
            Some(u)
        });
        match url {
            Some(url) => self.call(self.client.get(url)).await,
            None => BssReply::Unavailable { error: format!("not a URL: {}", self.base) },
        }
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> BssReply {
        match self.authorized(req).send().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.text().await {
                    Ok(body) => read_reply(status, &body),
                    Err(e) => BssReply::Unavailable { error: format!("BSS answer cut off: {e}") },
                }
            }
            Err(e) if e.is_timeout() => BssReply::Unavailable { error: "the BSS did not answer in time".into() },
            Err(e) => BssReply::Unavailable { error: format!("BSS unreachable: {e}") },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmf_states_and_replies_are_read_as_kefu_states() {
        assert_eq!(tmf_state("inProgress"), Some(OrderState::InProgress));
        assert_eq!(tmf_state("rejected"), Some(OrderState::Failed));
        assert_eq!(tmf_state("nonsense"), None);
        let ok = read_reply(reqwest::StatusCode::CREATED, r#"{"id":"PO-7","state":"acknowledged"}"#);
        assert_eq!(ok, BssReply::Took { state: OrderState::Acknowledged, bss_ref: Some("PO-7".into()), reason: None });
        assert!(matches!(read_reply(reqwest::StatusCode::SERVICE_UNAVAILABLE, ""), BssReply::Unavailable { .. }));
        let refused = read_reply(reqwest::StatusCode::UNPROCESSABLE_ENTITY, r#"{"reason":"no such product"}"#);
        assert!(matches!(refused, BssReply::Refused { reason } if reason.contains("no such product")));
        assert!(matches!(read_reply(reqwest::StatusCode::OK, "<html>"), BssReply::Unavailable { .. }));
    }
}
