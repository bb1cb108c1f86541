//! Conformance: Background jobs: leases and purges.

use super::*;

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

/// A node shutting down gives its leases up: another node takes the job at
/// once, not after the lease runs out; other holders keep theirs.
pub async fn a_stopping_node_releases_its_leases<S: Store>(s: S) {
    let ttl = Duration::minutes(5);
    assert!(s.try_lease("purge", "node-a", t0(), ttl).await.unwrap());
    assert!(s.try_lease("sla", "node-a", t0(), ttl).await.unwrap());
    assert!(s.try_lease("other", "node-b", t0(), ttl).await.unwrap());
    assert_eq!(s.release_leases("node-a").await.unwrap(), 2);
    assert!(s.try_lease("purge", "node-c", t0() + Duration::seconds(1), ttl).await.unwrap(), "free at once");
    assert!(!s.try_lease("other", "node-c", t0() + Duration::seconds(1), ttl).await.unwrap(), "node-b keeps its own");
    assert_eq!(s.release_leases("node-a").await.unwrap(), 0);
}

/// What readiness and the job-lag metrics read: the schema, whether the
/// keys fit, the earliest alert and message due, the oldest unsent event.
pub async fn health_reports_the_oldest_waiting_work<S: Store>(s: S) {
    let h = s.health().await.unwrap();
    assert!(h.schema_version >= 32, "{}", h.schema_version);
    assert_eq!(h.key_problem, None, "the store's own keys fit");
    assert_eq!((h.oldest_alert_due, h.oldest_message_due), (None, None));
    let a = staff(&s, "agent1", Role::Agent).await;
    let mut ticket = intake("13800000001", "宽带断网");
    ticket.next_alert_at = Some(t0() + Duration::minutes(24));
    s.create_ticket(CreateTicket {
        ticket,
        actor: a.clone(),
        initial_state: "accepted".into(),
        now: t0(),
        idempotency: None,
        follow_up: None,
        messages: None,
        render: render_number(),
    })
    .await
    .unwrap();
    create(&s, &a, "13800000002", t0() + Duration::minutes(1), None).await;
    let h = s.health().await.unwrap();
    assert_eq!(h.oldest_alert_due, Some(t0() + Duration::minutes(24)));
    assert_eq!(h.oldest_event, Some(t0()), "the first registration is not yet handed out");
}
