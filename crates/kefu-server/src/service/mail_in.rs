//! E-mail in: each mail of the mailbox, in UID order, becomes a
//! word on the ticket it answers (our Message-ID in its References, or the
//! ticket number in its subject — from the customer of that ticket), a new
//! request (the customer found by the address they wrote from, or by a
//! mobile number in the mail), or a request to tell us that number. Mail a
//! machine sent (auto-replies, bounces, our own) is passed over unanswered.
//! Each mail's write carries its Message-ID as the idempotency key and the
//! cursor moves only after it, so a node killed mid-round neither loses
//! nor doubles a mail.

use super::inbound::{InboundMessage, Received};
use super::{Idem, Kefu};
use crate::error::ApiError;
use crate::mail::Mail;
use kefu_domain::inbound::{Thread, thread, without_quote};
use kefu_domain::ticket::Ticket;
use kefu_domain::validate::Phone;
use kefu_store::{NewMessage, Store, Written};

/// Where one mail sits in its mailbox.
#[derive(Debug, Clone)]
pub struct MailAt {
    pub source: String,
    pub validity: i64,
    pub uid: i64,
}

fn passed(why: &str) -> Received {
    Received { id: String::new(), route: format!("ignored:{why}"), ticket: String::new(), repeated: false }
}

impl<S: Store> Kefu<S> {
    /// Takes one mail and moves the mailbox's cursor past it.
    pub async fn receive_email(&self, at: &MailAt, raw: &[u8], own: &[&str]) -> Result<Received, ApiError> {
        let (got, answer) = match crate::mail::read(raw, own) {
            None => (passed("unreadable"), None),
            Some(mail) => match mail.automatic {
                Some(why) => {
                    tracing::info!(why, "inbound mail from a machine passed over");
                    (passed(why), None)
                }
                None => self.take_mail(at, mail).await?,
            },
        };
        self.store.set_inbound_cursor(&at.source, (at.validity, at.uid), answer, self.now()).await?;
        Ok(got)
    }

    /// A person's mail: its ticket, or the question who they are.
    async fn take_mail(&self, at: &MailAt, mail: Mail) -> Result<(Received, Option<NewMessage>), ApiError> {
        let key = match &mail.message_id {
            Some(id) => format!("email:{id}"),
            None => format!("email:{}:{}:{}", at.source, at.validity, at.uid),
        };
        let idem = super::inbound::message_idem(&key, &mail.text);
        let known = self.store.customer_by_contact("email", &mail.from).await?;
        if let Some(t) = self.answered_ticket(&mail, known.as_ref().map(|c| c.id)).await? {
            let written = self.mail_on_ticket(&t, &mail, idem).await?;
            return Ok((received(&mail, "reply", &written), None));
        }
        let phone = known.map(|c| c.phone).or_else(|| {
            let found = kefu_domain::bot::phone_in(&format!("{}\n{}", mail.subject, mail.text))?;
            Phone::parse(&found, "phone").ok()
        });
        let Some(phone) = phone else {
            return Ok((passed("identify"), Some(self.identify(&mail))));
        };
        let written = self.mail_request(&mail, phone, idem).await?;
        Ok((received(&mail, "new", &written), None))
    }

    /// The ticket the mail answers, if its sender is that ticket's customer
    /// (an address once used on it, or linked to its customer): a number in
    /// a subject is no proof of who writes.
    async fn answered_ticket(
        &self,
        mail: &Mail,
        sender: Option<kefu_domain::CustomerId>,
    ) -> Result<Option<Ticket>, ApiError> {
        let refs: Vec<&str> = mail.references.iter().map(String::as_str).collect();
        let key = match thread(&mail.subject, &refs) {
            Thread::Ticket(id) => id.0.to_string(),
            Thread::Number(n) => n,
            Thread::None => return Ok(None),
        };
        let t = match self.ticket(&key).await {
            Ok(t) => t,
            Err(ApiError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let same_address = t.email.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(&mail.from));
        let wrote_before =
            crate::service::messages::last_email(self, t.id).await?.is_some_and(|a| a.eq_ignore_ascii_case(&mail.from));
        let theirs = same_address || wrote_before || sender == Some(t.customer.id);
        // An archived ticket takes no more words: the mail is a new request.
        let archived = self.core.flows.get(t.ticket_type).is_final(&t.status);
        Ok((theirs && !archived).then_some(t))
    }

    /// The mail's new text (the quote left out) and files on the ticket.
    async fn mail_on_ticket(&self, t: &Ticket, mail: &Mail, idem: Idem) -> Result<Written, ApiError> {
        let actor = self.inbound_actor().await?;
        let text = self.core.policy.inbound.text(&without_quote(&mail.text));
        self.words_on_ticket(&actor, t, ("email", mail.message_id.clone()), text, mail.files.clone(), idem).await
    }

    /// A new request by e-mail: answered by e-mail in its thread, the
    /// address remembered for the customer, the files on the new ticket.
    async fn mail_request(&self, mail: &Mail, phone: Phone, idem: Idem) -> Result<Written, ApiError> {
        let actor = self.inbound_actor().await?;
        let text = if mail.subject.is_empty() || mail.text.contains(&mail.subject) {
            mail.text.clone()
        } else {
            format!("{}\n{}", mail.subject, mail.text)
        };
        let m = InboundMessage {
            channel: "email",
            id: idem.key.clone(),
            phone,
            name: mail.name.clone(),
            text: self.core.policy.inbound.text(&text),
        };
        let files_key = format!("{}:files", idem.key);
        let contact = Some((mail.from.clone(), mail.message_id.clone()));
        let written = self.new_request_from(&actor, &m, idem, contact).await?;
        let number = written.body()["number"].as_str().unwrap_or_default().to_string();
        let t = self.ticket(&number).await?;
        self.store.link_contact(t.customer.id, "email", &mail.from, self.now()).await?;
        // The files in a write of their own: the ticket did not exist before.
        if !mail.files.is_empty() {
            let idem = super::inbound::message_idem(&files_key, &mail.text);
            self.words_on_ticket(&actor, &t, ("email", None), "（来信附件）".into(), mail.files.clone(), idem).await?;
        }
        Ok(written)
    }

    /// The answer to a mail from someone kefu cannot tell: please reply
    /// with your mobile number (the reply then registers the request).
    fn identify(&self, mail: &Mail) -> NewMessage {
        let subject: String = mail.subject.chars().take(60).collect();
        let vars = [("subject", subject.as_str())];
        let r = self.core.settings.templates.render("identify", &self.core.policy.customer_loop.language, &vars);
        NewMessage {
            kind: "identify".into(),
            channel: "email".into(),
            recipient: mail.from.clone(),
            subject: r.subject,
            body: r.body,
            in_reply_to: mail.message_id.clone(),
        }
    }
}

fn received(mail: &Mail, route: &str, w: &Written) -> Received {
    Received {
        id: mail.message_id.clone().unwrap_or_default(),
        route: route.into(),
        ticket: w.body()["number"].as_str().unwrap_or_default().to_string(),
        repeated: matches!(w, Written::Replayed { .. }),
    }
}
