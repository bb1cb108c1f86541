//! Conformance: canned replies and macros.

use super::*;
use kefu_domain::macros::MacroSpec;

fn spec(name: &str, shared: bool, body: &str) -> MacroSpec {
    MacroSpec { name: name.into(), shared, body: Some(body.into()), internal: false, priority: Some(Priority::Urgent) }
}

pub async fn macros_are_shared_or_their_owners<S: Store>(s: S) {
    let (a, b) = (staff(&s, "agent1", Role::Agent).await, staff(&s, "agent2", Role::Agent).await);
    let shared = s.create_macro(a.id, spec("致歉", true, "您好，电话13812345678"), t0()).await.unwrap();
    let mine = s.create_macro(a.id, spec("我的", false, "稍后回电"), t0()).await.unwrap();
    assert_eq!((shared.owner, shared.shared, shared.priority), (a.id, true, Some(Priority::Urgent)));
    // Free text is sealed at rest like every other, and opened on read.
    assert_eq!(shared.body.as_deref(), Some("您好，电话13812345678"));
    let dup = s.create_macro(a.id, spec("我的", true, "x"), t0()).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict { ref constraint } if constraint == "macros_owner_name_key"), "{dup:?}");
    // Another owner may use the same name.
    s.create_macro(b.id, spec("我的", false, "他的"), t0()).await.unwrap();
    let names = |v: Vec<kefu_domain::macros::Macro>| v.into_iter().map(|m| m.name).collect::<Vec<_>>();
    assert_eq!(names(s.macros_for(a.id).await.unwrap()), ["我的", "致歉"]);
    assert_eq!(s.macros_for(b.id).await.unwrap().iter().filter(|m| m.name == "我的").count(), 1);
    let later = t0() + Duration::minutes(5);
    let changed = s
        .update_macro(mine.id, MacroSpec { body: None, internal: true, ..spec("我的备注", false, "") }, later)
        .await
        .unwrap();
    assert_eq!(
        (changed.name.as_str(), changed.body.clone(), changed.internal, changed.updated_at),
        ("我的备注", None, true, later)
    );
    assert_eq!(s.macro_by_id(mine.id).await.unwrap(), Some(changed));
    s.delete_macro(mine.id).await.unwrap();
    assert_eq!(s.macro_by_id(mine.id).await.unwrap(), None);
    assert!(matches!(s.delete_macro(mine.id).await, Err(StoreError::NotFound)));
    assert!(matches!(s.update_macro(mine.id, spec("x", false, "y"), later).await, Err(StoreError::NotFound)));
}
