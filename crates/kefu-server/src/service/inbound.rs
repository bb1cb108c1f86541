//! What customers send in: a message from a channel (SMS now;
//! e-mail and WeChat use the same steps) becomes the answer to a waiting
//! survey, a word on the customer's ticket still being handled, or a new
//! request — registered by the `kefu-inbound` account. Each message is
//! written once: its channel id is the idempotency key of the one write it
//! makes, so a gateway's retry (or a node dying after the write) repeats
//! nothing.

use super::suggest::{SuggestCustomer, SuggestRequest};
use super::{Idem, Kefu};
use crate::error::ApiError;
use kefu_domain::action::ActionRequest;
use kefu_domain::flow::Actor;
use kefu_domain::inbound::{Candidate, Route, sender_phone};
use kefu_domain::intake::{CustomerInput, IntakeRequest};
use kefu_domain::ticket::Ticket;
use kefu_domain::validate::Phone;
use kefu_domain::{Channel, DomainError, FieldError, Role, TicketId};
use kefu_store::{Attachment, Mutation, NewComment, Store, TicketFilter, Written};
use serde::Serialize;
use serde_json::{Value, json};

const INBOUND_USERNAME: &str = "kefu-inbound";
const INBOUND_DISPLAY: &str = "客户来信";
/// The idempotency scope of every write an inbound message makes.
const SCOPE: &str = "inbound message";

/// One message as a channel delivered it.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    /// `sms`, `email`, `wechat`.
    pub channel: &'static str,
    /// The channel's id of the message (the gateway's, the mailbox's UID …).
    pub id: String,
    pub phone: Phone,
    /// The sender's name, when the channel tells it.
    pub name: Option<String>,
    pub text: String,
}

/// What became of a message.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Received {
    pub id: String,
    /// `survey`, `reply` or `new`.
    pub route: String,
    /// The ticket's number.
    pub ticket: String,
    /// A retry of a message already taken.
    pub repeated: bool,
}

/// The actor name of a customer's survey answer by SMS: the loop counts it
/// as the customer's own answer (`messages::via`).
pub const CUSTOMER_SMS: &str = "customer:sms";
/// … and by WeChat.
pub const CUSTOMER_WECHAT: &str = "customer:wechat";

impl<S: Store> Kefu<S> {
    pub(super) async fn inbound_actor(&self) -> Result<Actor, ApiError> {
        let id = self.service_account(&self.core.inbound_user, INBOUND_USERNAME, INBOUND_DISPLAY).await?;
        Ok(Actor::new(id, INBOUND_USERNAME, Role::Agent))
    }

    /// An SMS from a customer's phone (the gateway's mobile-originated callback).
    pub async fn receive_sms(&self, id: &str, from: &str, text: &str) -> Result<Received, ApiError> {
        let phone = sender_phone(from).ok_or_else(|| {
            FieldError::new("from", "the sender is not a mainland phone number", "发送方不是有效的手机号码")
        })?;
        if id.trim().is_empty() || id.len() > 200 {
            return Err(FieldError::new(
                "id",
                "the message id is required (1–200 characters)",
                "消息编号为必填项（1–200 个字符）",
            )
            .into());
        }
        let text = self.core.policy.inbound.text(text);
        let message = InboundMessage { channel: "sms", id: id.trim().to_string(), phone, name: None, text };
        self.receive(message, Vec::new()).await
    }

    /// Routes one message and makes its one write.
    pub(crate) async fn receive(
        &self,
        m: InboundMessage,
        files: Vec<crate::service::attachments::Incoming>,
    ) -> Result<Received, ApiError> {
        let actor = self.inbound_actor().await?;
        let idem = message_idem(&format!("{}:{}", m.channel, m.id), &m.text);
        let (tickets, route) = self.route_message(&m.phone, &m.text).await?;
        let written = match route {
            Route::Survey { ticket, score } => {
                let t = tickets.iter().find(|t| t.id == ticket).expect("routed to one of them");
                self.survey_answer(&actor, t, score, idem, (CUSTOMER_SMS, "sms")).await?
            }
            Route::Reply(ticket) => {
                let t = tickets.iter().find(|t| t.id == ticket).expect("routed to one of them");
                self.words_on_ticket(&actor, t, (m.channel, None), m.text.clone(), files, idem).await?
            }
            Route::New => self.new_request_from(&actor, &m, idem, None).await?,
        };
        let repeated = matches!(written, Written::Replayed { .. });
        let ticket = written.body()["number"].as_str().unwrap_or_default().to_string();
        Ok(Received { id: m.id, route: route.as_str().into(), ticket, repeated })
    }

    /// Whether a ticket still takes a customer's word: being handled, or
    /// resolved and not yet archived (the customer may still have
    /// something to say about the result) — not withdrawn or merged.
    fn takes_words(&self, t: &Ticket) -> bool {
        let archived = self.core.flows.get(t.ticket_type).is_final(&t.status);
        !archived && (t.open || t.resolved_at.is_some())
    }

    /// Where a message from `phone` goes, with the customer's latest tickets
    /// it was decided on.
    pub(super) async fn route_message(&self, phone: &Phone, text: &str) -> Result<(Vec<Ticket>, Route), ApiError> {
        let tickets = self.latest_tickets_of(phone).await?;
        let candidates: Vec<Candidate> = tickets
            .iter()
            .map(|t| Candidate {
                id: t.id,
                finished: !self.takes_words(t),
                visit: t.customer_loop.visit.as_ref().map(|v| v.state),
                updated_at: t.updated_at,
            })
            .collect();
        let route = self.core.policy.inbound.route(text, &candidates, self.now());
        Ok((tickets, route))
    }

    /// The customer's message on their ticket with the files they sent: those
    /// that cannot be kept are named in the text, the message is still taken.
    pub(super) async fn words_on_ticket(
        &self,
        actor: &Actor,
        t: &Ticket,
        from: (&'static str, Option<String>),
        text: String,
        files: Vec<crate::service::attachments::Incoming>,
        idem: Idem,
    ) -> Result<Written, ApiError> {
        let (rows, refused) = self.store_files_leniently(files, from.0, INBOUND_USERNAME, t).await?;
        self.customer_words(actor, t.id, from, with_refusals(text, &refused), rows, idem).await
    }

    /// The customer's latest tickets, newest first.
    async fn latest_tickets_of(&self, phone: &Phone) -> Result<Vec<Ticket>, ApiError> {
        let filter = TicketFilter {
            customer_phone: Some(phone.as_str().to_string()),
            page: 1,
            per_page: 20,
            ..Default::default()
        };
        Ok(self.store.list_tickets(filter).await?.items)
    }

    /// A digit 1–5 answering the survey: the ticket's return visit, as the
    /// customer's own answer.
    /// `who`: the customer's actor name by the channel and the visit method.
    pub(super) async fn survey_answer(
        &self,
        actor: &Actor,
        t: &Ticket,
        score: u8,
        idem: Idem,
        (name, method): (&str, &str),
    ) -> Result<Written, ApiError> {
        let customer = Actor::new(actor.id, name, Role::Agent);
        let body = json!({"action": "return_visit", "method": method, "reached": true, "satisfaction": score});
        let Value::Object(body) = body else { unreachable!("built as an object") };
        let request = ActionRequest::parse(&body)?;
        self.act_on(&customer, t, request, Some(idem)).await
    }

    /// The customer's message on their ticket: kept as their note (with the
    /// channel), its files with it, the handler and first owner told.
    pub(crate) async fn customer_words(
        &self,
        actor: &Actor,
        id: TicketId,
        (channel, message_id): (&'static str, Option<String>),
        text: String,
        files: Vec<Attachment>,
        idem: Idem,
    ) -> Result<Written, ApiError> {
        let (core, now) = (self.core.clone(), self.now());
        let decide = Box::new(move |t: &Ticket| {
            if core.flows.get(t.ticket_type).is_final(&t.status) {
                return Err(DomainError::Archived);
            }
            let mut ticket = Ticket { updated_at: now, ..t.clone() };
            // An e-mail is answered in the thread of the customer's latest one.
            if message_id.is_some() {
                ticket.email_message_id = message_id;
            }
            super::tickets::settle(&core, &mut ticket);
            let channel_zh = Channel::parse(channel, "channel").map_or(channel, |c| c.label_zh());
            let vars = [("number", t.number.as_str()), ("channel_zh", channel_zh), ("channel", channel)];
            let notice = core.settings.templates.render("staff_customer_message", "zh", &vars);
            let mut notices = super::notices::Notices::new(kefu_store::SYSTEM);
            notices.add(
                t.assignee.into_iter().chain([t.first_owner]),
                "customer_message",
                &notice.body_en,
                &notice.body,
            );
            let comment =
                NewComment { body: text, internal: false, mentions: Vec::new(), channel: Some(channel.into()) };
            let m = Mutation {
                comment: Some(comment),
                notices: notices.into_vec(),
                ..Mutation::new(ticket, "customer_message", json!({"channel": channel}))
            };
            Self::with_files(&core.policy.attachments, m, files)
        });
        self.mutate(actor, id, Some(idem), decide, 201).await
    }

    /// A new request from the message: the channel's, typed as the
    /// suggestions say (or `[inbound] default_type`), the customer by phone.
    pub(super) async fn new_request_from(
        &self,
        actor: &Actor,
        m: &InboundMessage,
        idem: Idem,
        email: Option<(String, Option<String>)>,
    ) -> Result<Written, ApiError> {
        let policy = &self.core.policy.inbound;
        let known = self.store.customer_by_phone(m.phone.as_str()).await?;
        let suggestion = self
            .suggest(
                actor,
                &SuggestRequest {
                    title: Some(m.text.chars().take(200).collect()),
                    description: Some(m.text.chars().take(4000).collect()),
                    channel: Some(m.channel.into()),
                    customer: Some(SuggestCustomer { level: known.as_ref().and_then(|c| c.level.clone()) }),
                },
            )
            .await?;
        let ticket_type = suggestion.ticket_type.value.clone().unwrap_or_else(|| policy.default_type.clone());
        let channel_zh = Channel::parse(m.channel, "channel").map_or(m.channel, |c| c.label_zh());
        let name = known.as_ref().map(|c| c.name.clone()).or_else(|| m.name.clone());
        let req = IntakeRequest {
            channel: Some(m.channel.into()),
            ticket_type: Some(ticket_type),
            title: Some(policy.title(&m.text, channel_zh)),
            description: Some(if m.text.is_empty() { "（无内容）".into() } else { m.text.clone() }),
            customer: Some(CustomerInput {
                name: Some(name.unwrap_or_else(|| format!("{channel_zh}客户"))),
                phone: Some(m.phone.as_str().to_string()),
                ..Default::default()
            }),
            service_number: m.phone.is_mobile().then(|| m.phone.as_str().to_string()),
            submitted_by: Some(format!("客户{channel_zh}")),
            ..Default::default()
        };
        self.create_ticket_from(actor, &req, Some(idem), email).await
    }
}

/// The text with the files that were not kept named at its end.
pub(super) fn with_refusals(text: String, refused: &[String]) -> String {
    if refused.is_empty() {
        return text;
    }
    format!("{text}\n\n（以下附件未保存：{}）", refused.join("；"))
}

/// The idempotency key of the one write a message makes: its channel id,
/// scoped to inbound messages, fingerprinted by its text.
pub(super) fn message_idem(key: &str, text: &str) -> Idem {
    Idem {
        key: key.chars().take(200).collect(),
        scope: SCOPE.into(),
        fingerprint: crate::auth::hex(&<sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())),
    }
}
