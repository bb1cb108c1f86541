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
