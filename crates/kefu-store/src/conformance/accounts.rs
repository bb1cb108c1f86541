//! Conformance: Staff accounts, sessions and login protection.

use super::*;

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
