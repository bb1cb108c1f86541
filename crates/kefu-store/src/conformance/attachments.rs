//! Conformance: the index of evidence files.

use super::*;

fn file(ticket: TicketId, id: &str, name: &str, blob: &str, at: DateTime<Utc>) -> Attachment {
    Attachment {
        id: id.into(),
        ticket,
        filename: name.into(),
        content_type: "image/jpeg".into(),
        size: 2_048,
        sha256: "ab".repeat(32),
        blob: blob.into(),
        source: "upload".into(),
        added_by: "agent1".into(),
        created_at: at,
    }
}

/// A file is on a ticket when the change that adds it commits, with the
/// ticket's audit event; a refused change adds nothing; the name (which may
/// hold a phone number) reads back as written; purging the ticket takes
/// its files' rows, and the bytes are then no longer in use.
pub async fn files_join_a_ticket_with_its_change_and_leave_with_it<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let t = ticket_of(&create(&s, &a, "13800000001", t0(), None).await);
    let first = file(t.id, "att_000000000000000000000001", "13800000001 的路由器.jpg", "blob-a", t0());
    // A file whose ticket write fails (here: an id that is not unique within the change) is not on the ticket.
    let twice = vec![first.clone(), first.clone()];
    let no = change(
        &s,
        &a,
        t.id,
        Box::new(move |t| Ok(Mutation { attachments: twice.clone(), ..Mutation::new(t.clone(), "attach", json!({})) })),
    );
    assert!(no.await.is_err());
    assert!(s.attachments(t.id).await.unwrap().is_empty(), "a refused change adds nothing");
    assert_eq!(s.events(t.id).await.unwrap().len(), 1, "nor its event");

    let (one, two) =
        (first.clone(), file(t.id, "att_000000000000000000000002", "截图.png", "blob-b", t0() + Duration::seconds(5)));
    let both = vec![one.clone(), two.clone()];
    change(
        &s,
        &a,
        t.id,
        Box::new(move |t| Ok(Mutation { attachments: both.clone(), ..Mutation::new(t.clone(), "attach", json!({})) })),
    )
    .await
    .unwrap();
    assert_eq!(s.attachments(t.id).await.unwrap(), vec![one.clone(), two.clone()], "oldest first, as written");
    assert_eq!(s.attachment(&two.id).await.unwrap(), Some(two.clone()));
    assert_eq!(s.attachment("att_nope").await.unwrap(), None);
    assert_eq!(s.events(t.id).await.unwrap().last().unwrap().action, "attach");
    assert!(s.blob_in_use("blob-a").await.unwrap() && !s.blob_in_use("blob-c").await.unwrap());

    // The same id twice is refused whole.
    let again = vec![file(t.id, "att_000000000000000000000003", "x.jpg", "blob-c", t0()), one.clone()];
    let dup = change(
        &s,
        &a,
        t.id,
        Box::new(move |t| Ok(Mutation { attachments: again.clone(), ..Mutation::new(t.clone(), "attach", json!({})) })),
    );
    assert!(dup.await.is_err());
    assert!(!s.blob_in_use("blob-c").await.unwrap(), "nothing half-applied");

    s.purge_ticket(t.id).await.unwrap();
    assert!(s.attachments(t.id).await.unwrap().is_empty());
    assert!(!s.blob_in_use("blob-a").await.unwrap());
}
