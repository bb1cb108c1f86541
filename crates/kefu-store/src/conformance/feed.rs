//! Conformance of FeedStore: the search index's change feed and the
//! filtering of search hits.

use super::*;

fn reply(body: &str, internal: bool) -> Decide {
    let comment = Some(NewComment { body: body.into(), internal, mentions: Vec::new(), channel: None });
    Box::new(move |t| {
        let mut t = t.clone();
        t.updated_at = t0() + Duration::minutes(9);
        Ok(Mutation { comment: comment.clone(), ..Mutation::new(t, "comment", json!({})) })
    })
}

pub async fn the_feed_follows_every_change_and_filters_hits<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let start = FeedMark { updated_at: "2000-01-01T00:00:00Z".parse().unwrap(), id: TicketId(0), rev: 0 };
    assert!(s.ticket_changes(start, 10).await.unwrap().is_empty());
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(ticket_of(&create(&s, &a, &format!("1380000000{i}"), t0() + Duration::seconds(i), None).await).id);
    }
    // Registration order, then keyset paging from any mark.
    let all = s.ticket_changes(start, 10).await.unwrap();
    assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), ids);
    assert_eq!(s.ticket_changes(all[0], 1).await.unwrap(), vec![all[1]]);
    assert!(s.ticket_changes(all[2], 10).await.unwrap().is_empty());
    // A change moves the ticket to the end of the feed; its reply is text,
    // an internal note is not.
    change(&s, &a, ids[0], reply("已为您重启光猫", false)).await.unwrap();
    change(&s, &a, ids[0], reply("内部：用户情绪激动", true)).await.unwrap();
    let after = s.ticket_changes(all[2], 10).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].id, ids[0]);
    assert_eq!(after[0].updated_at, t0() + Duration::minutes(9));
    assert_eq!((all[0].rev, after[0].rev), (0, 2), "each change counted");
    let texts = s.ticket_texts(vec![ids[0], ids[2], TicketId(999_999)]).await.unwrap();
    assert_eq!(texts.iter().map(|t| t.ticket.id).collect::<Vec<_>>(), vec![ids[0], ids[2]]);
    assert_eq!(texts[0].replies, vec!["已为您重启光猫".to_string()]);
    assert_eq!(texts[0].ticket.title, "宽带断网");
    assert_eq!(texts[0].ticket.customer.name, "李四");
    assert!(texts[1].replies.is_empty());
    // Hits under the list's filters.
    let hits = Some(vec![ids[2], ids[0], TicketId(999_999)]);
    let mut got = s.passing_ids(TicketFilter { ids: hits.clone(), ..Default::default() }).await.unwrap();
    got.sort();
    assert_eq!(got, vec![ids[0], ids[2]]);
    let phone = TicketFilter { ids: hits, customer_phone: Some("13800000002".into()), ..Default::default() };
    assert_eq!(s.passing_ids(phone).await.unwrap(), vec![ids[2]]);
    let none = TicketFilter { ids: Some(Vec::new()), ..Default::default() };
    assert!(s.passing_ids(none).await.unwrap().is_empty());
}
