//! One conformance suite for every store backend. Each backend crate calls
//! `conformance_tests!(fresh_store_expression)` in its tests, which expands
//! to one `#[tokio::test]` per capability below, each on a fresh database.

use crate::*;
use chrono::{DateTime, Duration, Utc};
use kefu_domain::action::{ActionRequest, TransferChange, decide};
use kefu_domain::audit::verify_chain;
use kefu_domain::flow::{Actor, FlowSet};
use kefu_domain::intake::{CustomerInput, IntakeRequest};
use kefu_domain::priority::PriorityPolicy;
use kefu_domain::{Priority, Role, TicketId, TicketType};
use serde_json::{Value, json};

pub fn t0() -> DateTime<Utc> {
    // 23:30 in Shanghai: the next hour crosses the Shanghai date line.
    "2026-11-22T15:30:00Z".parse().unwrap()
}

pub async fn staff<S: Store>(s: &S, username: &str, role: Role) -> Actor {
    let u = s
        .create_user(NewUser {
            username: username.into(),
            display_name: format!("{username} 名"),
            role,
            password_hash: "x".into(),
            now: t0(),
        })
        .await
        .unwrap();
    Actor::new(u.id, u.username, role)
}

pub fn intake(phone: &str, title: &str) -> kefu_domain::ticket::NewTicket {
    IntakeRequest {
        channel: Some("phone".into()),
        ticket_type: Some("fault".into()),
        title: Some(title.into()),
        description: Some("宽带无法上网，光猫LOS灯红色闪烁".into()),
        customer: Some(CustomerInput { name: Some("李四".into()), phone: Some(phone.into()), ..Default::default() }),
        ..Default::default()
    }
    .parse(&PriorityPolicy { default: Priority::Normal, rules: vec![] })
    .unwrap()
}

fn render_number() -> Render {
    Box::new(|t| json!({"number": t.number, "status": t.status}))
}

pub async fn create<S: Store>(s: &S, actor: &Actor, phone: &str, at: DateTime<Utc>, idem: Option<&str>) -> Written {
    s.create_ticket(CreateTicket {
        ticket: intake(phone, "宽带断网"),
        actor: actor.clone(),
        initial_state: "accepted".into(),
        now: at,
        idempotency: idem.map(|k| IdempotencyKey {
            user: actor.id,
            key: k.into(),
            scope: "POST /t".into(),
            fingerprint: "f".into(),
        }),
        follow_up: None,
        messages: None,
        render: render_number(),
    })
    .await
    .unwrap()
}

fn ticket_of(w: &Written) -> Ticket {
    match w {
        Written::New { ticket, .. } => (**ticket).clone(),
        Written::Replayed { .. } => panic!("expected a new ticket"),
    }
}

/// Runs an action through the real flow rules, as the service does.
pub async fn act<S: Store>(
    s: &S,
    actor: &Actor,
    id: TicketId,
    body: Value,
    target: Option<&Actor>,
    idem: Option<&str>,
) -> StoreResult<Written> {
    let req = ActionRequest::parse(body.as_object().unwrap()).unwrap();
    let staff_ref = target.map(|a| {
        kefu_domain::action::Target::Staff(kefu_domain::action::StaffRef {
            id: a.id,
            username: a.username.clone(),
            role: a.role,
            active: true,
            org: a.org.clone(),
        })
    });
    let who = actor.clone();
    let now = t0() + Duration::minutes(5);
    s.mutate_ticket(MutateTicket {
        ticket: id,
        actor: actor.clone(),
        now,
        idempotency: idem.map(|k| IdempotencyKey {
            user: actor.id,
            key: k.into(),
            scope: "POST /t".into(),
            fingerprint: "f".into(),
        }),
        decide: Box::new(move |t| {
            let flows = FlowSet::defaults();
            let d = decide(flows.get(t.ticket_type), t, &who, &req, staff_ref.as_ref(), now)?;
            Ok(Mutation { transfer: d.transfer, ..Mutation::new(d.ticket, d.action.as_str(), d.data) })
        }),
        render: render_number(),
        status: 200,
    })
    .await
}

/// A change decided by `decide`, at t0, as `actor`.
async fn change<S: Store>(s: &S, actor: &Actor, id: TicketId, decide: Decide) -> StoreResult<Written> {
    let op = MutateTicket {
        ticket: id,
        actor: actor.clone(),
        now: t0(),
        idempotency: None,
        decide,
        render: render_number(),
        status: 200,
    };
    s.mutate_ticket(op).await
}

/// An agent, an engineer and one fresh ticket registered by the agent.
async fn agent_engineer_ticket<S: Store>(s: &S) -> (Actor, Actor, Ticket) {
    let a = staff(s, "agent1", Role::Agent).await;
    let e = staff(s, "eng1", Role::Engineer).await;
    let t = ticket_of(&create(s, &a, "13800000001", t0(), None).await);
    (a, e, t)
}

pub async fn usernames_are_unique<S: Store>(s: S) {
    staff(&s, "agent1", Role::Agent).await;
    let again = s
        .create_user(NewUser {
            username: "agent1".into(),
            display_name: "x".into(),
            role: Role::Agent,
            password_hash: "x".into(),
            now: t0(),
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict { constraint }) if constraint == "users_username_key"));
    let u = s.user_by_username("agent1").await.unwrap().unwrap();
    assert_eq!(s.user_by_id(u.id).await.unwrap().unwrap().username, "agent1");
    assert!(s.user_by_username("nobody").await.unwrap().is_none());
    s.set_password(u.id, "new".into()).await.unwrap();
    assert_eq!(s.user_by_id(u.id).await.unwrap().unwrap().password_hash, "new");
    assert_eq!(s.list_users().await.unwrap().len(), 1);
}

pub async fn sessions_round_trip<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let sess =
        Session { token_hash: "abc".into(), user_id: a.id, created_at: t0(), expires_at: t0() + Duration::hours(8) };
    s.create_session(sess.clone()).await.unwrap();
    assert_eq!(s.session("abc").await.unwrap(), Some(sess));
    s.delete_session("abc").await.unwrap();
    assert_eq!(s.session("abc").await.unwrap(), None);
}

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

pub async fn account_changes_end_sessions_and_addresses_are_remembered<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let session = |h: &str| Session {
        token_hash: h.into(),
        user_id: a.id,
        created_at: t0(),
        expires_at: t0() + Duration::hours(8),
    };
    s.create_session(session("s1")).await.unwrap();
    s.set_password(a.id, "new-hash".into()).await.unwrap();
    assert_eq!(s.session("s1").await.unwrap(), None, "a new password ends the session");
    s.create_session(session("s2")).await.unwrap();
    let u = s.set_account(a.id, Some(Role::Engineer), None).await.unwrap();
    assert_eq!((u.role, u.active), (Role::Engineer, true));
    assert_eq!(s.session("s2").await.unwrap(), None, "a new role ends the session");
    s.create_session(session("s3")).await.unwrap();
    assert!(!s.set_account(a.id, None, Some(false)).await.unwrap().active);
    assert_eq!(s.session("s3").await.unwrap(), None, "disabling ends the session");
    assert!(matches!(s.set_account(UserId(999_999), None, Some(true)).await, Err(StoreError::NotFound)));
    assert!(!s.known_login_address(a.id, "10.0.0.1".into()).await.unwrap());
    s.remember_login_address(a.id, "10.0.0.1".into(), t0()).await.unwrap();
    s.remember_login_address(a.id, "10.0.0.1".into(), t0() + Duration::hours(1)).await.unwrap();
    assert!(s.known_login_address(a.id, "10.0.0.1".into()).await.unwrap());
    assert!(!s.known_login_address(a.id, "10.0.0.2".into()).await.unwrap());
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
            let comment = Some(NewComment { body: "已联系客户".into(), internal: true, mentions: Vec::new() });
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

pub async fn a_job_runs_on_one_node_and_moves_when_it_dies<S: Store>(s: S) {
    let ttl = Duration::minutes(5);
    assert!(s.try_lease("purge", "node-a", t0(), ttl).await.unwrap());
    assert!(!s.try_lease("purge", "node-b", t0(), ttl).await.unwrap(), "held by node-a");
    assert!(s.try_lease("other", "node-b", t0(), ttl).await.unwrap(), "leases are per job");
    // node-a renews while alive.
    assert!(s.try_lease("purge", "node-a", t0() + Duration::minutes(4), ttl).await.unwrap());
    assert!(!s.try_lease("purge", "node-b", t0() + Duration::minutes(8), ttl).await.unwrap());
    // node-a stops renewing (it died): once the lease runs out node-b takes over.
    assert!(s.try_lease("purge", "node-b", t0() + Duration::minutes(9), ttl).await.unwrap());
    assert!(!s.try_lease("purge", "node-a", t0() + Duration::minutes(10), ttl).await.unwrap());
}

pub async fn expired_sessions_are_purged<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    for (hash, hours) in [("old", 1), ("live", 10)] {
        let sess = Session {
            token_hash: hash.into(),
            user_id: a.id,
            created_at: t0(),
            expires_at: t0() + Duration::hours(hours),
        };
        s.create_session(sess).await.unwrap();
    }
    assert_eq!(s.purge_expired_sessions(t0() + Duration::hours(2)).await.unwrap(), 1);
    assert!(s.session("old").await.unwrap().is_none());
    assert!(s.session("live").await.unwrap().is_some());
}

pub async fn access_log_appends_and_lists_newest_first<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    for (i, field) in ["customer.phone", "customer.id_number", "customer.address"].iter().enumerate() {
        let e = AccessEntry {
            id: 0,
            at: t0() + Duration::minutes(i as i64),
            actor: Some(a.id),
            actor_name: a.username.clone(),
            action: "reveal".into(),
            subject: "ticket:GD20261122000001".into(),
            field: Some((*field).into()),
            reason: "回拨客户核实故障".into(),
        };
        assert!(s.append_access(e).await.unwrap().id > 0);
    }
    let page = s.access_log(1, 2).await.unwrap();
    assert_eq!((page.total, page.items.len()), (3, 2));
    assert_eq!(page.items[0].field.as_deref(), Some("customer.address"));
    assert_eq!(page.items[0].at, t0() + Duration::minutes(2));
    assert_eq!(s.access_log(2, 2).await.unwrap().items[0].field.as_deref(), Some("customer.phone"));
}

pub async fn wrong_passwords_lock_an_account<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let lock = Duration::minutes(15);
    for _ in 0..4 {
        assert_eq!(s.record_login_failure(a.id, t0(), 5, lock).await.unwrap(), None);
    }
    assert_eq!(s.user_by_id(a.id).await.unwrap().unwrap().failed_logins, 4);
    assert_eq!(s.record_login_failure(a.id, t0(), 5, lock).await.unwrap(), Some(t0() + lock));
    let u = s.user_by_id(a.id).await.unwrap().unwrap();
    assert_eq!((u.failed_logins, u.locked_until), (0, Some(t0() + lock)));
    s.reset_login_failures(a.id).await.unwrap();
    let u = s.user_by_id(a.id).await.unwrap().unwrap();
    assert_eq!((u.failed_logins, u.locked_until), (0, None));
}

pub async fn sensitive_fields_are_encrypted_at_rest<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let mut ticket = intake("13712345678", "宽带断网");
    ticket.customer.id_number = Some(kefu_domain::validate::IdNumber::parse("11010519491231002X", "id").unwrap());
    ticket.customer.address = Some("北京市朝阳区建设路88号".into());
    let op = CreateTicket {
        ticket,
        actor: a.clone(),
        initial_state: "accepted".into(),
        now: t0(),
        idempotency: None,
        follow_up: None,
        messages: None,
        render: render_number(),
    };
    let t = ticket_of(&s.create_ticket(op).await.unwrap());
    // Everything the database holds, table by table: no plaintext.
    let all = serde_json::to_string(&export_all(&s).await).unwrap();
    for secret in ["13712345678", "11010519491231002X", "建设路88号"] {
        assert!(!all.contains(secret), "{secret} is stored in plain text");
    }
    // Yet reads decrypt and lookups by phone work through the blind index.
    let c = s.customer_by_phone("13712345678").await.unwrap().unwrap();
    assert_eq!(c.id_number.unwrap().as_str(), "11010519491231002X");
    assert_eq!(
        s.ticket(TicketKey::Id(t.id)).await.unwrap().unwrap().customer.address.as_deref(),
        Some("北京市朝阳区建设路88号")
    );
    let filter =
        TicketFilter { customer_phone: Some("13712345678".into()), page: 1, per_page: 10, ..Default::default() };
    assert_eq!(s.list_tickets(filter).await.unwrap().total, 1);
}

pub async fn plaintext_customers_are_encrypted_in_batches<S: Store>(s: S) {
    // Rows as an older kefu wrote them: plaintext, no index.
    let table = crate::dump::table("customers").unwrap();
    let rows: Vec<crate::JsonRow> = (1..=5)
        .map(|i| {
            serde_json::from_value(json!({
                "id": i, "name": "旧客户", "phone": format!("1380000000{i}"), "id_number": null,
                "address": "上海市浦东新区某路", "level": null, "created_at": "2026-01-01T00:00:00.000000Z",
                "updated_at": "2026-01-01T00:00:00.000000Z", "phone_idx": null, "id_idx": null,
            }))
            .unwrap()
        })
        .collect();
    s.import_rows(table, rows).await.unwrap();
    assert!(s.customer_by_phone("13800000003").await.unwrap().is_none(), "no index yet");
    assert_eq!(s.reencrypt_customers(2).await.unwrap(), 2);
    assert_eq!(s.reencrypt_customers(100).await.unwrap(), 3);
    assert_eq!(s.reencrypt_customers(100).await.unwrap(), 0, "nothing left");
    let c = s.customer_by_phone("13800000003").await.unwrap().unwrap();
    assert_eq!(c.address.as_deref(), Some("上海市浦东新区某路"));
    let all = serde_json::to_string(&export_all(&s).await).unwrap();
    assert!(!all.contains("13800000003") && !all.contains("浦东新区某路"));
}

pub async fn customers_without_tickets_can_be_deleted<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let t = ticket_of(&create(&s, &a, "13800000001", t0(), None).await);
    assert!(matches!(s.delete_customer(t.customer.id).await, Err(StoreError::Conflict { .. })));
    let table = crate::dump::table("customers").unwrap();
    let row: crate::JsonRow = serde_json::from_value(json!({
        "id": 77, "name": "无工单客户", "phone": "13800000077", "id_number": null, "address": null, "level": null,
        "created_at": "2026-01-01T00:00:00.000000Z", "updated_at": "2026-01-01T00:00:00.000000Z", "phone_idx": null, "id_idx": null,
    }))
    .unwrap();
    s.import_rows(table, vec![row]).await.unwrap();
    s.delete_customer(kefu_domain::CustomerId(77)).await.unwrap();
    assert!(s.customer_by_id(kefu_domain::CustomerId(77)).await.unwrap().is_none());
    assert!(matches!(s.delete_customer(kefu_domain::CustomerId(77)).await, Err(StoreError::NotFound)));
}

pub async fn retention_finds_and_purges_only_what_is_due<S: Store>(s: S) {
    let (a, _e, old) = agent_engineer_ticket(&s).await;
    let young = ticket_of(&create(&s, &a, "13800000002", t0(), None).await);
    let open = ticket_of(&create(&s, &a, "13800000003", t0(), None).await);
    // Archive two tickets at different times (the flow is not the point here).
    for (t, at) in [(&old, t0()), (&young, t0() + Duration::days(400))] {
        s.mutate_ticket(MutateTicket {
            ticket: t.id,
            actor: a.clone(),
            now: at,
            idempotency: None,
            decide: Box::new(move |t| {
                let ticket = Ticket { status: "archived".into(), archived_at: Some(at), ..t.clone() };
                let comment = Some(NewComment { body: "归档".into(), internal: true, mentions: Vec::new() });
                Ok(Mutation { comment, ..Mutation::new(ticket, "archive", json!({})) })
            }),
            render: render_number(),
            status: 200,
        })
        .await
        .unwrap();
    }
    let due = s.retention_due(t0() + Duration::days(365), 10).await.unwrap();
    assert_eq!(due.iter().map(|d| d.ticket).collect::<Vec<_>>(), vec![old.id]);
    assert_eq!((due[0].number.as_str(), due[0].archived_at), (old.number.as_str(), t0()));
    s.purge_ticket(old.id).await.unwrap();
    assert!(s.ticket(TicketKey::Id(old.id)).await.unwrap().is_none());
    assert!(s.events(old.id).await.unwrap().is_empty() && s.comments(old.id).await.unwrap().is_empty());
    for t in [&young, &open] {
        verify_chain(t.id, &s.events(t.id).await.unwrap()).unwrap();
    }
    assert!(s.tickets_without_events(10).await.unwrap().is_empty());
    assert!(matches!(s.purge_ticket(old.id).await, Err(StoreError::NotFound)));
}

/// Every row of every table in the neutral export form.
pub async fn export_all<S: Store>(s: &S) -> Vec<(String, crate::JsonRow)> {
    let mut out = Vec::new();
    for t in crate::dump::TABLES {
        let mut offset = 0;
        loop {
            let rows = s.export_rows(t, offset, 3).await.unwrap();
            if rows.is_empty() {
                break;
            }
            offset += rows.len() as u64;
            out.extend(rows.into_iter().map(|r| (t.name.to_string(), r)));
        }
    }
    out
}

pub async fn export_then_import_is_lossless<S: Store>(a: S, b: S) {
    let (agent, eng, t) = agent_engineer_ticket(&a).await;
    create(&a, &agent, "13800000002", t0(), Some("k")).await;
    act(&a, &agent, t.id, json!({"action": "dispatch", "assignee": "agent1"}), Some(&agent), None).await.unwrap();
    act(
        &a,
        &agent,
        t.id,
        json!({"action": "transfer", "to": "eng1", "reason": "上门", "mode": "phone"}),
        Some(&eng),
        None,
    )
    .await
    .unwrap();
    a.create_session(Session {
        token_hash: "h".into(),
        user_id: agent.id,
        created_at: t0(),
        expires_at: t0() + Duration::hours(1),
    })
    .await
    .unwrap();
    let exported = export_all(&a).await;
    for table in crate::dump::TABLES {
        let rows: Vec<crate::JsonRow> =
            exported.iter().filter(|(n, _)| n == table.name).map(|(_, r)| r.clone()).collect();
        b.import_rows(table, rows).await.unwrap();
    }
    b.finish_import().await.unwrap();
    assert_eq!(export_all(&b).await, exported);
    assert_eq!(b.ticket(TicketKey::Id(t.id)).await.unwrap(), a.ticket(TicketKey::Id(t.id)).await.unwrap());
    verify_chain(t.id, &b.events(t.id).await.unwrap()).unwrap();
    // New rows continue after the imported ids.
    let next = ticket_of(&create(&b, &agent, "13800000003", t0(), None).await);
    assert_eq!(next.id, TicketId(t.id.0 + 2));
    // Numbers continue after every number issued before the move (a
    // backend may skip numbers it had reserved, never reuse one).
    let issued: Vec<String> = export_all(&a)
        .await
        .iter()
        .filter(|(t, _)| t == "tickets")
        .map(|(_, r)| r["number"].as_str().unwrap().to_string())
        .collect();
    assert!(issued.iter().all(|n| next.number > *n), "{} after {issued:?}", next.number);
}

/// Expands to one test per capability for a backend. `$make` is an
/// expression yielding `(fresh empty store, guard)`; the guard cleans the
/// database up when the test ends.
pub async fn organisation_round_trips<S: Store>(s: S) {
    use kefu_domain::org::{Skills, StaffProfile};
    let lead = staff(&s, "lead1", Role::Agent).await;
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
    };
    let u = s.set_profile(lead.id, p.clone()).await.unwrap();
    assert_eq!(u.profile, p);
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

fn sms(kind: &str, to: &str) -> NewMessage {
    NewMessage {
        kind: kind.into(),
        channel: "sms".into(),
        recipient: to.into(),
        subject: format!("{kind} 主题"),
        body: format!("{kind} 正文"),
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

#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            usernames_are_unique, sessions_round_trip, numbers_follow_the_shanghai_day,
            customers_are_found_again_by_phone, idempotency_key_replays_the_first_result,
            concurrent_intake_never_repeats_a_number, actions_chain_their_events,
            refused_actions_change_nothing, action_idempotency_replays, transfers_are_recorded,
            comments_are_events_too, list_filters_and_pages, audit_streams_every_chain,
            a_job_runs_on_one_node_and_moves_when_it_dies, expired_sessions_are_purged,
            access_log_appends_and_lists_newest_first, wrong_passwords_lock_an_account,
            sensitive_fields_are_encrypted_at_rest, plaintext_customers_are_encrypted_in_batches,
            customers_without_tickets_can_be_deleted, retention_finds_and_purges_only_what_is_due,
            organisation_round_trips, loads_count_open_tickets_and_capacity_is_rechecked,
            notices_are_written_with_their_change, a_follow_up_commits_with_the_registration_or_not_at_all,
            outbox_messages_are_claimed_once_and_tracked, visits_follow_the_ticket_and_are_counted,
            keyset_pages_follow_the_newest_first_order,
            account_changes_end_sessions_and_addresses_are_remembered, lists_show_only_what_the_caller_may_see);
    };
    (@each $make:expr; $($name:ident),+) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn export_then_import_is_lossless() {
            let (a, _guard_a) = $make;
            let (b, _guard_b) = $make;
            $crate::conformance::export_then_import_is_lossless(a, b).await;
        }
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $make;
                $crate::conformance::$name(store).await;
            }
        )+
    };
}
