//! Conformance: The organisation, staff loads and notices.

use super::*;

pub async fn organisation_round_trips<S: Store>(s: S) {
    use kefu_domain::org::{Skills, StaffProfile};
    let lead = staff(&s, "lead1", Role::Agent).await;
    let fresh_admin = staff(&s, "admin9", Role::Admin).await;
    let d = s.create_department("service".into(), "客服部".into(), t0()).await.unwrap();
    let again = s.create_department("service".into(), "重复".into(), t0()).await.unwrap_err();
    assert!(
        matches!(again, StoreError::Conflict { ref constraint } if constraint == "departments_code_key"),
        "{again:?}"
    );
    let team = s
        .create_team(
            NewTeam { department: d.id, code: "hotline".into(), name: "热线一组".into(), lead: Some(lead.id) },
            t0(),
        )
        .await
        .unwrap();
    assert_eq!((team.department, team.lead), (d.id, Some(lead.id)));
    let dup = NewTeam { department: d.id, code: "hotline".into(), name: "x".into(), lead: None };
    assert!(matches!(s.create_team(dup, t0()).await, Err(StoreError::Conflict { .. })));
    let renamed = s.update_team(team.id, Some("热线二组".into()), Some(None)).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.lead), ("热线二组", None));
    assert!(matches!(s.update_team(kefu_domain::TeamId(999), None, None).await, Err(StoreError::NotFound)));
    assert_eq!(s.teams().await.unwrap(), vec![renamed]);
    assert_eq!(s.departments().await.unwrap(), vec![d]);
    let p = StaffProfile {
        team: Some(team.id),
        tier: Some(2),
        skills: Skills {
            types: vec![TicketType::Fault],
            business_lines: vec!["宽带".into()],
            regions: vec!["朝阳区".into()],
        },
        capacity: Some(7),
        on_duty: false,
        email: Some("wang.lead@kefu.example".into()),
    };
    let u = s.set_profile(lead.id, p.clone(), Some(fresh_admin.id), t0()).await.unwrap();
    assert_eq!(u.profile, p);
    // Only a change of team, tier or skills is history: duty is not.
    let later = t0() + chrono::Duration::hours(1);
    let off = StaffProfile { on_duty: true, ..p.clone() };
    s.set_profile(lead.id, off.clone(), Some(lead.id), later).await.unwrap();
    let l3 = StaffProfile { tier: Some(3), ..off };
    s.set_profile(lead.id, l3.clone(), None, later).await.unwrap();
    let h = s.staff_history(lead.id).await.unwrap();
    assert_eq!(h.len(), 2, "{h:?}");
    assert_eq!(
        (h[0].at, h[0].by, &h[0].before, &h[0].after),
        (t0(), Some(fresh_admin.id), &StaffProfile::default().placement(), &p.placement())
    );
    assert_eq!((h[1].at, h[1].by, h[1].before.tier, h[1].after.tier), (later, None, Some(2), Some(3)));
    assert!(matches!(
        s.set_profile(kefu_domain::UserId(999), l3.clone(), None, later).await,
        Err(StoreError::NotFound)
    ));
    let p = l3;
    assert_eq!(s.user_by_id(lead.id).await.unwrap().unwrap().profile, p);
    assert_eq!(s.list_users().await.unwrap()[0].profile, p);
    let fresh = staff(&s, "new1", Role::Engineer).await;
    assert_eq!(s.user_by_id(fresh.id).await.unwrap().unwrap().profile, StaffProfile::default());
}

/// Assigns a ticket as a decision would, optionally with a capacity check.
async fn assign<S: Store>(
    s: &S,
    by: &Actor,
    t: TicketId,
    to: &Actor,
    open: bool,
    cap: Option<u32>,
) -> StoreResult<Written> {
    let to = to.clone();
    s.mutate_ticket(MutateTicket {
        ticket: t,
        actor: by.clone(),
        now: t0(),
        idempotency: None,
        decide: Box::new(move |t| {
            let next = Ticket { assignee: Some(to.id), open, ..t.clone() };
            let capacity = cap.map(|max| CapacityCheck { user: to.id, username: to.username.clone(), max });
            Ok(Mutation { capacity, ..Mutation::new(next, "dispatch", json!({})) })
        }),
        render: render_number(),
        status: 200,
    })
    .await
}

pub async fn loads_count_open_tickets_and_capacity_is_rechecked<S: Store>(s: S) {
    let (a, e, t1) = agent_engineer_ticket(&s).await;
    let t2 = ticket_of(&create(&s, &a, "13800000002", t0(), None).await);
    let t3 = ticket_of(&create(&s, &a, "13800000003", t0(), None).await);
    assert_eq!(s.staff_loads(vec![a.id, e.id]).await.unwrap(), vec![]);
    assign(&s, &a, t1.id, &e, true, Some(2)).await.unwrap();
    assign(&s, &a, t2.id, &e, true, Some(2)).await.unwrap();
    assert_eq!(s.staff_loads(vec![a.id, e.id]).await.unwrap(), vec![(e.id, 2)]);
    // A third would exceed 2: refused, and nothing of it is written.
    let full = assign(&s, &a, t3.id, &e, true, Some(2)).await.unwrap_err();
    assert!(matches!(full, StoreError::Domain(kefu_domain::DomainError::CapacityFull { .. })), "{full:?}");
    let t3_now = s.ticket(TicketKey::Id(t3.id)).await.unwrap().unwrap();
    assert_eq!(t3_now.assignee, None);
    assert_eq!(s.events(t3.id).await.unwrap().len(), 1);
    // A ticket that no longer weighs (resolved) frees the place.
    assign(&s, &a, t1.id, &e, false, None).await.unwrap();
    assert_eq!(s.staff_loads(vec![e.id]).await.unwrap(), vec![(e.id, 1)]);
    assign(&s, &a, t3.id, &e, true, Some(2)).await.unwrap();
    let u = s.user_by_id(e.id).await.unwrap().unwrap();
    assert_eq!(u.last_assigned_at, Some(t0()), "fair tie-breaking reads this");
    // The queue filters read the same columns.
    let mine = TicketFilter { assignee: Some(e.id), open: Some(true), page: 1, per_page: 10, ..Default::default() };
    assert_eq!(s.list_tickets(mine).await.unwrap().total, 2);
    let unassigned = TicketFilter { unassigned: true, page: 1, per_page: 10, ..Default::default() };
    assert_eq!(s.list_tickets(unassigned).await.unwrap().total, 0);
}

pub async fn notices_are_written_with_their_change<S: Store>(s: S) {
    let (a, e, t) = agent_engineer_ticket(&s).await;
    let notice = |u: &Actor, kind: &str| NewNotice {
        user: u.id,
        kind: kind.into(),
        message: "m".into(),
        message_zh: "通知".into(),
    };
    let notices = vec![notice(&e, "dispatch"), notice(&a, "transfer")];
    change(
        &s,
        &a,
        t.id,
        Box::new(move |t| Ok(Mutation { notices, ..Mutation::new(t.clone(), "dispatch", json!({})) })),
    )
    .await
    .unwrap();
    // A refused change writes none.
    assert!(change(&s, &a, t.id, Box::new(|_| Err(kefu_domain::DomainError::Archived))).await.is_err());
    let mine = s.notices(e.id, false, 1, 10).await.unwrap();
    assert_eq!(mine.total, 1);
    let n = &mine.items[0];
    assert_eq!(
        (n.kind.as_str(), n.ticket_id, n.ticket_number.as_deref()),
        ("dispatch", Some(t.id), Some(t.number.as_str()))
    );
    assert_eq!(s.read_notices(e.id, Some(n.id), t0()).await.unwrap(), 1);
    assert_eq!(s.read_notices(a.id, Some(n.id), t0()).await.unwrap(), 0, "only one's own");
    assert_eq!(s.notices(e.id, true, 1, 10).await.unwrap().total, 0);
    assert_eq!(s.read_notices(a.id, None, t0()).await.unwrap(), 1);
    // Purging the ticket removes its notices.
    s.purge_ticket(t.id).await.unwrap();
    assert_eq!(s.notices(a.id, false, 1, 10).await.unwrap().total, 0);
}
