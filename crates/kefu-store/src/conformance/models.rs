//! Conformance: trained models shared by the nodes.

use super::*;

pub async fn a_published_model_replaces_the_last_with_a_new_revision<S: Store>(s: S) {
    assert_eq!(s.model_rev("suggest".into()).await.unwrap(), None);
    assert_eq!(s.model("suggest".into()).await.unwrap(), None);
    assert_eq!(s.put_model("suggest".into(), "{\"a\":1}".into(), 10, t0()).await.unwrap(), 1);
    let later = t0() + Duration::minutes(5);
    assert_eq!(s.put_model("suggest".into(), "{\"a\":2}".into(), 250, later).await.unwrap(), 2);
    assert_eq!(s.put_model("other".into(), "{}".into(), 0, t0()).await.unwrap(), 1);
    assert_eq!(s.model_rev("suggest".into()).await.unwrap(), Some((2, 250)));
    let m = s.model("suggest".into()).await.unwrap().unwrap();
    assert_eq!((m.rev, m.doc.as_str(), m.store_count, m.trained_at), (2, "{\"a\":2}", 250, later));
}
