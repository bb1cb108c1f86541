//! Conformance: sources read and customers' e-mail addresses.

use super::*;

fn ask() -> NewMessage {
    NewMessage {
        kind: "identify".into(),
        channel: "email".into(),
        recipient: "zhang.san@example.com".into(),
        subject: "请提供手机号码".into(),
        body: "请回复您的手机号码".into(),
        in_reply_to: Some("abc@example.com".into()),
    }
}

/// A cursor moves on within one UID validity and starts over with a new
/// one; an address finds its customer whatever its case, the latest
/// customer linked wins.
pub async fn cursors_move_on_and_addresses_find_their_customer<S: Store>(s: S) {
    assert_eq!(s.inbound_cursor("imap:kefu@example.com/INBOX").await.unwrap(), None);
    s.set_inbound_cursor("imap:kefu@example.com/INBOX", (7, 10), None, t0()).await.unwrap();
    s.set_inbound_cursor("imap:kefu@example.com/INBOX", (7, 4), None, t0()).await.unwrap();
    assert_eq!(s.inbound_cursor("imap:kefu@example.com/INBOX").await.unwrap(), Some((7, 10)), "never back");
    s.set_inbound_cursor("imap:kefu@example.com/INBOX", (8, 2), Some(ask()), t0()).await.unwrap();
    assert_eq!(s.inbound_cursor("imap:kefu@example.com/INBOX").await.unwrap(), Some((8, 2)), "a new validity");
    assert_eq!(s.inbound_cursor("imap:other").await.unwrap(), None);
    // The answer went to the outbox with the cursor's move.
    let due = s.claim_messages("n1", t0() + Duration::seconds(1), Duration::seconds(60), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].kind.as_str(), due[0].in_reply_to.as_deref()), ("identify", Some("abc@example.com")));

    let a = staff(&s, "agent1", Role::Agent).await;
    let one = ticket_of(&create(&s, &a, "13800000001", t0(), None).await).customer;
    let two = ticket_of(&create(&s, &a, "13800000002", t0(), None).await).customer;
    assert_eq!(s.customer_by_contact("email", "zhang.san@example.com").await.unwrap(), None);
    s.link_contact(one.id, "email", "Zhang.San@Example.com ", t0()).await.unwrap();
    assert_eq!(s.customer_by_contact("email", "zhang.san@example.com").await.unwrap().map(|c| c.id), Some(one.id));
    s.link_contact(two.id, "email", "zhang.san@example.com", t0()).await.unwrap();
    assert_eq!(s.customer_by_contact("email", "ZHANG.SAN@EXAMPLE.COM").await.unwrap().map(|c| c.id), Some(two.id));
    assert_eq!(s.contact_of(two.id, "email").await.unwrap().as_deref(), Some("zhang.san@example.com"));
    // Openids compare exactly, and are kept apart from addresses.
    s.link_contact(one.id, "wechat", "oAbC-123", t0()).await.unwrap();
    s.link_contact(one.id, "wechat", "oAbC-456", t0() + Duration::seconds(1)).await.unwrap();
    assert_eq!(s.customer_by_contact("wechat", "oabc-123").await.unwrap(), None);
    assert_eq!(s.customer_by_contact("email", "oAbC-123").await.unwrap(), None);
    assert_eq!(s.contact_of(one.id, "wechat").await.unwrap().as_deref(), Some("oAbC-456"), "the latest");
    assert_eq!(s.contact_of(two.id, "wechat").await.unwrap(), None);
}
