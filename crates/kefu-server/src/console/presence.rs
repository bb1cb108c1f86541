//! Who else has a ticket open (协同提示): "赵海燕 is viewing / editing this
//! ticket", so two people do not answer the same customer at once. Each open
//! ticket page reports itself every `HEARTBEAT` seconds (editing while a form
//! of the page holds typed text) and learns who else did lately. Kept in the
//! node's memory: on several nodes behind a load balancer a person sees the
//! others on their own node only (sticky sessions make that everyone).

use super::Lang;
use crate::AppState;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use kefu_domain::UserId;
use kefu_store::Store;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often an open page reports (the page script uses the same period).
pub const HEARTBEAT: Duration = Duration::from_secs(15);

pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new().route("/console/tickets/{key}/presence", post(report::<S>))
}

/// Someone with a ticket open, as last reported.
struct Seen {
    user: UserId,
    name: String,
    editing: bool,
    at: Instant,
}

/// Open ticket pages by ticket key; a report older than three heartbeats
/// means the page was closed.
#[derive(Default)]
pub struct Presence(Mutex<HashMap<String, Vec<Seen>>>);

impl Presence {
    /// Records `user` on `key` and returns the others there now.
    fn report(&self, key: &str, user: UserId, name: &str, editing: bool) -> Vec<(String, bool)> {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        all.retain(|_, seen| {
            seen.retain(|s| now.duration_since(s.at) < HEARTBEAT * 3);
            !seen.is_empty()
        });
        let here = all.entry(key.to_string()).or_default();
        here.retain(|s| s.user != user);
        let others = here.iter().map(|s| (s.name.clone(), s.editing)).collect();
        here.push(Seen { user, name: name.to_string(), editing, at: now });
        others
    }
}

/// `POST /console/tickets/{key}/presence` (`editing=true|false`): the others
/// with the ticket open, as a sentence for the page.
async fn report<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let Some(user) = super::user(&app, &headers).await else { return StatusCode::UNAUTHORIZED.into_response() };
    if !super::same_origin(&headers) || app.kefu.visible_ticket(&user.actor, &key).await.is_err() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let lang = Lang::of(&headers);
    let name = app.kefu.core.directory.summary(user.actor.id).name;
    let editing = f.get("editing").map(String::as_str) == Some("true");
    let others = app.presence.report(&key, user.actor.id, &name, editing);
    let text: Vec<String> = others
        .iter()
        .map(|(who, editing)| match (lang, editing) {
            (Lang::Zh, true) => format!("{who} 正在编辑此工单"),
            (Lang::Zh, false) => format!("{who} 正在查看此工单"),
            (Lang::En, true) => format!("{who} is editing this ticket"),
            (Lang::En, false) => format!("{who} is viewing this ticket"),
        })
        .collect();
    let headers = [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")];
    (StatusCode::OK, headers, text.join(lang.t("；", "; "))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_sees_the_others_never_themselves() {
        let p = Presence::default();
        assert!(p.report("GD1", UserId(1), "赵海燕", false).is_empty());
        assert_eq!(p.report("GD1", UserId(2), "钱伟", true), vec![("赵海燕".to_string(), false)]);
        assert_eq!(p.report("GD1", UserId(1), "赵海燕", false), vec![("钱伟".to_string(), true)]);
        assert!(p.report("GD2", UserId(3), "孙丽", false).is_empty(), "another ticket");
    }
}
