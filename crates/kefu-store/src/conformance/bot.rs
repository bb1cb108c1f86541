//! Conformance: the first line's conversations and the editors' queue.

use super::*;
use kefu_domain::Channel;
use kefu_domain::bot::{Contact, Session, Speaker, Turn};

fn turn(by: Speaker, text: &str, at: DateTime<Utc>) -> Turn {
    Turn { by, text: text.into(), at, articles: Vec::new(), outcome: None }
}

pub async fn conversations_save_only_over_what_was_read<S: Store>(s: S) {
    let contact = Contact { name: Some("张三".into()), phone: Some("13812345678".into()), level: None };
    let mut a = Session::new("bs-1".into(), Channel::Web, contact, t0());
    s.create_bot_session(a.clone()).await.unwrap();
    let dup = s.create_bot_session(a.clone()).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict { ref constraint } if constraint == "bot_sessions_pkey"), "{dup:?}");
    assert_eq!(s.bot_session("bs-1".into()).await.unwrap(), Some(a.clone()));
    assert_eq!(s.bot_session("bs-404".into()).await.unwrap(), None);
    // Two answers read the same version: the first saves, the second is told.
    let mut b = a.clone();
    a.turns.push(turn(Speaker::Customer, "宽带上不了网", t0()));
    a.updated_at = t0() + Duration::minutes(1);
    b.turns.push(turn(Speaker::Customer, "另一条", t0()));
    assert!(s.save_bot_session(a.clone(), 0).await.unwrap());
    assert!(!s.save_bot_session(b, 0).await.unwrap());
    assert_eq!(s.bot_session("bs-1".into()).await.unwrap(), Some(a.clone()));
    // What customers typed is not readable in the database.
    let dump = s.export_rows(crate::dump::table("bot_sessions").unwrap(), 0, 10).await.unwrap();
    let text = serde_json::to_string(&dump).unwrap();
    assert!(!text.contains("13812345678") && !text.contains("宽带上不了网"), "{text}");
    // Old conversations are deleted.
    let fresh = Session::new("bs-2".into(), Channel::App, Contact::default(), t0() + Duration::days(10));
    s.create_bot_session(fresh).await.unwrap();
    assert_eq!(s.purge_bot_sessions(t0() + Duration::days(1)).await.unwrap(), 1);
    assert_eq!(s.bot_session("bs-1".into()).await.unwrap(), None);
    assert!(s.bot_session("bs-2".into()).await.unwrap().is_some());
}

pub async fn misses_queue_until_an_editor_resolves_them<S: Store>(s: S) {
    let miss = |kind: &str, text: &str, minutes: i64| NewMiss {
        kind: kind.into(),
        text: text.into(),
        code: (kind == "not_helpful").then(|| "KB-001".to_string()),
        keywords: vec!["光猫".into(), "宽带".into()],
        session_id: Some("bs-1".into()),
        at: t0() + Duration::minutes(minutes),
    };
    let first = s.add_miss(miss("no_match", "光猫冒烟了", 0)).await.unwrap();
    let second = s.add_miss(miss("not_helpful", "没说清楚怎么重启", 1)).await.unwrap();
    let third = s.add_miss(miss("unsure", "猫坏了", 2)).await.unwrap();
    let open = s.open_misses(10).await.unwrap();
    assert_eq!(open.iter().map(|m| m.id).collect::<Vec<_>>(), [third, second, first]);
    assert_eq!(open[2].miss, miss("no_match", "光猫冒烟了", 0));
    assert_eq!(s.open_misses(1).await.unwrap().len(), 1);
    let by_id = s.open_misses_by_id(vec![first, third, 999]).await.unwrap();
    assert_eq!(by_id.iter().map(|m| m.id).collect::<Vec<_>>(), [third, first]);
    assert_eq!(by_id[1].miss, miss("no_match", "光猫冒烟了", 0));
    let text =
        serde_json::to_string(&s.export_rows(crate::dump::table("kb_misses").unwrap(), 0, 10).await.unwrap()).unwrap();
    assert!(!text.contains("光猫冒烟了"), "the question is encrypted: {text}");
    let n = s.resolve_misses(vec![first, third, 999], "editor1".into(), "similar:KB-002".into(), t0()).await.unwrap();
    assert_eq!(n, 2);
    // Resolving again changes nothing.
    assert_eq!(s.resolve_misses(vec![first], "editor2".into(), "dismissed".into(), t0()).await.unwrap(), 0);
    assert_eq!(s.open_misses(10).await.unwrap().iter().map(|m| m.id).collect::<Vec<_>>(), [second]);
    assert!(s.open_misses_by_id(vec![first, third]).await.unwrap().is_empty(), "resolved ones are not open");
}
