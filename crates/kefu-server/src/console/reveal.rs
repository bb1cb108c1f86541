//! Calling the customer from the ticket page: a role the policy lets
//! reveal the phone asks for it with a reason (logged in the access log
//! first, as the API's reveal), and gets the number with a `tel:` link on
//! the page it asked from — never in a URL, never cached.

use super::Lang;
use super::layout::{Fields, error_text, forbidden, gate};
use super::ticket::{Outcome, render_ticket};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::service::RevealSubject;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use kefu_domain::privacy::{Access, PersonalField};
use kefu_store::Store;
use serde_json::Value;

fn phone_access<S: Store>(app: &AppState<S>, user: &CurrentUser) -> Access {
    app.kefu.core.policy.privacy.access(user.actor.role, PersonalField::Phone)
}

/// The reasons to offer, when the viewer may reveal the phone and has not yet.
pub fn phone_form<S: Store>(app: &AppState<S>, user: &CurrentUser, v: &Value, revealed: bool) -> Option<Vec<String>> {
    let may = phone_access(app, user) == Access::Reveal && !revealed && v["customer"]["phone"].is_string();
    may.then(|| app.kefu.core.policy.privacy.reveal_reasons.clone())
}

/// The number to call: just revealed, or shown in full to this role anyway.
pub fn callable<S: Store>(
    app: &AppState<S>,
    user: &CurrentUser,
    v: &Value,
    revealed: Option<String>,
) -> Option<String> {
    revealed.or_else(|| {
        let full = phone_access(app, user) == Access::Full;
        v["customer"]["phone"].as_str().filter(|_| full).map(str::to_string)
    })
}

/// `POST /console/tickets/{key}/reveal`: the phone in full, for a reason.
pub async fn reveal<S: Store>(
    State(app): State<AppState<S>>,
    headers: HeaderMap,
    Path(key): Path<String>,
    Form(mut f): Form<Fields>,
) -> Response {
    let user = match gate(&app, &headers, "POST /api/v1/tickets/{id}/reveal").await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let lang = Lang::of(&headers);
    if !super::same_origin(&headers) {
        return forbidden(lang, &user);
    }
    // A reveal is read and logged each time it is asked: no replay.
    f.remove(super::layout::FORM_TOKEN);
    // A listed reason, or one written out.
    let reason = ["reason", "reason_text"].iter().filter_map(|k| f.get(*k)).map(|r| r.trim()).find(|r| !r.is_empty());
    let asked = app.kefu.reveal(&user.actor, RevealSubject::Ticket(&key), Some("customer.phone"), reason).await;
    let outcome = match asked {
        Ok(r) => Outcome {
            flash: Some(lang.t("已显示完整号码（已记入访问日志）", "The full number is shown (logged)").to_string()),
            revealed: r.value,
            ..Outcome::default()
        },
        Err(e) => {
            let (status, _, msg) = error_text(lang, e);
            Outcome { error: Some(("reveal".into(), None, msg)), status: Some(status), ..Outcome::default() }
        }
    };
    render_ticket(&app, &user, lang, &key, outcome).await
}
