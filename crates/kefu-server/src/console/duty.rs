//! On or off duty (在岗/离岗) from the header: off-duty staff get no
//! automatic dispatch. The header's button asks for the state (the page
//! script) and flips it; without the script the button still works.

use super::Lang;
use super::layout::{Fields, forbidden, gate};
use crate::AppState;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use kefu_store::Store;
use serde_json::{Map, json};

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console/duty", get(state::<S>).post(set::<S>))
}

/// `on` or `off`, for the header's button.
async fn state<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap) -> Response {
    let Some(user) = super::user(&app, &headers).await else { return StatusCode::UNAUTHORIZED.into_response() };
    let on = app.kefu.org().await.ok().and_then(|o| o.user(user.actor.id).map(|u| u.profile.on_duty));
    let text = match on {
        Some(true) => "on",
        Some(false) => "off",
        None => "",
    };
    let headers = [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")];
    (StatusCode::OK, headers, text).into_response()
}

/// Sets my duty (`on_duty=true|false`) and goes back to the page.
async fn set<S: Store>(State(app): State<AppState<S>>, headers: HeaderMap, Form(f): Form<Fields>) -> Response {
    let user = match gate(&app, &headers, "PUT /api/v1/users/{id}/duty").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    if !super::same_origin(&headers) {
        return forbidden(Lang::of(&headers), &user);
    }
    let on = f.get("on_duty").map(String::as_str) == Some("true");
    let mut patch = Map::new();
    patch.insert("on_duty".into(), json!(on));
    if let Err(e) = app.kefu.set_profile(&user.actor.id.0.to_string(), &patch, Some(user.actor.id)).await {
        tracing::warn!(error = %e, "setting duty failed");
    }
    Redirect::to(&super::back(&headers)).into_response()
}
