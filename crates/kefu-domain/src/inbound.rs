//! Messages customers send in: where an incoming SMS (and later
//! an e-mail or WeChat message) belongs — the answer to a survey, a word on
//! a ticket of theirs still being handled, or a new request — decided from
//! the customer's tickets as they are, with the limits of `[inbound]`.

use crate::TicketId;
use crate::customer_loop::VisitState;
use crate::validate::{Phone, fold_width};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// `[inbound]` of the policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InboundPolicy {
    /// A message goes on the customer's latest ticket that is not finished
    /// and changed within this many days; otherwise it is a new request.
    pub thread_days: u32,
    /// The type of a new request when the suggestions are not sure.
    pub default_type: String,
    /// The title of a new request: the first this-many characters.
    pub title_chars: usize,
    /// Longest message taken, characters (the rest is cut, and says so).
    pub max_chars: usize,
}

impl Default for InboundPolicy {
    fn default() -> Self {
        InboundPolicy { thread_days: 7, default_type: "consultation".into(), title_chars: 30, max_chars: 2000 }
    }
}

/// A ticket of the sender, as far as routing needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: TicketId,
    /// Finished: archived, withdrawn, merged … (no word goes on it).
    pub finished: bool,
    pub visit: Option<VisitState>,
    pub updated_at: DateTime<Utc>,
}

/// Where an incoming message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A 1–5 answer to the survey of this ticket.
    Survey { ticket: TicketId, score: u8 },
    /// A word on this ticket.
    Reply(TicketId),
    /// A new request.
    New,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Survey { .. } => "survey",
            Route::Reply(_) => "reply",
            Route::New => "new",
        }
    }
}

/// The sender's number as a gateway sends it (`8613800000000`,
/// `+86 138-0000-0000`, full-width digits …), or None.
pub fn sender_phone(raw: &str) -> Option<Phone> {
    let folded: String = fold_width(raw).chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    let bare = match folded.strip_prefix("86") {
        Some(rest) if rest.len() == 11 && rest.starts_with('1') => rest.to_string(),
        _ => folded,
    };
    Phone::parse(&bare, "from").ok()
}

/// A survey answer: one digit 1–5, half- or full-width, maybe with 分.
pub fn score(text: &str) -> Option<u8> {
    let t = fold_width(text);
    let t = t.trim().trim_end_matches(['分', '.', '。', '!', '！']).trim();
    match t.as_bytes() {
        [d @ b'1'..=b'5'] => Some(d - b'0'),
        _ => None,
    }
}

impl InboundPolicy {
    /// Where a message from a customer with these tickets goes at `now`: a
    /// score answers the latest ticket whose survey waits for one; any other
    /// text goes on the latest unfinished ticket changed within
    /// `thread_days`; else it is a new request.
    pub fn route(&self, text: &str, tickets: &[Candidate], now: DateTime<Utc>) -> Route {
        let latest = |ok: &dyn Fn(&Candidate) -> bool| tickets.iter().filter(|c| ok(c)).max_by_key(|c| c.updated_at);
        if let Some(score) = score(text)
            && let Some(t) = latest(&|c| c.visit == Some(VisitState::Invited))
        {
            return Route::Survey { ticket: t.id, score };
        }
        let since = now - Duration::days(i64::from(self.thread_days));
        match latest(&|c| !c.finished && c.updated_at >= since) {
            Some(t) => Route::Reply(t.id),
            None => Route::New,
        }
    }

    /// The text as kept: trimmed, at most `max_chars`, a cut one marked.
    pub fn text(&self, raw: &str) -> String {
        let t = raw.trim();
        if t.chars().count() <= self.max_chars {
            return t.to_string();
        }
        let kept: String = t.chars().take(self.max_chars).collect();
        format!("{kept}……（超长部分已截断）")
    }

    /// The title of a new request made from the text.
    pub fn title(&self, text: &str, channel_zh: &str) -> String {
        let first_line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        let short: String = first_line.chars().take(self.title_chars).collect();
        let short = if short.is_empty() { "（无内容）".to_string() } else { short };
        format!("【{channel_zh}】{short}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        "2026-11-22T02:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::hours(h)
    }

    fn cand(id: i64, finished: bool, visit: Option<VisitState>, hours: i64) -> Candidate {
        Candidate { id: TicketId(id), finished, visit, updated_at: at(hours) }
    }

    #[test]
    fn senders_are_read_as_gateways_send_them() {
        for raw in ["13800000001", "8613800000001", "+8613800000001", "+86 138-0000-0001", "１３８０００００００１"]
        {
            assert_eq!(sender_phone(raw).map(|p| p.as_str().to_string()).as_deref(), Some("13800000001"), "{raw}");
        }
        assert!(sender_phone("10086").is_none());
        assert!(sender_phone("<script>").is_none());
        assert!(sender_phone("").is_none());
    }

    #[test]
    fn scores_are_one_digit_one_to_five() {
        for (t, want) in [("5", Some(5)), (" ３ ", Some(3)), ("4分", Some(4)), ("1。", Some(1))] {
            assert_eq!(score(t), want, "{t}");
        }
        for t in ["0", "6", "10", "55", "5星好评", "", "五"] {
            assert_eq!(score(t), None, "{t}");
        }
    }

    #[test]
    fn a_message_finds_its_ticket() {
        let p = InboundPolicy::default();
        let now = at(24);
        let invited = cand(1, false, Some(VisitState::Invited), 2);
        let open = cand(2, false, None, 20);
        let old = cand(3, false, None, -24 * 8);
        let archived = cand(4, true, None, 23);
        let all = [invited.clone(), open.clone(), old.clone(), archived.clone()];
        assert_eq!(p.route("5", &all, now), Route::Survey { ticket: TicketId(1), score: 5 });
        assert_eq!(p.route("还是上不了网", &all, now), Route::Reply(TicketId(2)), "latest unfinished");
        assert_eq!(p.route("5", std::slice::from_ref(&open), now), Route::Reply(TicketId(2)), "no survey waits");
        assert_eq!(p.route("你好", &[old, archived], now), Route::New, "too old, or finished");
        assert_eq!(p.route("你好", &[], now), Route::New);
    }

    #[test]
    fn texts_are_kept_within_limits() {
        let p = InboundPolicy { max_chars: 5, title_chars: 4, ..Default::default() };
        assert_eq!(p.text("  你好  "), "你好");
        assert_eq!(p.text("一二三四五六"), "一二三四五……（超长部分已截断）");
        assert_eq!(p.title("\n\n宽带断网了请尽快\n第二行", "短信"), "【短信】宽带断网");
        assert_eq!(p.title("", "短信"), "【短信】（无内容）");
    }
}
