//! Conformance: Customer messages and the return-visit projection.

use super::*;

fn sms(kind: &str, to: &str) -> NewMessage {
    NewMessage {
        kind: kind.into(),
        channel: "sms".into(),
        recipient: to.into(),
        subject: format!("{kind} 主题"),
        body: format!("{kind} 正文"),
        in_reply_to: None,
    }
}

/// Messages commit with their change, go to one node at a time, and carry
/// their delivery state; recipients are encrypted at rest.
pub async fn outbox_messages_are_claimed_once_and_tracked<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let op = CreateTicket {
        ticket: intake("13800000009", "宽带断网"),
        actor: a.clone(),
        initial_state: "accepted".into(),
        now: t0(),
        idempotency: None,
        follow_up: None,
        messages: Some(Box::new(|t: &Ticket| vec![sms(&format!("receipt {}", t.number), "13800000009")])),
        render: render_number(),
    };
    let t = ticket_of(&s.create_ticket(op).await.unwrap());
    let got = s.messages(t.id).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].kind.as_str(), got[0].state.as_str()), (format!("receipt {}", t.number).as_str(), "pending"));
    assert_eq!(got[0].recipient, "13800000009");
    // A refused change writes none of its messages.
    assert!(change(&s, &a, t.id, Box::new(|_| Err(kefu_domain::DomainError::Archived))).await.is_err());
    let second = change(
        &s,
        &a,
        t.id,
        Box::new(|t| {
            Ok(Mutation { outbox: vec![sms("result", "13800000009")], ..Mutation::new(t.clone(), "notify", json!({})) })
        }),
    )
    .await;
    assert!(second.is_ok());
    let lease = Duration::minutes(5);
    let now = t0() + Duration::seconds(1);
    let first = s.claim_messages("node-a", now, lease, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    let rest = s.claim_messages("node-b", now, lease, 10).await.unwrap();
    assert_eq!(rest.len(), 1, "node b gets only what node a did not claim");
    assert!(s.claim_messages("node-c", now, lease, 10).await.unwrap().is_empty());
    assert!(!s.finish_message(first[0].id, "node-b", SendOutcome::Sent { provider_id: None }, now).await.unwrap());
    let sent = SendOutcome::Sent { provider_id: Some("gw-1".into()) };
    assert!(s.finish_message(first[0].id, "node-a", sent.clone(), now).await.unwrap());
    assert!(!s.finish_message(first[0].id, "node-a", sent, now).await.unwrap(), "once");
    let retry_at = now + Duration::minutes(2);
    let retry = SendOutcome::Retry { at: retry_at, error: "503".into() };
    assert!(s.finish_message(rest[0].id, "node-b", retry, now).await.unwrap());
    assert!(s.claim_messages("node-a", now + Duration::minutes(1), lease, 10).await.unwrap().is_empty());
    let again = s.claim_messages("node-a", retry_at, lease, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    assert_eq!(s.message_receipt("gw-1", true, None, now).await.unwrap(), Some(t.id));
    assert_eq!(s.message_receipt("unknown", true, None, now).await.unwrap(), None);
    let got = s.messages(t.id).await.unwrap();
    assert_eq!(got[0].state, "delivered");
    assert_eq!(got[0].provider_id.as_deref(), Some("gw-1"));
    assert!(got[0].delivered_at.is_some());
    assert_eq!((got[1].state.as_str(), got[1].last_error.as_deref()), ("pending", Some("503")));
    let stored = s.export_rows(dump::table("outbox").unwrap(), 0, 10).await.unwrap();
    assert!(!stored[0]["recipient"].as_str().unwrap().contains("13800000009"), "encrypted at rest");
}

/// The visits table follows the ticket's visit task; coverage counts it.
pub async fn visits_follow_the_ticket_and_are_counted<S: Store>(s: S) {
    use kefu_domain::customer_loop::{VisitState, VisitTask};
    let a = staff(&s, "agent1", Role::Agent).await;
    let mut ids = Vec::new();
    for (i, state) in [VisitState::Visited, VisitState::Unreachable, VisitState::Pending, VisitState::Cancelled]
        .into_iter()
        .enumerate()
    {
        let t = ticket_of(&create(&s, &a, &format!("1380000001{i}"), t0(), None).await);
        let task = VisitTask {
            resolved_at: t0() + Duration::hours(i as i64),
            due_at: t0() + Duration::hours(48),
            method: "phone".into(),
            state,
            attempts: 1,
            satisfaction: (state == VisitState::Visited).then_some(5),
            nps: (state == VisitState::Visited).then_some(10),
            comment: None,
            visited_at: None,
        };
        let decide: Decide = Box::new(move |t| {
            let mut next = t.clone();
            next.customer_loop.visit = Some(task);
            // The first one was resolved late.
            let breaches = if i == 0 {
                vec![Breach { kind: "resolution".into(), due_at: t0(), breached_at: t0() }]
            } else {
                vec![]
            };
            Ok(Mutation { breaches, ..Mutation::new(next, "resolve", json!({})) })
        });
        change(&s, &a, t.id, decide).await.unwrap();
        ids.push(t.id);
    }
    let all = s.visits(VisitFilter { page: 1, per_page: 10, ..Default::default() }).await.unwrap();
    assert_eq!(all.total, 4);
    let pending = s
        .visits(VisitFilter { state: Some("pending".into()), page: 1, per_page: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(pending.items.iter().map(|v| v.ticket_id).collect::<Vec<_>>(), vec![ids[2]]);
    let c = s.visit_counts(t0(), t0() + Duration::days(1), 4).await.unwrap();
    assert_eq!(c.len(), 1);
    let c = &c[0];
    assert_eq!((c.resolved, c.visited, c.unreachable), (3, 1, 1), "the cancelled resolution does not count");
    assert_eq!((c.rated, c.rating_sum, c.satisfied, c.nps_answers, c.promoters), (1, 5, 1, 1, 1));
    assert_eq!(c.late, 1, "resolved after its resolution deadline was breached");
    assert!(s.visit_counts(t0() + Duration::hours(1), t0() + Duration::hours(2), 4).await.unwrap()[0].resolved == 1);
}
