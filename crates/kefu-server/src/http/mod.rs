//! HTTP routes, one module per resource, merged here.

pub(crate) mod attachments;
mod auth;
mod bot;
mod calendar;
mod customer_loop;
mod inbound;
mod incidents;
mod kb;
mod macros;
mod meta;
mod orders;
mod org;
mod portal;
mod portal_kb;
mod privacy;
mod quality;
pub mod reports;
mod security;
mod staff;
mod staff_records;
mod stores;
mod suggest;
pub(crate) mod tickets;
mod tmf621;
mod webhooks;
mod wechat;

use crate::AppState;
use crate::auth::authenticate;
use crate::error::ApiError;
use crate::extract::BODY_LIMIT;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kefu_store::prelude::*;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "kefu 客服工单 API", description = "Customer-service work orders of a telecom operator. Errors: {\"error\": {code, message, message_zh, field, details}}."),
    paths(
        auth::login, auth::logout, auth::me,
        tickets::create, tickets::list, tickets::get_one, tickets::act, tickets::add_comment, tickets::comments,
        tickets::events, tickets::transfers,
        org::users, org::set_profile, org::set_duty, org::departments, org::create_department, org::teams,
        org::create_team, org::update_team, org::notices, org::read_notices, staff::customer,
        meta::flows, meta::policy, meta::healthz, meta::readyz, meta::metrics,
        privacy::reveal_ticket, privacy::reveal_customer, privacy::access_log, privacy::export_customer,
        privacy::erase_customer, calendar::add, calendar::day,
        customer_loop::messages, customer_loop::sms_receipts, customer_loop::return_visits, customer_loop::visit_report,
        macros::list, macros::create, macros::update, macros::delete, macros::apply,
        kb::list, kb::create, kb::one, kb::update, kb::delete, kb::versions, kb::lexicon, kb::set_lexicon,
        kb::vote, kb::feedback, suggest::suggest, suggest::model, suggest::retrain,
        bot::start, bot::message, bot::transcript, bot::misses, bot::resolve,
        reports::metrics, reports::kpi, reports::create_export, reports::list_exports, reports::export, reports::download, reports::create_schedule, reports::schedules, reports::delete_schedule, reports::hot,
        quality::scorecards, quality::scorecard, quality::save_scorecard, quality::create_review, quality::reviews, quality::review, quality::assessments, quality::create_innovation, quality::innovations, quality::create_violation, quality::violations, quality::violation, quality::step_violation, quality::queue, quality::prechecks, quality::export_assessments, quality::calibration, staff_records::record, staff_records::add_training,
        stores::create, stores::list, stores::one, stores::rectifications, stores::report, stores::inspect, stores::inspections, stores::grade, stores::grading, stores::league,
        attachments::upload, attachments::list, attachments::download, inbound::sms, wechat::verify, wechat::message, tmf621::list, tmf621::create, tmf621::retrieve, tmf621::patch, tmf621::delete, tmf621::hub_register, tmf621::hub_get, tmf621::hub_delete, tmf621::v5_list, tmf621::v5_create, tmf621::v5_retrieve, tmf621::v5_patch, tmf621::v5_delete, tmf621::v5_hub_register, tmf621::v5_hub_get, tmf621::v5_hub_delete, webhooks::create, webhooks::list, webhooks::retrieve, webhooks::change, webhooks::remove, webhooks::deliveries, webhooks::replay,
        orders::products, orders::services, orders::history, orders::order_action, orders::bss_events, orders::import,
        incidents::create, incidents::list, incidents::one, incidents::events, incidents::link, incidents::unlink, incidents::act, incidents::candidates, incidents::dismiss, incidents::compensation, incidents::compensation_export,
        security::report, security::list, security::one, security::act,
    ),
    components(schemas(
        crate::error::ErrorBody, crate::view::TicketView, crate::service::attachments::AttachmentView, attachments::AttachmentList, inbound::ReceivedList, crate::service::inbound::Received, crate::service::LoginResponse,
        kefu_domain::intake::IntakeRequest, tickets::ActionBody, tickets::CommentBody, tickets::TicketPage,
        kefu_domain::audit::AuditEvent, kefu_domain::ticket::Transfer, kefu_domain::ticket::Comment,
        crate::service::org::StaffView, kefu_domain::org::Department, kefu_domain::org::Team, kefu_domain::org::Skills,
        kefu_store::Notice, kefu_store::Message, privacy::AccessLogPage, kefu_domain::macros::Macro,
        kefu_domain::macros::MacroInput, macros::ApplyBody, kefu_domain::kb::Article, kefu_domain::kb::ArticleInput,
        kefu_domain::kb::Answers, kefu_domain::kb::ArticleStatus, kefu_domain::kb::LexiconEntries, kb::VoteBody, kefu_store::FeedbackSummary, kefu_store::Feedback, crate::service::kb::ArticleHit, kb::ArticlePage,
        crate::service::suggest::SuggestRequest, crate::service::suggest::SuggestCustomer, crate::service::suggest::Suggestion,
        crate::service::suggest::Guess, crate::service::suggest::Department, crate::service::suggest::Similar,
        crate::service::suggest::ModelReport, crate::service::suggest::LabelScore,
        crate::service::bot::StartRequest, crate::service::bot::StartCustomer, crate::service::bot::MessageRequest,
        crate::service::bot::BotReply, crate::service::bot::TicketRef, crate::service::bot::Transcript,
        kefu_domain::bot::ArticleRef, crate::service::kb_misses::MissQueue, crate::service::kb_misses::Cluster,
        crate::service::kb_misses::ResolveRequest, crate::service::kb_misses::Resolved,
        crate::service::reports::MetricList, crate::service::reports::MetricItem,
        crate::service::kpi::KpiReport, crate::service::kpi::KpiItem, reports::ExportBody, reports::ScheduleBody, crate::service::hot::HotIssues, crate::service::hot::HotItem,
    )),
    modifiers(&BearerAuth, &ErrorResponses),
)]
pub struct ApiDoc;

/// Every error a request can meet, on every operation: the document says
/// what the server may answer, and each error has the one JSON body.
struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        const ERRORS: &[(&str, &str)] = &[
            ("400", "malformed request: invalid JSON, a duplicate key, a body that is not an object"),
            ("401", "no or bad token"),
            ("403", "the role or the caller's relation to the record does not allow it"),
            ("404", "unknown, or not visible to the caller"),
            ("405", "method not allowed"),
            ("408", "the request was not received in time"),
            ("409", "not allowed in the current state"),
            ("413", "body too large"),
            ("415", "not JSON"),
            ("422", "an invalid field, named in error.field"),
            ("429", "rate limited"),
            ("500", "internal error"),
            ("503", "a needed calendar year is not loaded"),
        ];
        for item in doc.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                for (code, why) in ERRORS {
                    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
                    let response = ResponseBuilder::new().description(*why).content("application/json", content);
                    op.responses.responses.entry(code.to_string()).or_insert_with(|| RefOr::T(response.build()));
                }
            }
        }
    }
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Endpoints anyone may call; every other one needs a token and a rule in
/// the policy's `[access.endpoints]` table.
pub const PUBLIC: &[&str] = &[
    "GET /",
    "GET /healthz",
    "GET /readyz",
    "GET /favicon.ico",
    "GET /api/openapi.json",
    "POST /api/v1/auth/login",
    // The smart first line: customers chat without an account (limited per address).
    "POST /api/v1/bot/sessions",
    "GET /api/v1/bot/sessions/{id}",
    "POST /api/v1/bot/sessions/{id}/messages",
];

/// Endpoints that check their caller themselves instead of by the endpoint
/// table: the metrics scraper and the SMS gateway have tokens of their own,
/// not sessions.
pub const OWN_AUTH: &[&str] = &[
    "GET /metrics",
    "POST /api/v1/sms/receipts",
    "POST /api/v1/sms/inbound",
    "POST /api/v1/bss/events",
    "GET /api/v1/wechat/callback",
    "POST /api/v1/wechat/callback",
];

/// Enforces the endpoint table: authenticate, then allow the role only if
/// the table names it for this endpoint. No rule means closed.
async fn authorize<S: Store>(State(state): State<AppState<S>>, mut req: Request, next: Next) -> Response {
    let Some(path) = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()) else {
        return next.run(req).await;
    };
    let endpoint = format!("{} {path}", req.method());
    if PUBLIC.contains(&endpoint.as_str())
        || OWN_AUTH.contains(&endpoint.as_str())
        || portal::PUBLIC.contains(&endpoint.as_str())
        || portal_kb::PUBLIC.contains(&endpoint.as_str())
        || crate::console::is_console(&path)
    {
        return next.run(req).await;
    }
    let user = match authenticate(&state, req.headers()).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let role = user.actor.role;
    match state.kefu.core.policy.access.allows(&endpoint, role) {
        Some(true) => {
            req.extensions_mut().insert(user);
            next.run(req).await
        }
        Some(false) => ApiError::Forbidden {
            reason: format!("role {} may not call {endpoint}", role.as_str()),
            reason_zh: format!("角色“{}”无权访问该接口", role.label_zh()),
        }
        .into_response(),
        None => ApiError::Forbidden {
            reason: format!("no access rule for {endpoint}; it is closed"),
            reason_zh: "该接口未配置访问规则，已禁止访问".into(),
        }
        .into_response(),
    }
}

/// Every error of the API in the JSON error body: a rejection axum
/// answered by itself in plain text (a path that is not UTF-8, a query
/// that does not parse, an unknown route, a wrong method) is rewritten.
async fn json_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let api = path.starts_with("/api/") || path == "/healthz" || path == "/readyz" || path == "/metrics";
    let response = next.run(req).await;
    if !api || response.status().as_u16() < 400 {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    crate::error::for_status(response.status())
}

/// A panic in a handler becomes a logged 500 with the JSON error body; the
/// log names neither the request nor the panic's message (which may quote
/// personal data), only that it happened.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; answered 500");
    crate::error::for_status(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
}

pub fn router<S: Store>(state: AppState<S>) -> Router {
    let metrics = state.metrics.clone();
    let upload = crate::extract::UploadLimit::of(&state.kefu.core.policy.attachments);
    Router::new()
        .merge(auth::router())
        .merge(tickets::router())
        .merge(staff::router())
        .merge(org::router())
        .merge(meta::router())
        .merge(privacy::router())
        .merge(calendar::router())
        .merge(customer_loop::router())
        .merge(macros::router())
        .merge(kb::router())
        .merge(suggest::router())
        .merge(bot::router())
        .merge(reports::router())
        .merge(quality::router())
        .merge(stores::router())
        .merge(incidents::router())
        .merge(orders::router())
        .merge(attachments::router())
        .merge(inbound::router())
        .merge(wechat::router())
        .merge(tmf621::router())
        .merge(tmf621::router_v5())
        .merge(webhooks::router())
        .merge(security::router())
        .merge(staff_records::router())
        .merge(portal::router())
        .merge(portal_kb::router())
        .merge(crate::console::router())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), authorize::<S>))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(upload, crate::extract::buffer_body))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn_with_state(metrics, crate::metrics::track))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    /// A handler that panics answers 500 with the JSON error body (the
    /// connection is not dropped), and the body does not echo the input.
    #[tokio::test]
    async fn a_panic_is_a_json_500() {
        let app: Router = Router::new()
            .route(
                "/api/v1/boom/{phone}",
                get(|axum::extract::Path(p): axum::extract::Path<String>| async move {
                    if p.len() > 3 {
                        panic!("cannot handle {p}");
                    }
                    "ok"
                }),
            )
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
            .layer(axum::middleware::from_fn(json_errors));
        let req = axum::http::Request::get("/api/v1/boom/13812345678").body(Body::empty()).unwrap();
        let r = app.oneshot(req).await.unwrap();
        assert_eq!(r.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
        let body = axum::body::to_bytes(r.into_body(), 10_000).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("internal_error") && !text.contains("13812345678"), "{text}");
    }
}
