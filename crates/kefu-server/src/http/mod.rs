//! HTTP routes, one module per resource, merged here.

mod auth;
mod meta;
mod privacy;
mod staff;
mod tickets;

use crate::AppState;
use crate::extract::BODY_LIMIT;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use kefu_store::Store;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "kefu 客服工单 API", description = "Customer-service work orders of a telecom operator. Errors: {\"error\": {code, message, message_zh, field, details}}."),
    paths(
        auth::login, auth::logout, auth::me,
        tickets::create, tickets::list, tickets::get_one, tickets::act, tickets::add_comment, tickets::comments,
        tickets::events, tickets::transfers,
        staff::users, staff::customer,
        meta::flows, meta::policy, meta::healthz, meta::metrics,
        privacy::reveal_ticket, privacy::reveal_customer, privacy::access_log,
    ),
    components(schemas(
        crate::error::ErrorBody, crate::view::TicketView, crate::service::LoginResponse,
        kefu_domain::intake::IntakeRequest, tickets::ActionBody, tickets::CommentBody, tickets::TicketPage,
        kefu_domain::audit::AuditEvent, kefu_domain::ticket::Transfer, kefu_domain::ticket::Comment,
    )),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

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

pub fn router<S: Store>(state: AppState<S>) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .merge(auth::router())
        .merge(tickets::router())
        .merge(staff::router())
        .merge(meta::router())
        .merge(privacy::router())
        .with_state(state)
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
