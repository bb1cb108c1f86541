//! Conformance: Tickets: intake, numbers, changes and their audit events, transfers, notes, lists.

use super::*;

pub async fn numbers_follow_the_shanghai_day<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let first = ticket_of(&create(&s, &a, "13800000001", t0(), None).await);
    let second = ticket_of(&create(&s, &a, "13800000002", t0(), None).await);
    // 16:00 UTC is midnight in Shanghai: a new day, a new sequence.
    let next_day = ticket_of(&create(&s, &a, "13800000003", t0() + Duration::minutes(30), None).await);
    assert_eq!(first.number, "GD20261122000001");
    assert_eq!(second.number, "GD20261122000002");
    assert_eq!(next_day.number, "GD20261123000001");
    assert_eq!(first.first_owner, a.id);
    assert_eq!(s.ticket_count().await.unwrap(), 3);
}

pub async fn customers_are_found_again_by_phone<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let t1 = ticket_of(&create(&s, &a, "13912345678", t0(), None).await);
    let t2 = ticket_of(&create(&s, &a, "13912345678", t0(), None).await);
    assert_eq!(t1.customer.id, t2.customer.id);
    let c = s.customer_by_phone("13912345678").await.unwrap().unwrap();
    assert_eq!(c.id, t1.customer.id);
    assert!(s.customer_by_phone("13900000000").await.unwrap().is_none());
    assert_eq!(s.customer_by_id(c.id).await.unwrap(), Some(c));
    assert!(s.customer_by_id(kefu_domain::CustomerId(999_999)).await.unwrap().is_none());
}

pub async fn idempotency_key_replays_the_first_result<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let first = create(&s, &a, "13800000001", t0(), Some("k1")).await;
    let again = create(&s, &a, "13800000001", t0(), Some("k1")).await;
    assert!(matches!(again, Written::Replayed { status: 201, .. }));
    assert_eq!(first.body(), again.body());
    assert_eq!(s.ticket_count().await.unwrap(), 1);
    // Old records are purged; a purged key no longer replays.
    assert_eq!(s.purge_idempotency(t0()).await.unwrap(), 0);
    assert_eq!(s.purge_idempotency(t0() + Duration::seconds(1)).await.unwrap(), 1);
    assert!(matches!(create(&s, &a, "13800000001", t0(), Some("k1")).await, Written::New { .. }));
    // The key is scoped to its user.
    let b = staff(&s, "agent2", Role::Agent).await;
    assert!(matches!(create(&s, &b, "13800000001", t0(), Some("k1")).await, Written::New { .. }));
    // The same key with another body is refused, not replayed; on another
    // route it is another key.
    let keyed = |scope: &str, fingerprint: &str| IdempotencyKey {
        user: b.id,
        key: "k1".into(),
        scope: scope.into(),
        fingerprint: fingerprint.into(),
    };
    let op = |key: IdempotencyKey| CreateTicket {
        ticket: intake("13800000001", "宽带断网"),
        actor: b.clone(),
        initial_state: "accepted".into(),
        now: t0(),
        idempotency: Some(key),
        follow_up: None,
        messages: None,
        render: render_number(),
    };
    assert!(matches!(s.create_ticket(op(keyed("POST /t", "other"))).await, Err(StoreError::IdempotencyMismatch)));
    assert!(matches!(s.create_ticket(op(keyed("POST /u", "other"))).await, Ok(Written::New { .. })));
}

pub async fn lists_show_only_what_the_caller_may_see<S: Store>(s: S) {
    use kefu_domain::access::Relation as R;
    let (a, e, t) = agent_engineer_ticket(&s).await;
    let b = staff(&s, "agent2", Role::Agent).await;
    let other = ticket_of(&create(&s, &b, "13800000009", t0() + Duration::seconds(5), None).await);
    let visible = |who: &Actor, relations: Vec<R>| Visible {
        user: who.id,
        relations,
        team: None,
        leads: Vec::new(),
        transfer_keys: crate::doc::transfer_keys_of(who.id, None, None),
    };
    let ids = |f: TicketFilter| {
        let s = s.clone();
        async move {
            let page = s.list_tickets(TicketFilter { page: 1, per_page: 50, ..f }).await.unwrap();
            page.items.iter().map(|t| t.id).collect::<Vec<_>>()
        }
    };
    let all = vec![R::Assignee, R::FirstOwner, R::Transferred, R::Team, R::LedTeam];
    assert_eq!(ids(TicketFilter { visible: Some(visible(&a, all.clone())), ..Default::default() }).await, vec![t.id]);
    assert_eq!(
        ids(TicketFilter { visible: Some(visible(&b, all.clone())), ..Default::default() }).await,
        vec![other.id]
    );
    assert!(ids(TicketFilter { visible: Some(visible(&e, all.clone())), ..Default::default() }).await.is_empty());
    assert!(ids(TicketFilter { visible: Some(visible(&a, vec![])), ..Default::default() }).await.is_empty());
    assert_eq!(ids(TicketFilter { visible: Some(visible(&e, vec![R::All])), ..Default::default() }).await.len(), 2);
    // A transfer to the engineer and its acceptance: the sender still sees it.
    act(&s, &a, t.id, json!({"action": "dispatch", "assignee": "agent1"}), Some(&a), None).await.unwrap();
    act(&s, &a, t.id, json!({"action": "transfer", "to": "eng1", "reason": "需上门", "mode": "phone"}), Some(&e), None)
        .await
        .unwrap();
    let transferred = vec![R::Transferred];
    assert_eq!(
        ids(TicketFilter { visible: Some(visible(&e, transferred.clone())), ..Default::default() }).await,
        vec![t.id]
    );
    act(&s, &e, t.id, json!({"action": "accept_transfer"}), None, None).await.unwrap();
    assert_eq!(ids(TicketFilter { visible: Some(visible(&a, transferred)), ..Default::default() }).await, vec![t.id]);
    // Combined with the other filters (ANDed).
    let f = TicketFilter { visible: Some(visible(&e, all)), status: Some("accepted".into()), ..Default::default() };
    assert!(ids(f).await.is_empty());
}

/// A page of a list under need to know with several relations is read as
/// the union of each relation's first rows (`filter::page_clauses`): every
/// page, at every depth and with other filters, is the slice of the whole
/// list, newest first, with no ticket twice or missing.
pub async fn pages_under_need_to_know_are_slices_of_the_whole_list<S: Store>(s: S) {
    use kefu_domain::access::Relation as R;
    let a = staff(&s, "agent1", Role::Agent).await;
    let b = staff(&s, "agent2", Role::Agent).await;
    let mut mine = Vec::new();
    for i in 0..12i64 {
        let by = if i % 3 == 0 { &b } else { &a };
        let t = ticket_of(&create(&s, by, &format!("138000001{i:02}"), t0() + Duration::seconds(i), None).await);
        // Agent2's tickets 0 and 6 go to agent1 (seen as assignee); agent1's
        // ticket 1 to itself (seen by both relations, listed once).
        if i == 0 || i == 6 || i == 1 {
            act(&s, by, t.id, json!({"action": "dispatch", "assignee": "agent1"}), Some(&a), None).await.unwrap();
        }
        if by.id == a.id || i == 0 || i == 6 {
            mine.push(t.id);
        }
    }
    mine.reverse();
    let visible = Visible {
        user: a.id,
        relations: vec![R::Assignee, R::FirstOwner, R::Transferred, R::Team, R::LedTeam],
        team: None,
        leads: Vec::new(),
        transfer_keys: crate::doc::transfer_keys_of(a.id, None, None),
    };
    let filter = TicketFilter { visible: Some(visible), ..Default::default() };
    for per_page in [1u32, 3, 5] {
        let mut seen = Vec::new();
        for page in 1..=(mine.len() as u32).div_ceil(per_page) + 1 {
            let p = s.list_tickets(TicketFilter { page, per_page, ..filter.clone() }).await.unwrap();
            assert_eq!(p.total, mine.len() as i64);
            seen.extend(p.items.iter().map(|t| t.id));
        }
        assert_eq!(seen, mine, "{per_page} a page");
    }
    let dispatched = TicketFilter { status: Some("dispatched".into()), page: 2, per_page: 2, ..filter };
    let p = s.list_tickets(dispatched).await.unwrap();
    assert_eq!((p.total, p.items.iter().map(|t| t.id).collect::<Vec<_>>()), (3, vec![mine[mine.len() - 1]]));
}

pub async fn concurrent_intake_never_repeats_a_number<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (s, a) = (s.clone(), a.clone());
        tasks.push(tokio::spawn(async move {
            ticket_of(&create(&s, &a, &format!("138{:08}", i % 7), t0(), None).await).number
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 64);
    assert_eq!(numbers.last().unwrap(), "GD20261122000064");
}

pub async fn actions_chain_their_events<S: Store>(s: S) {
    let (a, e, t) = agent_engineer_ticket(&s).await;
    act(&s, &a, t.id, json!({"action": "dispatch", "assignee": "eng1"}), Some(&e), None).await.unwrap();
    act(&s, &e, t.id, json!({"action": "start"}), None, None).await.unwrap();
    let events = s.events(t.id).await.unwrap();
    assert_eq!(events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["create", "dispatch", "start"]);
    assert_eq!(events[1].after["status"], "dispatched");
    assert_eq!(events[1].before["status"], "accepted");
    assert_eq!(events[2].actor, Some(e.id));
    verify_chain(t.id, &events).unwrap();
    let stored = s.ticket(TicketKey::Number(t.number.clone())).await.unwrap().unwrap();
    assert_eq!(stored.status, "in_progress");
    assert_eq!(stored.assignee, Some(e.id));
    assert_eq!(s.ticket(TicketKey::Id(t.id)).await.unwrap().unwrap(), stored);
}

pub async fn refused_actions_change_nothing<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let t = ticket_of(&create(&s, &a, "13800000001", t0(), None).await);
    let r = act(&s, &a, t.id, json!({"action": "resolve", "result": "x"}), None, Some("k")).await;
    assert!(matches!(r, Err(StoreError::Domain(_))), "{r:?}");
    assert_eq!(s.events(t.id).await.unwrap().len(), 1);
    assert_eq!(s.ticket(TicketKey::Id(t.id)).await.unwrap().unwrap(), t);
    // A refused request does not burn its idempotency key.
    let e = staff(&s, "eng1", Role::Engineer).await;
    let ok = act(&s, &a, t.id, json!({"action": "dispatch", "assignee": "eng1"}), Some(&e), Some("k")).await.unwrap();
    assert!(matches!(ok, Written::New { .. }));
    let missing = act(&s, &a, TicketId(999_999), json!({"action": "start"}), None, None).await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

pub async fn action_idempotency_replays<S: Store>(s: S) {
    let (a, e, t) = agent_engineer_ticket(&s).await;
    let body = json!({"action": "dispatch", "assignee": "eng1"});
    let first = act(&s, &a, t.id, body.clone(), Some(&e), Some("d1")).await.unwrap();
    let again = act(&s, &a, t.id, body, Some(&e), Some("d1")).await.unwrap();
    assert!(matches!(again, Written::Replayed { status: 200, .. }));
    assert_eq!(first.body(), again.body());
    assert_eq!(s.events(t.id).await.unwrap().len(), 2);
}

pub async fn transfers_are_recorded<S: Store>(s: S) {
    let (a, e, t) = agent_engineer_ticket(&s).await;
    act(&s, &a, t.id, json!({"action": "dispatch", "assignee": "agent1"}), Some(&a), None).await.unwrap();
    act(&s, &a, t.id, json!({"action": "transfer", "to": "eng1", "reason": "需上门", "mode": "phone"}), Some(&e), None)
        .await
        .unwrap();
    let open = s.transfers(t.id).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].state.as_str(), open[0].to_user, open[0].from_user), ("pending", Some(e.id), Some(a.id)));
    act(&s, &e, t.id, json!({"action": "accept_transfer"}), None, None).await.unwrap();
    let closed = s.transfers(t.id).await.unwrap();
    assert_eq!(closed[0].state, "accepted");
    assert!(closed[0].decided_at.is_some());
    assert_eq!(closed[0].decided_by, Some(e.id));
    let _ = TransferChange::Close { accepted: true, reason: None, by: e.id };
}

pub async fn comments_are_events_too<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let t = ticket_of(&create(&s, &a, "13800000001", t0(), None).await);
    s.mutate_ticket(MutateTicket {
        ticket: t.id,
        actor: a.clone(),
        now: t0(),
        idempotency: None,
        decide: Box::new(|t| {
            let comment =
                Some(NewComment {
                    body: "已联系客户".into(), internal: true, mentions: Vec::new(), channel: None
                });
            Ok(Mutation { comment, ..Mutation::new(t.clone(), "comment", json!({"internal": true})) })
        }),
        render: render_number(),
        status: 201,
    })
    .await
    .unwrap();
    let c = s.comments(t.id).await.unwrap();
    assert_eq!((c[0].body.as_str(), c[0].internal, c[0].author), ("已联系客户", true, a.id));
    assert_eq!(s.events(t.id).await.unwrap().len(), 2);
}

pub async fn list_filters_and_pages<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let e = staff(&s, "eng1", Role::Engineer).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(ticket_of(&create(&s, &a, &format!("1380000000{i}"), t0() + Duration::seconds(i), None).await).id);
    }
    act(&s, &a, ids[0], json!({"action": "dispatch", "assignee": "eng1"}), Some(&e), None).await.unwrap();
    let list = |f: TicketFilter| {
        let s = s.clone();
        async move { s.list_tickets(TicketFilter { page: 1, per_page: 50, ..f }).await.unwrap() }
    };
    assert_eq!(list(TicketFilter::default()).await.total, 5);
    assert_eq!(list(TicketFilter { status: Some("dispatched".into()), ..Default::default() }).await.total, 1);
    assert_eq!(list(TicketFilter { assignee: Some(e.id), ..Default::default() }).await.items[0].id, ids[0]);
    assert_eq!(list(TicketFilter { first_owner: Some(a.id), ..Default::default() }).await.total, 5);
    assert_eq!(
        list(TicketFilter { customer_phone: Some("13800000003".into()), ..Default::default() }).await.items[0].id,
        ids[3]
    );
    assert_eq!(
        list(TicketFilter { number: Some("GD20261122000002".into()), ..Default::default() }).await.items[0].id,
        ids[1]
    );
    assert_eq!(
        list(TicketFilter { ticket_type: Some(kefu_domain::TicketType::Fault), ..Default::default() }).await.total,
        5
    );
    assert_eq!(
        list(TicketFilter { ticket_type: Some(kefu_domain::TicketType::Complaint), ..Default::default() }).await.total,
        0
    );
    assert_eq!(
        list(TicketFilter {
            channel: Some(kefu_domain::Channel::Phone),
            priority: Some(Priority::Normal),
            ..Default::default()
        })
        .await
        .total,
        5
    );
    let from = list(TicketFilter { created_from: Some(t0() + Duration::seconds(3)), ..Default::default() }).await;
    assert_eq!(from.total, 2);
    let to = list(TicketFilter { created_to: Some(t0() + Duration::seconds(1)), ..Default::default() }).await;
    assert_eq!(to.total, 2);
    assert_eq!(list(TicketFilter { q: Some("LOS灯".into()), ..Default::default() }).await.total, 5);
    assert_eq!(list(TicketFilter { q: Some("不存在的词".into()), ..Default::default() }).await.total, 0);
    // The search box finds customers by name (whole or part) as well.
    assert_eq!(list(TicketFilter { q: Some("李四".into()), ..Default::default() }).await.total, 5);
    assert_eq!(list(TicketFilter { q: Some("王五".into()), ..Default::default() }).await.total, 0);
    // Newest first, paged.
    let p2 = s.list_tickets(TicketFilter { page: 2, per_page: 2, ..Default::default() }).await.unwrap();
    assert_eq!((p2.total, p2.items.len(), p2.items[0].id), (5, 2, ids[2]));
}

pub async fn audit_streams_every_chain<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    for i in 0..3 {
        create(&s, &a, &format!("1380000000{i}"), t0(), None).await;
    }
    let first = s.events_after(None, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let last = first.last().unwrap();
    let rest = s.events_after(Some((last.ticket_id, last.seq)), 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert!(s.tickets_without_events(10).await.unwrap().is_empty());
}

pub async fn a_follow_up_commits_with_the_registration_or_not_at_all<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let e = staff(&s, "eng1", Role::Engineer).await;
    let system = Actor::new(SYSTEM, "system:dispatch", Role::Admin);
    let register = |phone: &str, refuse: bool| {
        let (to, actor) = (e.clone(), system.clone());
        CreateTicket {
            ticket: intake(phone, "宽带断网"),
            actor: a.clone(),
            initial_state: "accepted".into(),
            now: t0(),
            idempotency: None,
            follow_up: Some(FollowUp {
                actor,
                decide: Box::new(move |t| {
                    let next = Ticket { assignee: Some(to.id), status: "dispatched".into(), ..t.clone() };
                    // Refused by the store: the handler is full (capacity 0).
                    let capacity = refuse.then(|| CapacityCheck { user: to.id, username: to.username.clone(), max: 0 });
                    Ok(Mutation { capacity, ..Mutation::new(next, "dispatch", json!({"automatic": true})) })
                }),
            }),
            render: Box::new(|t| json!({"status": t.status})),
            messages: None,
        }
    };
    let w = s.create_ticket(register("13800000001", false)).await.unwrap();
    assert_eq!(w.body()["status"], "dispatched", "the response shows the follow-up");
    let t = ticket_of(&w);
    let events = s.events(t.id).await.unwrap();
    assert_eq!(events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["create", "dispatch"]);
    assert_eq!((events[1].actor, events[1].actor_name.as_str()), (None, "system:dispatch"));
    verify_chain(t.id, &events).unwrap();
    assert_eq!(s.ticket(TicketKey::Id(t.id)).await.unwrap().unwrap().assignee, Some(e.id));
    // Refused: the registration stands alone, nothing of the follow-up remains.
    let w = s.create_ticket(register("13800000002", true)).await.unwrap();
    let t = ticket_of(&w);
    assert_eq!((t.status.as_str(), t.assignee), ("accepted", None));
    assert_eq!(s.events(t.id).await.unwrap().len(), 1);
    assert_eq!(s.staff_loads(vec![e.id]).await.unwrap(), vec![(e.id, 1)], "only the first ticket");
}

/// Keyset pages walk the newest-first order without gaps or repeats, ties
/// on the registration time broken by id.
pub async fn keyset_pages_follow_the_newest_first_order<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let mut want = Vec::new();
    for i in 0..7 {
        // Two at each instant: the id breaks the tie.
        let at = t0() + Duration::minutes(i / 2);
        want.push(ticket_of(&create(&s, &a, &format!("1380000020{i}"), at, None).await).id);
    }
    want.reverse();
    let mut got = Vec::new();
    let mut after = None;
    loop {
        let page = s.list_tickets(TicketFilter { after, page: 1, per_page: 3, ..Default::default() }).await.unwrap();
        assert_eq!(page.total, 7, "the total counts the whole list");
        got.extend(page.items.iter().map(|t| t.id));
        match page.items.last() {
            Some(last) if page.items.len() == 3 => after = Some(Cursor::of(last)),
            _ => break,
        }
    }
    assert_eq!(got, want);
    let c = Cursor::of(&s.ticket(TicketKey::Id(want[2])).await.unwrap().unwrap());
    assert_eq!(Cursor::parse(&c.encode()), Some(c));
    assert_eq!(Cursor::parse("x.1"), None);
}

/// A linked change (a merge) commits with the first or not at all.
pub async fn a_linked_change_commits_with_the_first_or_not_at_all<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let dup = ticket_of(&create(&s, &a, "13800000001", t0(), None).await);
    let open = ticket_of(&create(&s, &a, "13800000001", t0(), None).await);
    let pair = |refuse: bool, key: &str| {
        let now = t0() + Duration::minutes(1);
        let decide: Decide = Box::new(move |t: &Ticket| {
            let ticket = Ticket { status: "withdrawn".into(), open: false, updated_at: now, ..t.clone() };
            Ok(Mutation::new(ticket, "merge", json!({"into": "x"})))
        });
        let linked: DecideLinked = Box::new(move |t: &Ticket, first: &Ticket| {
            assert_eq!(first.status, "withdrawn", "the linked change sees the first as it became");
            if refuse {
                return Err(kefu_domain::DomainError::Archived);
            }
            Ok(Mutation::new(Ticket { updated_at: now, ..t.clone() }, "merged_in", json!({"from": first.number})))
        });
        let op = MutateTicket {
            ticket: dup.id,
            actor: a.clone(),
            now,
            idempotency: Some(IdempotencyKey {
                user: a.id,
                key: key.into(),
                scope: "POST /m".into(),
                fingerprint: "f".into(),
            }),
            decide,
            render: render_number(),
            status: 200,
        };
        s.mutate_pair(op, Linked { ticket: open.id, decide: linked })
    };
    let refused = pair(true, "m1").await;
    assert!(matches!(refused, Err(StoreError::Domain(_))), "{refused:?}");
    assert_eq!((s.events(dup.id).await.unwrap().len(), s.events(open.id).await.unwrap().len()), (1, 1));
    assert_eq!(s.ticket(TicketKey::Id(dup.id)).await.unwrap().unwrap(), dup, "nothing of a refused pair is written");
    assert!(matches!(pair(false, "m1").await.unwrap(), Written::New { .. }), "the refusal did not burn the key");
    let (d, o) = (s.events(dup.id).await.unwrap(), s.events(open.id).await.unwrap());
    assert_eq!((d.last().unwrap().action.as_str(), o.last().unwrap().action.as_str()), ("merge", "merged_in"));
    assert_eq!(o.last().unwrap().data["from"], json!(dup.number));
    assert!(verify_chain(dup.id, &d).is_ok() && verify_chain(open.id, &o).is_ok());
    assert!(matches!(pair(false, "m1").await.unwrap(), Written::Replayed { .. }));
    assert_eq!(s.events(open.id).await.unwrap().len(), 2);
}
