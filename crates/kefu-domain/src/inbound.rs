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

/// The headers of an e-mail that tell whether a machine sent it.
#[derive(Debug, Clone, Default)]
pub struct MailMarks<'a> {
    pub auto_submitted: Option<&'a str>,
    pub precedence: Option<&'a str>,
    /// Any of X-Autoreply, X-Autorespond, X-Auto-Response-Suppress.
    pub autoreply_header: bool,
    /// The top-level content type, `multipart/report` for a bounce.
    pub content_type: Option<&'a str>,
    pub from: &'a str,
    /// Return-Path `<>`: a delivery report.
    pub null_return_path: bool,
}

/// Why an e-mail is not answered, if a machine sent it: an auto-reply
/// (Auto-Submitted, Precedence, X-Autoreply …), a bounce (a delivery report,
/// MAILER-DAEMON, an empty return path), or kefu's own address (a loop).
pub fn automatic(m: &MailMarks, own: &[&str]) -> Option<&'static str> {
    let lower = |s: Option<&str>| s.map(|v| v.trim().to_ascii_lowercase());
    if lower(m.auto_submitted).is_some_and(|v| !v.is_empty() && v != "no") {
        return Some("auto_submitted");
    }
    if lower(m.precedence).is_some_and(|v| matches!(v.as_str(), "bulk" | "junk" | "list" | "auto_reply")) {
        return Some("precedence");
    }
    if m.autoreply_header {
        return Some("autoreply");
    }
    let from = m.from.trim().to_ascii_lowercase();
    let local = from.split('@').next().unwrap_or_default();
    if m.null_return_path
        || lower(m.content_type).is_some_and(|v| v.starts_with("multipart/report"))
        || matches!(local, "mailer-daemon" | "postmaster")
    {
        return Some("bounce");
    }
    if own.iter().any(|o| o.trim().eq_ignore_ascii_case(&from)) {
        return Some("loop");
    }
    None
}

/// The ticket an e-mail answers: the id in a Message-ID kefu gave its own
/// mail (`<kefu-t{id}-m{n}@…>`, found in In-Reply-To or References), else a
/// ticket number in the subject (`GD` + 14 digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Thread {
    Ticket(TicketId),
    Number(String),
    None,
}

pub fn thread(subject: &str, references: &[&str]) -> Thread {
    for r in references.iter().rev() {
        let r = r.trim_matches(['<', '>', ' ']);
        if let Some(rest) = r.strip_prefix("kefu-t")
            && let Some((id, _)) = rest.split_once("-m")
            && let Ok(id) = id.parse::<i64>()
        {
            return Thread::Ticket(TicketId(id));
        }
    }
    let chars: Vec<char> = subject.chars().collect();
    for i in 0..chars.len().saturating_sub(15) {
        let digits = &chars[i + 2..i + 16];
        let before_ok = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let after_ok = chars.get(i + 16).is_none_or(|c| !c.is_ascii_digit());
        if chars[i] == 'G' && chars[i + 1] == 'D' && digits.iter().all(char::is_ascii_digit) && before_ok && after_ok {
            return Thread::Number(chars[i..i + 16].iter().collect());
        }
    }
    Thread::None
}

/// The new part of a reply: the text above the quoted mail (a line
/// "在 … 写道：", "On … wrote:", "-----Original Message-----", "发件人:",
/// or lines starting with `>`), or all of it when nothing is quoted.
pub fn without_quote(text: &str) -> String {
    let mut kept = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        let quote_head = (t.starts_with("在") && (t.ends_with("写道：") || t.ends_with("写道:")))
            || (t.starts_with("On ") && t.ends_with("wrote:"))
            || t.contains("Original Message")
            || t.starts_with("-----原始邮件-----")
            || t.starts_with("发件人:")
            || t.starts_with("发件人：")
            || t.starts_with("From: ");
        if quote_head || t.starts_with('>') {
            break;
        }
        kept.push(line);
    }
    let new = kept.join("\n").trim().to_string();
    if new.is_empty() { text.trim().to_string() } else { new }
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
    fn machines_are_told_from_people() {
        let own = ["kefu@example.com"];
        let person = MailMarks { from: "zhang.san@example.com", ..Default::default() };
        assert_eq!(automatic(&person, &own), None);
        let no = MailMarks { auto_submitted: Some("no"), ..person.clone() };
        assert_eq!(automatic(&no, &own), None);
        for (m, why) in [
            (MailMarks { auto_submitted: Some("auto-replied"), ..person.clone() }, "auto_submitted"),
            (MailMarks { precedence: Some("Bulk"), ..person.clone() }, "precedence"),
            (MailMarks { autoreply_header: true, ..person.clone() }, "autoreply"),
            (
                MailMarks { content_type: Some("multipart/report; report-type=delivery-status"), ..person.clone() },
                "bounce",
            ),
            (MailMarks { from: "MAILER-DAEMON@mx.example.com", ..person.clone() }, "bounce"),
            (MailMarks { null_return_path: true, ..person.clone() }, "bounce"),
            (MailMarks { from: "KEFU@example.com", ..person.clone() }, "loop"),
        ] {
            assert_eq!(automatic(&m, &own), Some(why), "{m:?}");
        }
    }

    #[test]
    fn replies_find_their_ticket() {
        assert_eq!(thread("Re: hi", &["<abc@x>", "<kefu-t42-m7@kefu.example.com>"]), Thread::Ticket(TicketId(42)));
        assert_eq!(
            thread("回复：关于您的工单 GD20261122000001（宽带）", &["<abc@x>"]),
            Thread::Number("GD20261122000001".into())
        );
        assert_eq!(thread("GD202611220000012", &[]), Thread::None, "too many digits");
        assert_eq!(thread("XGD20261122000001", &[]), Thread::None);
        assert_eq!(thread("宽带断网", &["<kefu-tx-m1@a>", "<kefu-m5@a>"]), Thread::None);
        assert_eq!(thread("", &[]), Thread::None);
    }

    #[test]
    fn the_quoted_mail_is_left_out() {
        let reply = "好的，明天在家。\n\n在 2026年11月22日 10:00，客服中心 <kefu@example.com> 写道：\n> 明天上门";
        assert_eq!(without_quote(reply), "好的，明天在家。");
        assert_eq!(without_quote("Thanks\n\nOn Mon, Nov 23 kefu wrote:\n> hi"), "Thanks");
        assert_eq!(without_quote("> only a quote"), "> only a quote");
        assert_eq!(without_quote("no quote\nat all"), "no quote\nat all");
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
