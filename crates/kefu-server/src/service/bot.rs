//! The smart first line: a conversation answered from the public
//! knowledge base, handed over to a person — one ticket with the whole
//! transcript — when the customer asks, complains, or the bot cannot
//! answer. The decision is the domain's (`kefu_domain::bot::decide`); the
//! matcher is built per node from the articles in force and rebuilt when
//! the knowledge base or the lexicon changes.

use super::*;
use crate::error::ApiError;
use kefu_domain::bot::{
    ArticleRef, Candidate, Contact, Decision, HandoffReason, Outcome, Session, Speaker, Turn, answered_question,
    decide, parse_message, phone_in, rejected_answer,
};
use kefu_domain::flow::Actor;
use kefu_domain::intake::{CustomerInput, IntakeRequest};
use kefu_domain::kb::{Article, ArticleStatus};
use kefu_domain::{Channel, FieldError, Role};
use kefu_search::answer::{Entry, Matcher};
use kefu_store::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

const NOT_FOUND: ApiError = ApiError::NotFound { what: "bot session", what_zh: "智能客服会话" };
/// The account that registers a handoff's ticket (its first owner): made
/// on first use, inactive — it cannot log in and is never dispatched to.
const BOT_USERNAME: &str = "kefu-bot";
const BOT_DISPLAY: &str = "智能客服";
/// The idempotency scope of a handoff: one ticket per session, whatever retries.
const HANDOFF_SCOPE: &str = "bot handoff";
/// A bot reply is cut to this in the ticket's transcript (the articles are named).
const TRANSCRIPT_REPLY_CHARS: usize = 120;

/// This node's matcher and what it was built from.
pub struct BotMatcher {
    key: String,
    pub(super) matcher: Matcher,
    titles: HashMap<String, Article>,
}

/// The body of `POST /api/v1/bot/sessions` (all optional).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// web (default), app, wechat, sms …: the channel a handoff registers.
    pub channel: Option<String>,
    pub customer: Option<StartCustomer>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartCustomer {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub level: Option<String>,
}

/// The body of `POST /api/v1/bot/sessions/{id}/messages`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    pub text: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketRef {
    pub id: i64,
    pub number: String,
}

/// The bot's answer to one message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BotReply {
    pub reply: String,
    pub articles: Vec<ArticleRef>,
    /// A person has taken over (or is about to: see `ticket`).
    pub handoff: bool,
    /// Why: asked, complaint, unsure, no_match, too_long.
    pub handoff_reason: Option<String>,
    /// The ticket the handoff registered; null while the bot still needs a
    /// phone number to register it.
    pub ticket: Option<TicketRef>,
}

/// A conversation as its holder may read it again.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Transcript {
    pub id: String,
    pub channel: String,
    pub handoff: bool,
    pub ticket: Option<TicketRef>,
    #[schema(value_type = Vec<Object>)]
    pub turns: Vec<Turn>,
}

fn new_session_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl<S: Store> Kefu<S> {
    /// The bot's own account, made when first needed (by whichever node
    /// gets there first).
    async fn bot_actor(&self) -> Result<Actor, ApiError> {
        let id = self.service_account(&self.core.bot_user, BOT_USERNAME, BOT_DISPLAY).await?;
        Ok(Actor::new(id, BOT_USERNAME, Role::Agent))
    }

    pub async fn start_bot_session(&self, req: StartRequest) -> Result<Session, ApiError> {
        self.start_bot_session_as(&new_session_id()?, req).await
    }

    /// A session under an id the caller chose (a WeChat user's conversation
    /// of the day); two nodes starting it at once keep the first.
    pub(crate) async fn start_bot_session_as(&self, id: &str, req: StartRequest) -> Result<Session, ApiError> {
        let channel = Channel::parse(req.channel.as_deref().unwrap_or("web"), "channel")?;
        let c = req.customer.unwrap_or_default();
        let name = kefu_domain::validate::optional_text(c.name.as_deref(), "customer.name", 50)?;
        let phone = c
            .phone
            .as_deref()
            .map(|p| kefu_domain::validate::Phone::parse(p, "customer.phone").map(|p| p.as_str().to_string()))
            .transpose()?;
        let level = kefu_domain::validate::optional_text(c.level.as_deref(), "customer.level", 20)?;
        let session = Session::new(id.to_string(), channel, Contact { name, phone, level }, self.now());
        match self.store.create_bot_session(session.clone()).await {
            Err(kefu_store::StoreError::Conflict { .. }) => self.bot_session(id).await,
            other => other.map(|()| session).map_err(Into::into),
        }
    }

    pub async fn bot_transcript(&self, id: &str) -> Result<Transcript, ApiError> {
        let s = self.bot_session(id).await?;
        Ok(Transcript {
            id: s.id,
            channel: s.channel.as_str().into(),
            handoff: s.handoff.is_some(),
            ticket: s.ticket.map(|(id, number)| TicketRef { id, number }),
            turns: s.turns,
        })
    }

    async fn bot_session(&self, id: &str) -> Result<Session, ApiError> {
        if id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(NOT_FOUND);
        }
        self.store.bot_session(id.to_string()).await?.ok_or(NOT_FOUND)
    }

    /// Answers one message. Two messages of one session at once: the one
    /// that saves second is answered again over the first (at most a few
    /// times); a handoff registers its ticket once, whatever the retries.
    pub async fn bot_message(&self, id: &str, req: &MessageRequest) -> Result<BotReply, ApiError> {
        let policy = &self.core.policy.bot;
        let text = parse_message(policy, req.text.as_deref())?;
        for _ in 0..5 {
            let mut session = self.bot_session(id).await?;
            if session.idle(policy, self.now()) && session.handoff.is_none() {
                return Err(FieldError::new(
                    "id",
                    "this conversation ended after a long pause; start a new one",
                    "会话已因长时间未使用而结束，请重新开始",
                )
                .into());
            }
            // A person has it once max_turns is reached; after that the
            // conversation still takes words for the agent, up to a bound.
            if session.turns.len() >= 4 * policy.max_turns as usize {
                return Err(FieldError::new(
                    "text",
                    "this conversation is full; start a new one",
                    "本次会话消息已达上限，请重新开始会话",
                )
                .into());
            }
            let read = session.turns.len() as u32;
            let (reply, misses) = self.answer(&mut session, &text).await?;
            if self.store.save_bot_session(session, read).await? {
                for m in misses {
                    if let Err(e) = self.store.add_miss(m).await {
                        tracing::warn!(error = %e, "a bot miss was not queued for the editors");
                    }
                }
                return Ok(reply);
            }
        }
        Err(ApiError::Conflict { constraint: "bot_sessions_turns".into() })
    }

    /// Decides and applies one message to the session read; returns the
    /// reply and the misses to queue once the session is saved.
    async fn answer(&self, session: &mut Session, text: &str) -> Result<(BotReply, Vec<NewMiss>), ApiError> {
        let policy = &self.core.policy.bot;
        let now = self.now();
        session.turns.push(Turn { by: Speaker::Customer, text: text.into(), at: now, articles: vec![], outcome: None });
        session.updated_at = now;
        if session.handoff.is_some() {
            return self.after_handoff(session, text).await.map(|r| (r, Vec::new()));
        }
        let m = self.bot_matcher().await?;
        let best = m.matcher.best(text, policy.offered.max(1) as usize + 1);
        let candidates: Vec<Candidate> =
            best.iter().map(|a| Candidate { code: a.key.clone(), confidence: a.confidence }).collect();
        let refs = |codes: &[String]| -> Vec<ArticleRef> {
            codes
                .iter()
                .filter_map(|c| m.titles.get(c))
                .map(|a| ArticleRef { code: a.code.clone(), title: a.title.clone() })
                .collect()
        };
        let miss = |kind: &str, code: Option<&String>| NewMiss {
            kind: kind.into(),
            text: text.into(),
            code: code.cloned(),
            keywords: keywords(&m.matcher, text),
            session_id: Some(session.id.clone()),
            at: now,
        };
        // "That did not help" after an answer: the editors hear of the
        // article and the question it failed, instead of this message.
        let rejected: Option<NewMiss> = rejected_answer(policy, session, text).map(|code| {
            let asked = answered_question(session).unwrap_or(text).to_string();
            NewMiss { keywords: keywords(&m.matcher, &asked), text: asked, ..miss("not_helpful", Some(&code)) }
        });
        let decision = decide(policy, session, text, &candidates);
        let (reply, articles, outcome, misses) = match &decision {
            Decision::Answer { code, confidence } => {
                session.unsure_in_a_row = 0;
                let a = &m.titles[code];
                let body = a.answers.web.clone().unwrap_or_else(|| a.body.clone());
                let reply = format!(
                    "关于“{}”：\n{}\n\n这个回答解决您的问题了吗？如需人工服务，请回复“转人工”。",
                    a.title,
                    body.trim()
                );
                (
                    reply,
                    refs(std::slice::from_ref(code)),
                    Outcome::Answered { code: code.clone(), confidence: *confidence },
                    vec![],
                )
            }
            Decision::Unsure { offered, confidence } => {
                session.unsure_in_a_row += 1;
                let shown = refs(offered);
                let list: Vec<String> =
                    shown.iter().enumerate().map(|(i, a)| format!("{}. {}", i + 1, a.title)).collect();
                let reply = match list.is_empty() {
                    true => "抱歉没能解决您的问题。请换个说法再描述一下，或回复“转人工”。".to_string(),
                    false => format!(
                        "抱歉，我不太确定您想问的是哪一个问题。您是想了解：\n{}\n\n请点选其中一项，或换个说法再描述一下。",
                        list.join("\n")
                    ),
                };
                (reply, shown, Outcome::Unsure { confidence: *confidence }, vec![miss("unsure", offered.first())])
            }
            Decision::SmallTalk => {
                let reply = "您好，我是智能客服。请直接描述您遇到的问题，例如“宽带上不了网”“怎么查话费”。如需人工服务，请回复“转人工”。";
                (reply.to_string(), vec![], Outcome::SmallTalk, vec![])
            }
            Decision::Handoff { reason, offered } => {
                session.handoff = Some(*reason);
                let queued = match (rejected, reason) {
                    (Some(r), _) => vec![r],
                    (None, HandoffReason::NoMatch) => vec![miss("no_match", None)],
                    (None, HandoffReason::Unsure) => vec![miss("unsure", offered.first())],
                    _ => vec![],
                };
                let outcome = Outcome::Handoff { reason: *reason };
                return self.hand_over(session, refs(offered), outcome).await.map(|r| (r, queued));
            }
        };
        session.turns.push(Turn {
            by: Speaker::Bot,
            text: reply.clone(),
            at: now,
            articles: articles.clone(),
            outcome: Some(outcome),
        });
        let misses = match rejected {
            Some(r) => vec![r],
            None => misses,
        };
        Ok((BotReply { reply, articles, handoff: false, handoff_reason: None, ticket: None }, misses))
    }

    /// A person takes over: registers the ticket when the customer's phone
    /// is known, else asks for it.
    async fn hand_over(
        &self,
        session: &mut Session,
        articles: Vec<ArticleRef>,
        outcome: Outcome,
    ) -> Result<BotReply, ApiError> {
        let now = self.now();
        let reason = session.handoff.unwrap_or(HandoffReason::Asked);
        if session.contact.phone.is_none() {
            session.contact.phone =
                session.turns.iter().filter(|t| t.by == Speaker::Customer).find_map(|t| phone_in(&t.text));
        }
        let lead = match reason {
            HandoffReason::Asked => "好的，马上为您转接人工客服。",
            HandoffReason::Complaint => "非常抱歉给您带来不便，您的问题将由人工客服专人处理。",
            HandoffReason::NoMatch => "这个问题我暂时回答不了，已为您转接人工客服。",
            HandoffReason::Unsure => "抱歉没能准确理解您的问题，已为您转接人工客服。",
            HandoffReason::TooLong => "为了更好地帮您解决问题，已为您转接人工客服。",
        };
        let (reply, ticket) = if session.contact.phone.is_some() {
            let t = self.register_handoff(session).await?;
            let reply = format!("{lead}已为您登记工单 {}，客服人员会尽快与您联系，请保持电话畅通。", t.number);
            (reply, Some(t))
        } else {
            (format!("{lead}请留下您的手机号码，方便我们登记并与您联系。"), None)
        };
        session.turns.push(Turn {
            by: Speaker::Bot,
            text: reply.clone(),
            at: now,
            articles: articles.clone(),
            outcome: Some(outcome),
        });
        Ok(BotReply { reply, articles, handoff: true, handoff_reason: Some(reason.as_str().into()), ticket })
    }

    /// A message after the handoff: the phone number still missing, or a
    /// word for the agent who has the ticket.
    async fn after_handoff(&self, session: &mut Session, text: &str) -> Result<BotReply, ApiError> {
        let reason = session.handoff.map(|r| r.as_str().to_string());
        if session.ticket.is_none() {
            let Some(phone) = phone_in(text) else {
                let reply = "请留下您的11位手机号码，方便我们登记并与您联系。".to_string();
                session.turns.push(Turn {
                    by: Speaker::Bot,
                    text: reply.clone(),
                    at: self.now(),
                    articles: vec![],
                    outcome: None,
                });
                return Ok(BotReply { reply, articles: vec![], handoff: true, handoff_reason: reason, ticket: None });
            };
            session.contact.phone = Some(phone);
            let articles = session.articles();
            let outcome = Outcome::Handoff { reason: session.handoff.unwrap_or(HandoffReason::Asked) };
            return self.hand_over(session, articles, outcome).await;
        }
        let (id, number) = session.ticket.clone().unwrap_or_default();
        let reply = format!("您的留言已记录在工单 {number} 中，人工客服会尽快与您联系。");
        session.turns.push(Turn {
            by: Speaker::Bot,
            text: reply.clone(),
            at: self.now(),
            articles: vec![],
            outcome: Some(Outcome::Forwarded),
        });
        Ok(BotReply {
            reply,
            articles: vec![],
            handoff: true,
            handoff_reason: reason,
            ticket: Some(TicketRef { id, number }),
        })
    }

    /// Registers the session's ticket: channel of the session, type and
    /// priority suggested from what the customer wrote, the transcript as
    /// its description, the articles named. Idempotent by session: a retry
    /// or a second node gets the same ticket.
    async fn register_handoff(&self, session: &mut Session) -> Result<TicketRef, ApiError> {
        let asked: Vec<&str> = session
            .turns
            .iter()
            .filter(|t| t.by == Speaker::Customer)
            .map(|t| t.text.as_str())
            .filter(|t| phone_in(t).is_none_or(|p| t.trim() != p))
            .collect();
        let policy = &self.core.policy.bot;
        let question = asked
            .iter()
            .find(|t| !policy.handoff_words.iter().any(|w| t.contains(w.as_str())) && t.chars().count() > 3)
            .or(asked.first())
            .copied()
            .unwrap_or("在线咨询");
        let title: String = format!("【智能客服转人工】{}", question.chars().take(60).collect::<String>());
        let description = transcript(session);
        let actor = self.bot_actor().await?;
        let all_text = asked.join("\n");
        let suggestion = self
            .suggest(
                &actor,
                &suggest::SuggestRequest {
                    title: Some(question.chars().take(200).collect()),
                    description: Some(all_text.chars().take(4000).collect()),
                    channel: Some(session.channel.as_str().into()),
                    customer: Some(suggest::SuggestCustomer { level: session.contact.level.clone() }),
                },
            )
            .await?;
        let ticket_type = suggestion
            .ticket_type
            .value
            .clone()
            .or_else(|| suggestion.types.first().and_then(|g| g.value.clone()))
            .unwrap_or_else(|| "consultation".into());
        let req = IntakeRequest {
            channel: Some(session.channel.as_str().into()),
            ticket_type: Some(ticket_type),
            title: Some(title),
            description: Some(description),
            customer: Some(CustomerInput {
                name: Some(session.contact.name.clone().unwrap_or_else(|| "在线客户".into())),
                phone: session.contact.phone.clone(),
                level: session.contact.level.clone(),
                ..Default::default()
            }),
            priority: suggestion.priority.value.clone(),
            submitted_by: Some("智能客服".into()),
            ..Default::default()
        };
        let idem = Idem { key: session.id.clone(), scope: HANDOFF_SCOPE.into(), fingerprint: session.id.clone() };
        let written = self.create_ticket(&actor, &req, Some(idem)).await?;
        let body = written.body();
        let t = TicketRef {
            id: body.get("id").and_then(|v| v.as_i64()).unwrap_or_default(),
            number: body.get("number").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
        };
        session.ticket = Some((t.id, t.number.clone()));
        Ok(t)
    }

    /// The matcher for the articles customers may read today, rebuilt when
    /// the knowledge base, the lexicon or the date changed.
    pub(super) async fn bot_matcher(&self) -> Result<Arc<BotMatcher>, ApiError> {
        let index = self.kb_fresh().await?;
        let today = kefu_domain::time::shanghai_date(self.now());
        // A lexicon change opens a new index: its address tells.
        let key = format!("{:p}:{}:{today}", Arc::as_ptr(&index), index.mark().ok().flatten().unwrap_or_default());
        if let Some(m) = self.core.bot.read().unwrap_or_else(|p| p.into_inner()).as_ref()
            && m.key == key
        {
            return Ok(m.clone());
        }
        let mut articles = Vec::new();
        for page in 1.. {
            let filter =
                ArticleFilter { status: Some(ArticleStatus::Published), page, per_page: 500, ..Default::default() };
            let got = self.store.articles(filter).await?;
            let n = got.items.len();
            articles.extend(got.items.into_iter().filter(|a| a.answers_customers(today)));
            if n < 500 {
                break;
            }
        }
        let lexicon = index.lexicon().clone();
        let built = tokio::task::spawn_blocking(move || {
            let entries: Vec<Entry> = articles
                .iter()
                .map(|a| Entry {
                    key: a.code.clone(),
                    questions: std::iter::once(a.title.clone()).chain(a.similar.iter().cloned()).collect(),
                    body: a.body.clone(),
                })
                .collect();
            let matcher = Matcher::new(&lexicon, &entries);
            BotMatcher { key, matcher, titles: articles.into_iter().map(|a| (a.code.clone(), a)).collect() }
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        let built = Arc::new(built);
        *self.core.bot.write().unwrap_or_else(|p| p.into_inner()) = Some(built.clone());
        Ok(built)
    }

    /// Deletes conversations past the policy's keep_days (retention job).
    pub async fn purge_bot_sessions(&self) -> Result<u64, ApiError> {
        let days = i64::from(self.core.policy.bot.keep_days);
        Ok(self.store.purge_bot_sessions(self.now() - chrono::Duration::days(days)).await?)
    }
}

/// The words a miss is clustered by: the matcher's, rarest first, without
/// numbers (a phone number is not a topic, and is personal data).
pub(super) fn keywords(m: &Matcher, text: &str) -> Vec<String> {
    m.keywords(text).into_iter().filter(|w| !w.chars().any(|c| c.is_ascii_digit())).take(8).collect()
}

/// The conversation as a ticket description: why, which articles, then
/// every message with its time (Asia/Shanghai).
fn transcript(s: &Session) -> String {
    let reason = s.handoff.map_or("客户要求转人工", |r| r.label_zh());
    let mut out = format!("智能客服转人工（{reason}）\n");
    let articles = s.articles();
    if !articles.is_empty() {
        let named: Vec<String> = articles.iter().map(|a| format!("{} {}", a.code, a.title)).collect();
        out.push_str(&format!("已推荐的知识库文章：{}\n", named.join("；")));
    }
    out.push_str("\n—— 对话记录（北京时间）——\n");
    let lines: Vec<String> = s
        .turns
        .iter()
        .map(|t| match t.by {
            Speaker::Customer => format!("{} 客户：{}", kefu_domain::time::shanghai_short(t.at), t.text),
            Speaker::Bot => {
                let mut text: String = t.text.chars().take(TRANSCRIPT_REPLY_CHARS).collect();
                if t.text.chars().count() > TRANSCRIPT_REPLY_CHARS {
                    text.push('…');
                }
                format!("{} 智能客服：{}", kefu_domain::time::shanghai_short(t.at), text.replace('\n', " "))
            }
        })
        .collect();
    let limit = kefu_domain::intake::limits::DESCRIPTION - out.chars().count() - 20;
    let whole = lines.join("\n");
    if whole.chars().count() <= limit {
        out.push_str(&whole);
    } else {
        // The beginning (the question) and the end (the latest) matter most.
        let half = limit / 2;
        let head: String = whole.chars().take(half).collect();
        let tail: String = whole.chars().rev().take(half).collect::<Vec<_>>().into_iter().rev().collect();
        out.push_str(&format!("{head}\n……（中间省略）……\n{tail}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transcript_names_the_reason_the_articles_and_every_message() {
        let now = "2026-11-22T02:00:00Z".parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let mut s = Session::new("x".into(), Channel::Web, Contact::default(), now);
        s.turns.push(Turn {
            by: Speaker::Customer,
            text: "宽带上不了网".into(),
            at: now,
            articles: vec![],
            outcome: None,
        });
        let a = ArticleRef { code: "KB-001".into(), title: "宽带无法上网怎么办".into() };
        s.turns
            .push(Turn { by: Speaker::Bot, text: "关于…".repeat(100), at: now, articles: vec![a], outcome: None });
        s.turns
            .push(Turn { by: Speaker::Customer, text: "转人工".into(), at: now, articles: vec![], outcome: None });
        s.handoff = Some(HandoffReason::Asked);
        let t = transcript(&s);
        assert!(t.contains("客户要求转人工") && t.contains("KB-001 宽带无法上网怎么办"), "{t}");
        assert!(t.contains("客户：宽带上不了网") && t.contains("客户：转人工"), "{t}");
        assert!(t.chars().count() < 1000, "bot replies are cut: {t}");
        // However long, it fits a description.
        for _ in 0..40 {
            s.turns.push(Turn {
                by: Speaker::Customer,
                text: "网".repeat(500),
                at: now,
                articles: vec![],
                outcome: None,
            });
        }
        assert!(transcript(&s).chars().count() <= kefu_domain::intake::limits::DESCRIPTION);
    }

    #[test]
    fn session_ids_are_random_hex() {
        let (a, b) = (new_session_id().unwrap(), new_session_id().unwrap());
        assert_ne!(a, b);
        assert!(a.len() == 32 && a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
