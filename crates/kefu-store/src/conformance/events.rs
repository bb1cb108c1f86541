//! Conformance: the events outbox, endpoints and their delivery log.

use super::*;

fn hook(kind: &str, url: &str, owner: kefu_domain::UserId) -> NewWebhook {
    NewWebhook {
        kind: kind.into(),
        url: url.into(),
        events: vec!["ticket.created".into()],
        query: String::new(),
        secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=".into(),
        description: "网管系统".into(),
        owner,
        now: t0(),
    }
}

fn delivery(webhook: i64, e: &OutboxEvent) -> NewDelivery {
    NewDelivery {
        webhook,
        event_id: format!("evt_{}_{}", e.ticket.0, e.seq),
        event_type: e.action.clone(),
        ticket: e.ticket,
        payload: format!("{{\"seq\":{}}}", e.seq),
    }
}

/// Every audit event leaves one outbox row with its change, in order per
/// ticket; a fan-out round records the deliveries and marks the rows at
/// once; publishing is marked apart; rows done with are pruned.
pub async fn every_change_leaves_an_outbox_row_with_it<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let e = staff(&s, "engineer1", Role::Engineer).await;
    let t = ticket_of(&create(&s, &a, "13800000001", t0(), None).await);
    act(&s, &a, t.id, json!({"action": "dispatch", "assignee": "engineer1"}), Some(&e), None).await.unwrap();
    // A refused change leaves no event.
    assert!(act(&s, &a, t.id, json!({"action": "archive"}), None, None).await.is_err());
    let rows = s.unfanned_events(10).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| (r.ticket, r.seq, r.action.as_str())).collect::<Vec<_>>(),
        vec![(t.id, 1, "create"), (t.id, 2, "dispatch")]
    );
    assert!(rows[0].id < rows[1].id);

    let h = s.create_webhook(hook("webhook", "http://127.0.0.1:9/hook", a.id)).await.unwrap();
    assert_eq!((h.enabled, h.failures, h.secret.as_str()), (true, 0, "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ="));
    s.fan_out(vec![rows[0].id], vec![delivery(h.id, &rows[0])], false, t0()).await.unwrap();
    assert_eq!(s.unfanned_events(10).await.unwrap().len(), 1);
    assert_eq!(s.unpublished_events(10).await.unwrap().len(), 2, "fanned is not published");
    s.fan_out(vec![rows[1].id], vec![delivery(h.id, &rows[1])], true, t0()).await.unwrap();
    assert!(s.unfanned_events(10).await.unwrap().is_empty());
    assert_eq!(s.unpublished_events(10).await.unwrap().len(), 1);
    s.mark_published(vec![rows[0].id]).await.unwrap();
    assert!(s.unpublished_events(10).await.unwrap().is_empty());
    assert_eq!(s.prune_events(t0()).await.unwrap(), 2, "both rows, no settled delivery yet");

    // The log keeps the payload as it will be sent, newest first.
    let log = s.deliveries(h.id, None, 10).await.unwrap();
    assert_eq!(log.iter().map(|d| d.payload.as_str()).collect::<Vec<_>>(), ["{\"seq\":2}", "{\"seq\":1}"]);
    assert_eq!(s.deliveries(h.id, Some(log[0].id), 10).await.unwrap().len(), 1);
    assert_eq!(log[1].state, "pending");
}

/// Deliveries go out one at a time per endpoint, oldest first; a failure
/// holds the line until its retry is due; give-up moves the line on; an
/// endpoint failing `disable_after` times in a row is switched off with a
/// reason, switching it on clears the count; replay puts a delivery back.
pub async fn deliveries_keep_their_line_and_failing_endpoints_stop<S: Store>(s: S) {
    let a = staff(&s, "admin", Role::Admin).await;
    let t = ticket_of(&create(&s, &a, "13800000001", t0(), None).await);
    let rows = s.unfanned_events(10).await.unwrap();
    let one = s.create_webhook(hook("webhook", "http://127.0.0.1:9/one", a.id)).await.unwrap();
    let two = s.create_webhook(hook("tmf", "http://127.0.0.1:9/two", a.id)).await.unwrap();
    let mut ds = vec![delivery(one.id, &rows[0]), delivery(two.id, &rows[0])];
    ds.push(NewDelivery { event_id: "evt_x_2".into(), ..delivery(one.id, &rows[0]) });
    s.fan_out(vec![rows[0].id], ds, true, t0()).await.unwrap();
    assert_eq!(t.id, rows[0].ticket);

    let due = s.due_deliveries(t0(), 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| (d.webhook, d.event_id.as_str())).collect::<Vec<_>>(),
        vec![(one.id, format!("evt_{}_1", t.id.0).as_str()), (two.id, format!("evt_{}_1", t.id.0).as_str())]
    );
    let later = t0() + Duration::seconds(5);
    let fail = |d: i64, retry: Option<DateTime<Utc>>| Attempt {
        delivery: d,
        at: t0(),
        ok: false,
        status: Some(503),
        error: Some("503 Service Unavailable".into()),
        retry_at: retry,
        disable_after: 2,
    };
    s.record_attempt(fail(due[0].id, Some(later))).await.unwrap();
    let now_due = s.due_deliveries(t0(), 10).await.unwrap();
    assert_eq!(now_due.iter().map(|d| d.webhook).collect::<Vec<_>>(), vec![two.id], "the line waits for the retry");
    let again = s.due_deliveries(later, 10).await.unwrap();
    assert_eq!(again[0].id, due[0].id, "the same delivery again, not the next");
    assert_eq!((again[0].attempts, again[0].last_status), (1, Some(503)));
    // Given up: the next of the line comes up.
    s.record_attempt(fail(due[0].id, None)).await.unwrap();
    let h = s.webhook(one.id).await.unwrap().unwrap();
    assert!(!h.enabled, "two failures in a row switch it off");
    assert_eq!(h.failures, 2);
    assert!(h.disabled_reason.as_deref().unwrap().contains("连续2次"));
    assert!(s.due_deliveries(later, 10).await.unwrap().iter().all(|d| d.webhook != one.id), "switched off");
    let on = s.update_webhook(one.id, WebhookPatch { enabled: Some(true), ..Default::default() }, later).await.unwrap();
    let on = on.unwrap();
    assert_eq!((on.enabled, on.failures, on.disabled_reason.clone()), (true, 0, None));
    let next = s.due_deliveries(later, 10).await.unwrap();
    let next_one = next.iter().find(|d| d.webhook == one.id).unwrap();
    assert_eq!(next_one.event_id, "evt_x_2");
    s.record_attempt(Attempt { ok: true, status: Some(204), error: None, ..fail(next_one.id, None) }).await.unwrap();
    let log = s.deliveries(one.id, None, 10).await.unwrap();
    assert_eq!(log.iter().map(|d| d.state.as_str()).collect::<Vec<_>>(), ["delivered", "failed"]);
    assert!(log[0].delivered_at.is_some());
    // Replay: the given-up delivery goes out again, first in line.
    let replayed = s.replay_delivery(one.id, log[1].id, later).await.unwrap().unwrap();
    assert_eq!(replayed.state, "pending");
    assert!(s.replay_delivery(two.id, log[1].id, later).await.unwrap().is_none(), "not that endpoint's");
    assert_eq!(s.due_deliveries(later, 10).await.unwrap().iter().find(|d| d.webhook == one.id).unwrap().id, log[1].id);
    // Patches keep what they do not name; deletion takes the log along.
    let p = WebhookPatch { url: Some("http://127.0.0.1:9/new".into()), ..Default::default() };
    let h = s.update_webhook(one.id, p, later).await.unwrap().unwrap();
    assert_eq!(
        (h.url.as_str(), h.events.clone(), h.kind.as_str()),
        ("http://127.0.0.1:9/new", vec!["ticket.created".to_string()], "webhook")
    );
    assert!(s.update_webhook(999, WebhookPatch::default(), later).await.unwrap().is_none());
    assert_eq!(s.webhooks().await.unwrap().len(), 2);
    assert!(s.delete_webhook(one.id).await.unwrap());
    assert!(!s.delete_webhook(one.id).await.unwrap());
    assert!(s.deliveries(one.id, None, 10).await.unwrap().is_empty());
    // A delivered log entry past the keeping time is pruned.
    s.record_attempt(Attempt { ok: true, status: Some(200), error: None, ..fail(due[1].id, None) }).await.unwrap();
    assert_eq!(s.prune_events(t0() + Duration::days(1)).await.unwrap(), 2, "the outbox row and the settled delivery");
}
