//! The smart first line: a conversation with a customer, and the
//! rule that decides each turn — answer from the knowledge base, ask once
//! to rephrase, or hand over to a person. The matcher's confidence comes
//! from outside (the search crate); the words, thresholds and limits from
//! the policy's `[bot]` table.

use crate::{Channel, FieldError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BotPolicy {
    /// The matcher's confidence at which the bot answers with an article.
    pub answer_confidence: f32,
    /// …and by how much the best article must lead the next one (two
    /// articles equally likely: the customer chooses).
    pub answer_margin: f32,
    /// Below this the question matches nothing: a person takes over.
    pub no_match_below: f32,
    /// Unsure answers in a row after which a person takes over.
    pub handoff_after_unsure: u32,
    /// Words by which a customer asks for a person.
    pub handoff_words: Vec<String>,
    /// Words that make a message a complaint: a person handles it.
    pub complaint_words: Vec<String>,
    /// Greetings and thanks answered as such (not searched).
    pub small_talk: Vec<String>,
    /// Words by which a customer says the answer just given did not help
    /// (没用, 不对 …): the article is not offered again and the editors hear of it.
    pub negative_words: Vec<String>,
    /// Characters of one message, at most.
    pub max_message_chars: usize,
    /// Customer messages in one session; the next one hands over.
    pub max_turns: u32,
    /// A session unused this long is over (a new one starts).
    pub idle_minutes: u32,
    /// Messages per minute from one address (sessions and messages).
    pub messages_per_minute: u32,
    /// Articles offered with an unsure answer.
    pub offered: u32,
    /// Sessions (their transcripts hold what customers typed) are deleted
    /// this many days after their last message.
    pub keep_days: u32,
}

impl Default for BotPolicy {
    fn default() -> Self {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        BotPolicy {
            answer_confidence: 0.4,
            answer_margin: 0.05,
            no_match_below: 0.25,
            handoff_after_unsure: 2,
            handoff_words: words(&["转人工", "人工客服", "人工服务", "找人工", "真人客服", "人工坐席", "转接人工"]),
            complaint_words: words(&["投诉", "工信部", "12300", "曝光", "举报", "消协", "315", "媒体", "起诉", "律师"]),
            small_talk: words(&["你好", "您好", "在吗", "在不在", "谢谢", "好的", "嗯", "哦", "hello", "hi", "再见"]),
            negative_words: words(&[
                "没用",
                "没有用",
                "不对",
                "不是这个",
                "没解决",
                "没有解决",
                "还是不行",
                "不管用",
                "答非所问",
                "没帮助",
            ]),
            max_message_chars: 500,
            max_turns: 20,
            idle_minutes: 30,
            messages_per_minute: 30,
            offered: 3,
            keep_days: 90,
        }
    }
}

impl BotPolicy {
    pub fn check(&self) -> Result<(), String> {
        for (name, v) in [
            ("answer_confidence", self.answer_confidence),
            ("answer_margin", self.answer_margin),
            ("no_match_below", self.no_match_below),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("bot.{name} must be between 0 and 1"));
            }
        }
        if self.no_match_below > self.answer_confidence {
            return Err("bot.no_match_below must not exceed bot.answer_confidence".into());
        }
        if self.max_message_chars == 0 || self.max_turns == 0 || self.handoff_after_unsure == 0 {
            return Err("bot.max_message_chars, max_turns and handoff_after_unsure must be at least 1".into());
        }
        Ok(())
    }
}

/// Why a person takes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// The customer asked for a person.
    Asked,
    /// The message is a complaint.
    Complaint,
    /// The bot was unsure too many times in a row.
    Unsure,
    /// No article is about the question.
    NoMatch,
    /// The conversation reached the policy's length.
    TooLong,
}

impl HandoffReason {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffReason::Asked => "asked",
            HandoffReason::Complaint => "complaint",
            HandoffReason::Unsure => "unsure",
            HandoffReason::NoMatch => "no_match",
            HandoffReason::TooLong => "too_long",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            HandoffReason::Asked => "客户要求转人工",
            HandoffReason::Complaint => "客户投诉",
            HandoffReason::Unsure => "智能客服多次无法确定答案",
            HandoffReason::NoMatch => "知识库中没有相关答案",
            HandoffReason::TooLong => "对话轮次已达上限",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            HandoffReason::Asked => "the customer asked for a person",
            HandoffReason::Complaint => "a complaint",
            HandoffReason::Unsure => "the bot was unsure repeatedly",
            HandoffReason::NoMatch => "no article answers the question",
            HandoffReason::TooLong => "the conversation reached its length limit",
        }
    }
}

/// What the bot made of one customer message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Answered with the article.
    Answered { code: String, confidence: f32 },
    /// Unsure: offered articles and asked to rephrase.
    Unsure { confidence: f32 },
    /// A greeting or thanks.
    SmallTalk,
    /// Handed over to a person.
    Handoff { reason: HandoffReason },
    /// After the handoff: added to the ticket for the agent.
    Forwarded,
}

/// An article the bot named to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArticleRef {
    pub code: String,
    pub title: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Customer,
    Bot,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub by: Speaker,
    pub text: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub articles: Vec<ArticleRef>,
    /// On the bot's turns: what it decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// Who the customer said they are (optional: given when the session
/// starts, or a phone number typed in the chat before a handoff).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub level: Option<String>,
}

/// A conversation with the first line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Random and unguessable: whoever holds it continues the conversation.
    pub id: String,
    pub channel: Channel,
    pub contact: Contact,
    pub turns: Vec<Turn>,
    /// Unsure answers since the last sure one.
    pub unsure_in_a_row: u32,
    /// Set once a person takes over.
    pub handoff: Option<HandoffReason>,
    /// The ticket the handoff registered (its id and number).
    pub ticket: Option<(i64, String)>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Session {
    pub fn new(id: String, channel: Channel, contact: Contact, now: DateTime<Utc>) -> Session {
        Session {
            id,
            channel,
            contact,
            turns: Vec::new(),
            unsure_in_a_row: 0,
            handoff: None,
            ticket: None,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn customer_turns(&self) -> u32 {
        self.turns.iter().filter(|t| t.by == Speaker::Customer).count() as u32
    }

    /// Articles the bot named, first mention first, once each.
    pub fn articles(&self) -> Vec<ArticleRef> {
        let mut out: Vec<ArticleRef> = Vec::new();
        for a in self.turns.iter().flat_map(|t| &t.articles) {
            if !out.iter().any(|o| o.code == a.code) {
                out.push(a.clone());
            }
        }
        out
    }

    /// Whether the session is over for want of use.
    pub fn idle(&self, policy: &BotPolicy, now: DateTime<Utc>) -> bool {
        now - self.updated_at > chrono::Duration::minutes(i64::from(policy.idle_minutes))
    }
}

/// A candidate article and the matcher's confidence in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub code: String,
    pub confidence: f32,
}

/// What to do with a customer message.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Answer {
        code: String,
        confidence: f32,
    },
    /// Offer these articles and ask to rephrase.
    Unsure {
        offered: Vec<String>,
        confidence: f32,
    },
    SmallTalk,
    Handoff {
        reason: HandoffReason,
        offered: Vec<String>,
    },
}

/// The customer's message, trimmed: an error names the field when it is
/// empty or longer than the policy allows.
pub fn parse_message(policy: &BotPolicy, text: Option<&str>) -> Result<String, FieldError> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(FieldError::required("text"));
    }
    if text.chars().count() > policy.max_message_chars {
        return Err(FieldError::new(
            "text",
            format!("a message has at most {} characters", policy.max_message_chars),
            format!("每条消息最多 {} 个字", policy.max_message_chars),
        ));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::new("text", "control characters are not allowed", "消息中不能包含控制字符"));
    }
    Ok(text.to_string())
}

/// The word of `words` that `text` contains, if any (case-insensitive).
fn contains_any<'a>(text: &str, words: &'a [String]) -> Option<&'a str> {
    let lower = text.to_lowercase();
    words.iter().map(String::as_str).find(|w| !w.is_empty() && lower.contains(&w.to_lowercase()))
}

/// Whether the message is only a greeting or thanks (with punctuation).
fn is_small_talk(policy: &BotPolicy, text: &str) -> bool {
    let bare: String = text.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
    !bare.is_empty() && policy.small_talk.iter().any(|w| w.to_lowercase() == bare)
}

/// Decides one customer message of a session that has not been handed
/// over. `candidates` are the matcher's best articles, most confident first.
pub fn decide(policy: &BotPolicy, session: &Session, text: &str, candidates: &[Candidate]) -> Decision {
    let offered = |n: usize| candidates.iter().take(n).map(|c| c.code.clone()).collect::<Vec<_>>();
    let handoff = |reason| Decision::Handoff { reason, offered: offered(1) };
    // Asked for a person: no article (what matched is the asking itself).
    if contains_any(text, &policy.handoff_words).is_some() {
        return Decision::Handoff { reason: HandoffReason::Asked, offered: Vec::new() };
    }
    if contains_any(text, &policy.complaint_words).is_some() {
        return handoff(HandoffReason::Complaint);
    }
    // This message is one more than the session holds.
    if session.customer_turns() >= policy.max_turns {
        return handoff(HandoffReason::TooLong);
    }
    // "That did not help": the same article is not given again, and the
    // customer is asked once more (or handed over) rather than told nothing matched.
    if let Some(code) = rejected_answer(policy, session, text) {
        let others: Vec<Candidate> = candidates.iter().filter(|c| c.code != code).cloned().collect();
        return match decide_among(policy, session, &others) {
            Decision::Handoff { reason: HandoffReason::NoMatch, .. } => unsure(policy, session, &others, 0.0),
            d => d,
        };
    }
    if is_small_talk(policy, text) {
        return Decision::SmallTalk;
    }
    decide_among(policy, session, candidates)
}

/// The article of the bot's last answer when `text` says it did not help.
pub fn rejected_answer(policy: &BotPolicy, session: &Session, text: &str) -> Option<String> {
    contains_any(text, &policy.negative_words)?;
    let last = session.turns.iter().rev().find(|t| t.by == Speaker::Bot)?;
    match &last.outcome {
        Some(Outcome::Answered { code, .. }) => Some(code.clone()),
        _ => None,
    }
}

/// The question the bot's last answer was given to (the customer's
/// message before that answer).
pub fn answered_question(session: &Session) -> Option<&str> {
    let at = session.turns.iter().rposition(|t| t.by == Speaker::Bot)?;
    session.turns[..at].iter().rev().find(|t| t.by == Speaker::Customer).map(|t| t.text.as_str())
}

/// Answer, ask again or hand over, by the matcher's candidates alone.
fn decide_among(policy: &BotPolicy, session: &Session, candidates: &[Candidate]) -> Decision {
    let Some(best) = candidates.first().filter(|c| c.confidence >= policy.no_match_below) else {
        return Decision::Handoff { reason: HandoffReason::NoMatch, offered: Vec::new() };
    };
    let lead = candidates.get(1).map_or(best.confidence, |next| best.confidence - next.confidence);
    if best.confidence >= policy.answer_confidence && lead >= policy.answer_margin {
        return Decision::Answer { code: best.code.clone(), confidence: best.confidence };
    }
    unsure(policy, session, candidates, best.confidence)
}

/// Unsure: offer the likely articles and ask again — or, the policy's
/// times in a row, hand over.
fn unsure(policy: &BotPolicy, session: &Session, candidates: &[Candidate], confidence: f32) -> Decision {
    if session.unsure_in_a_row + 1 >= policy.handoff_after_unsure {
        let offered = candidates.iter().take(1).map(|c| c.code.clone()).collect();
        return Decision::Handoff { reason: HandoffReason::Unsure, offered };
    }
    let shown: Vec<String> = candidates
        .iter()
        .filter(|c| c.confidence >= policy.no_match_below)
        .take(policy.offered.max(1) as usize)
        .map(|c| c.code.clone())
        .collect();
    Decision::Unsure { offered: shown, confidence }
}

/// A phone number typed in a message (11-digit mobile, full-width digits
/// allowed), for a handoff when the session started without one.
pub fn phone_in(text: &str) -> Option<String> {
    let digits: String = text
        .chars()
        .map(|c| match c {
            '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + '0' as u32).unwrap_or(c),
            _ => c,
        })
        .collect();
    let chars: Vec<char> = digits.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '-' || chars[i] == ' ') {
                i += 1;
            }
            let run: String = chars[start..i].iter().filter(|c| c.is_ascii_digit()).collect();
            if run.len() == 11 && run.starts_with('1') {
                return Some(run);
            }
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new("s".into(), Channel::Web, Contact::default(), DateTime::UNIX_EPOCH)
    }

    fn c(code: &str, confidence: f32) -> Candidate {
        Candidate { code: code.into(), confidence }
    }

    #[test]
    fn a_sure_match_is_answered() {
        let p = BotPolicy::default();
        let d = decide(&p, &session(), "宽带上不了网", &[c("KB-001", 0.8), c("KB-002", 0.3)]);
        assert_eq!(d, Decision::Answer { code: "KB-001".into(), confidence: 0.8 });
    }

    #[test]
    fn asking_for_a_person_or_complaining_hands_over_whatever_matches() {
        let p = BotPolicy::default();
        for text in ["转人工", "我要人工客服", "帮我转接人工"] {
            let d = decide(&p, &session(), text, &[c("KB-001", 0.9)]);
            assert_eq!(d, Decision::Handoff { reason: HandoffReason::Asked, offered: vec![] }, "{text}");
        }
        let d = decide(&p, &session(), "我要去工信部投诉你们", &[c("KB-042", 0.9)]);
        assert!(matches!(d, Decision::Handoff { reason: HandoffReason::Complaint, .. }), "{d:?}");
    }

    #[test]
    fn unsure_asks_once_then_hands_over() {
        let p = BotPolicy::default();
        let mut s = session();
        let d = decide(&p, &s, "网", &[c("KB-001", 0.3), c("KB-003", 0.28)]);
        assert_eq!(d, Decision::Unsure { offered: vec!["KB-001".into(), "KB-003".into()], confidence: 0.3 });
        s.unsure_in_a_row = 1;
        let d = decide(&p, &s, "网不好", &[c("KB-001", 0.3)]);
        assert!(matches!(d, Decision::Handoff { reason: HandoffReason::Unsure, .. }), "{d:?}");
    }

    #[test]
    fn two_equally_likely_articles_are_offered_not_answered() {
        let p = BotPolicy::default();
        let d = decide(&p, &session(), "宽带", &[c("KB-001", 0.6), c("KB-037", 0.58)]);
        assert!(matches!(d, Decision::Unsure { .. }), "{d:?}");
    }

    #[test]
    fn nothing_matching_hands_over_at_once() {
        let p = BotPolicy::default();
        let d = decide(&p, &session(), "今天天气怎么样", &[c("KB-044", 0.1)]);
        assert_eq!(d, Decision::Handoff { reason: HandoffReason::NoMatch, offered: vec![] });
        let d = decide(&p, &session(), "今天天气怎么样", &[]);
        assert_eq!(d, Decision::Handoff { reason: HandoffReason::NoMatch, offered: vec![] });
    }

    #[test]
    fn greetings_are_greeted() {
        let p = BotPolicy::default();
        assert_eq!(decide(&p, &session(), "你好！", &[]), Decision::SmallTalk);
        assert_eq!(decide(&p, &session(), "Hello", &[]), Decision::SmallTalk);
        // A greeting with a question is a question.
        assert_ne!(decide(&p, &session(), "你好，宽带坏了", &[c("KB-001", 0.9)]), Decision::SmallTalk);
    }

    #[test]
    fn a_long_conversation_ends_with_a_person() {
        let p = BotPolicy { max_turns: 1, ..BotPolicy::default() };
        let mut s = session();
        s.turns.push(Turn {
            by: Speaker::Customer,
            text: "a".into(),
            at: DateTime::UNIX_EPOCH,
            articles: vec![],
            outcome: None,
        });
        let d = decide(&p, &s, "宽带", &[c("KB-001", 0.9)]);
        assert!(matches!(d, Decision::Handoff { reason: HandoffReason::TooLong, .. }), "{d:?}");
    }

    #[test]
    fn an_answer_that_did_not_help_is_not_given_again() {
        let p = BotPolicy::default();
        let mut s = session();
        let at = DateTime::UNIX_EPOCH;
        s.turns.push(Turn { by: Speaker::Customer, text: "宽带坏了".into(), at, articles: vec![], outcome: None });
        let answered = Outcome::Answered { code: "KB-001".into(), confidence: 0.8 };
        s.turns.push(Turn { by: Speaker::Bot, text: "…".into(), at, articles: vec![], outcome: Some(answered) });
        s.turns.push(Turn { by: Speaker::Customer, text: "没用".into(), at, articles: vec![], outcome: None });
        assert_eq!(rejected_answer(&p, &s, "没用，还是上不了网").as_deref(), Some("KB-001"));
        assert_eq!(answered_question(&s), Some("宽带坏了"));
        // Nothing else matches: asked again (not "no match"), without the rejected article.
        let d = decide(&p, &s, "没用", &[c("KB-001", 0.9)]);
        assert_eq!(d, Decision::Unsure { offered: vec![], confidence: 0.0 });
        // Another article is sure: it is the answer.
        let d = decide(&p, &s, "不对，我问的是光猫红灯", &[c("KB-001", 0.6), c("KB-002", 0.7)]);
        assert_eq!(d, Decision::Answer { code: "KB-002".into(), confidence: 0.7 });
        // Said twice in a row: a person.
        s.unsure_in_a_row = 1;
        assert!(matches!(decide(&p, &s, "没用", &[]), Decision::Handoff { reason: HandoffReason::Unsure, .. }));
        // Not after an answer: an ordinary message.
        let fresh = session();
        assert_eq!(rejected_answer(&p, &fresh, "没用"), None);
    }

    #[test]
    fn messages_are_checked() {
        let p = BotPolicy::default();
        assert_eq!(parse_message(&p, Some("  宽带  ")).unwrap(), "宽带");
        assert_eq!(parse_message(&p, Some("  ")).unwrap_err().field, "text");
        assert_eq!(parse_message(&p, None).unwrap_err().field, "text");
        assert!(parse_message(&p, Some(&"网".repeat(501))).is_err());
        assert!(parse_message(&p, Some("a\u{0}b")).is_err());
    }

    #[test]
    fn a_phone_number_is_found_in_what_the_customer_typed() {
        assert_eq!(phone_in("我的号码是138 1234 5678，谢谢").as_deref(), Some("13812345678"));
        assert_eq!(phone_in("号码：１３８１２３４５６７８").as_deref(), Some("13812345678"));
        assert_eq!(phone_in("宽带账号 0755123456789"), None);
        assert_eq!(phone_in("没有号码"), None);
    }
}
