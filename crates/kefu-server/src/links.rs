//! Signed customer links (no login): `<ticket id>.<expiry>.<signature>`,
//! the signature an HMAC-SHA256 under a key every node shares. A link lets
//! its holder see their ticket and answer for it (confirm, appeal, survey)
//! until it expires; anything altered fails the check.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use kefu_domain::TicketId;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    Malformed,
    BadSignature,
    Expired,
}

#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(…)")
    }
}

impl LinkKey {
    pub fn new(secret: &[u8]) -> LinkKey {
        LinkKey(secret.to_vec())
    }

    /// A random key: links do not survive a restart (tests, one-off runs).
    pub fn random() -> LinkKey {
        let mut b = [0u8; 32];
        let _ = getrandom::fill(&mut b);
        LinkKey(b.to_vec())
    }

    fn mac(&self, payload: &str) -> String {
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(payload.as_bytes());
        B64.encode(&m.finalize().into_bytes()[..18])
    }

    /// A link for the messages sent to the customer's own phone or address.
    pub fn sign(&self, ticket: TicketId, expires: DateTime<Utc>) -> String {
        let payload = format!("{}.{}", ticket.0, expires.timestamp());
        format!("{payload}.{}", self.mac(&payload))
    }

    /// A link for whoever looked the ticket up by its number and the
    /// customer's phone: marked as such, so that what is done through it is
    /// recorded apart from answers through the customer's own messages.
    pub fn sign_lookup(&self, ticket: TicketId, expires: DateTime<Utc>) -> String {
        let payload = format!("{}.{}.l", ticket.0, expires.timestamp());
        format!("{payload}.{}", self.mac(&payload))
    }

    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<(TicketId, LinkKind), LinkError> {
        let parts: Vec<&str> = token.split('.').collect();
        let (id, exp, kind, sig) = match parts.as_slice() {
            [id, exp, sig] => (*id, *exp, LinkKind::Message, *sig),
            [id, exp, "l", sig] => (*id, *exp, LinkKind::Lookup, *sig),
            _ => return Err(LinkError::Malformed),
        };
        let (Ok(id), Ok(exp)) = (id.parse::<i64>(), exp.parse::<i64>()) else { return Err(LinkError::Malformed) };
        let payload = match kind {
            LinkKind::Message => format!("{id}.{exp}"),
            LinkKind::Lookup => format!("{id}.{exp}.l"),
        };
        // Constant-time comparison: the signature is a secret until it matches.
        if !crate::auth::same(&self.mac(&payload), sig) {
            return Err(LinkError::BadSignature);
        }
        if now.timestamp() >= exp {
            return Err(LinkError::Expired);
        }
        Ok((TicketId(id), kind))
    }
}

/// How the holder of a link came by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// In a message to the customer's own phone or e-mail.
    Message,
    /// By looking the ticket up with its number and the customer's phone.
    Lookup,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_until_they_expire_and_resist_tampering() {
        let k = LinkKey::new(b"secret");
        let now: DateTime<Utc> = "2026-11-22T02:00:00Z".parse().unwrap();
        let token = k.sign(TicketId(7), now + chrono::Duration::hours(1));
        assert_eq!(k.verify(&token, now), Ok((TicketId(7), LinkKind::Message)));
        let lookup = k.sign_lookup(TicketId(7), now + chrono::Duration::hours(1));
        assert_eq!(k.verify(&lookup, now), Ok((TicketId(7), LinkKind::Lookup)));
        assert_eq!(k.verify(&lookup.replace(".l.", "."), now), Err(LinkError::BadSignature));
        assert_eq!(k.verify(&token, now + chrono::Duration::hours(1)), Err(LinkError::Expired));
        let other = token.replacen('7', "8", 1);
        assert_eq!(k.verify(&other, now), Err(LinkError::BadSignature));
        assert_eq!(LinkKey::new(b"other").verify(&token, now), Err(LinkError::BadSignature));
        assert_eq!(k.verify("garbage", now), Err(LinkError::Malformed));
        let longer = token.replacen('.', "9.", 1);
        assert_eq!(k.verify(&longer, now), Err(LinkError::BadSignature));
    }
}
