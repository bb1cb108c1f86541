//! Request counts and latencies in Prometheus text format, by method, route
//! template (never the concrete path, which holds ticket numbers) and status.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
pub struct Metrics(Mutex<BTreeMap<(String, String), Series>>);

#[derive(Default)]
struct Series {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, secs: f64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.entry((method.to_string(), route.to_string())).or_default();
        *s.by_status.entry(status).or_default() += 1;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
        s.count += 1;
        s.sum += secs;
    }

    pub fn render(&self) -> String {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        out.push_str("# HELP kefu_http_requests_total HTTP requests by method, route and status.\n# TYPE kefu_http_requests_total counter\n");
        for ((m, r), s) in map.iter() {
            for (status, n) in &s.by_status {
                let _ =
                    writeln!(out, "kefu_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{status}\"}} {n}");
            }
        }
        out.push_str("# HELP kefu_http_request_duration_seconds HTTP request latency.\n# TYPE kefu_http_request_duration_seconds histogram\n");
        for ((m, r), s) in map.iter() {
            for (b, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(
                    out,
                    "kefu_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"{b}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "kefu_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(out, "kefu_http_request_duration_seconds_sum{{method=\"{m}\",route=\"{r}\"}} {}", s.sum);
            let _ =
                writeln!(out, "kefu_http_request_duration_seconds_count{{method=\"{m}\",route=\"{r}\"}} {}", s.count);
        }
        out
    }
}

pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route =
        req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    // The span names the route template, never the concrete path: paths
    // hold ticket numbers and query strings may hold phone numbers.
    let span = tracing::info_span!("request", %method, %route);
    let response = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    let status = response.status().as_u16();
    let secs = start.elapsed().as_secs_f64();
    metrics.observe(&method, &route, status, secs);
    span.in_scope(|| tracing::debug!(status, ms = secs * 1e3, "handled"));
    response
}
