//! Conformance: figures over the record.

use super::*;
use kefu_domain::action::Receiver;
use kefu_domain::figures::Handling;

/// Records `action` on ticket `id` by `who` at `at`, with what `extra` adds.
async fn record<S: Store>(
    s: &S,
    who: &Actor,
    id: TicketId,
    action: &str,
    at: DateTime<Utc>,
    extra: impl FnOnce(&mut Mutation) + Send + 'static,
) {
    let action = action.to_string();
    let op = MutateTicket {
        ticket: id,
        actor: who.clone(),
        now: at,
        idempotency: None,
        decide: Box::new(move |t| {
            let mut m = Mutation::new(Ticket { updated_at: at, ..t.clone() }, action, json!({}));
            extra(&mut m);
            Ok(m)
        }),
        render: render_number(),
        status: 200,
    };
    s.mutate_ticket(op).await.unwrap();
}

pub async fn handling_figures_count_each_resolution_once_for_who_resolved_it<S: Store>(s: S) {
    let (a, e) = (staff(&s, "agent1", Role::Agent).await, staff(&s, "eng1", Role::Engineer).await);
    let h = |n| t0() + Duration::hours(n);
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(ticket_of(&create(&s, &a, &format!("1380000000{i}"), t0(), None).await).id);
    }
    // 1: resolved by its first owner two hours in, nothing else: first contact, on time.
    record(&s, &a, ids[0], "resolve", h(2), |_| {}).await;
    // 2: transferred, a deadline breached, resolved by the engineer four hours in.
    record(&s, &a, ids[1], "transfer", h(0) + Duration::minutes(10), |m| {
        m.transfer = Some(TransferChange::Open {
            from: None,
            to: Receiver::User(2),
            reason: "上门".into(),
            mode: "manual".into(),
        });
    })
    .await;
    record(&s, &a, ids[1], "sla_alert", h(3), move |m| {
        m.breaches.push(Breach { kind: "response".into(), due_at: h(1), breached_at: h(3) });
    })
    .await;
    record(&s, &e, ids[1], "resolve", h(4), |_| {}).await;
    // 3: an appeal before the resolution: not first contact; a breach after it does not count.
    record(&s, &a, ids[2], "appeal", h(0) + Duration::minutes(30), |_| {}).await;
    record(&s, &a, ids[2], "resolve", h(1), |_| {}).await;
    record(&s, &a, ids[2], "sla_alert", h(5), move |m| {
        m.breaches.push(Breach { kind: "visit".into(), due_at: h(4), breached_at: h(5) });
    })
    .await;
    // 1 again: the watcher noticed only later a deadline that was due before
    // the resolution: late all the same (still first contact).
    record(&s, &a, ids[0], "sla_alert", h(6), move |m| {
        m.breaches.push(Breach { kind: "response".into(), due_at: h(1), breached_at: h(6) });
    })
    .await;
    // 4: resolved after the period.
    record(&s, &a, ids[3], "resolve", h(30), |_| {}).await;
    let got = s.handling(t0(), h(24)).await.unwrap();
    let of = |u: &Actor| got.iter().find(|(id, _)| *id == Some(u.id)).map(|(_, f)| *f).unwrap_or_default();
    let agent = of(&a);
    assert_eq!((agent.handled, agent.on_time, agent.first_contact), (2, 1, 1), "{got:?}");
    assert!((agent.handling_seconds - 3.0 * 3600.0).abs() < 1.0, "{agent:?}");
    let eng = of(&e);
    assert_eq!(
        (eng.handled, eng.on_time, eng.first_contact, eng.handling_seconds.round()),
        (1, 0, 0, 4.0 * 3600.0),
        "{got:?}"
    );
    assert_eq!(got.len(), 2);
    // The figures drill down to the tickets they count.
    let resolved = |by: &Actor, from, to| TicketFilter {
        resolved_by: Some(by.id),
        resolved_from: Some(from),
        resolved_to: Some(to),
        page: 1,
        per_page: 10,
        ..Default::default()
    };
    let mine = s.list_tickets(resolved(&a, t0(), h(24))).await.unwrap();
    let mut found: Vec<TicketId> = mine.items.iter().map(|t| t.id).collect();
    found.sort();
    assert_eq!(found, vec![ids[0], ids[2]]);
    assert_eq!(s.list_tickets(resolved(&e, t0(), h(24))).await.unwrap().items[0].id, ids[1]);
    assert_eq!(s.list_tickets(resolved(&e, h(24), h(48))).await.unwrap().total, 0);
    assert_eq!(
        s.handling(h(24), h(48)).await.unwrap(),
        vec![(Some(a.id), Handling { handled: 1, on_time: 1, first_contact: 1, handling_seconds: 30.0 * 3600.0 })]
    );
}
