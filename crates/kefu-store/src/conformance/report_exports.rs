//! Conformance: report exports.

use super::*;
use kefu_domain::UserId;

pub async fn exports_are_claimed_once_built_in_parts_and_taken_over_when_abandoned<S: Store>(s: S) {
    let new = |owner| NewExport {
        owner: UserId(owner),
        kind: "tickets".into(),
        format: "csv".into(),
        request: "{}".into(),
        now: t0(),
    };
    let a = s.create_export(new(1)).await.unwrap();
    let b = s.create_export(new(2)).await.unwrap();
    assert_eq!((a.state.as_str(), a.parts, a.done_rows), ("queued", 0, 0));
    let lease = Duration::minutes(1);
    // Oldest first; one claim each.
    let got = s.claim_export("n1".into(), t0(), lease).await.unwrap().unwrap();
    assert_eq!((got.id, got.state.as_str()), (a.id, "running"));
    let got2 = s.claim_export("n2".into(), t0(), lease).await.unwrap().unwrap();
    assert_eq!(got2.id, b.id);
    assert!(s.claim_export("n3".into(), t0(), lease).await.unwrap().is_none());
    let step = |node: &str, done, part: &[u8], at| ExportStep {
        id: a.id,
        node: node.into(),
        done_rows: done,
        total_rows: Some(3),
        part: part.to_vec(),
        now: at,
        lease,
    };
    assert!(s.export_step(step("n1", 2, b"a,b\n", t0())).await.unwrap());
    // Not the claim's holder: refused, nothing written.
    assert!(!s.export_step(step("n2", 3, b"x\n", t0())).await.unwrap());
    let rec = s.export_record(a.id).await.unwrap().unwrap();
    assert_eq!((rec.done_rows, rec.total_rows, rec.parts, rec.bytes), (2, Some(3), 1, 4));
    // n1 goes quiet: after its claim ends another node begins again from nothing.
    let later = t0() + Duration::minutes(2);
    let again = s.claim_export("n3".into(), later, lease).await.unwrap().unwrap();
    assert_eq!((again.id, again.parts, again.done_rows), (a.id, 0, 0));
    assert!(s.export_part(a.id, 0).await.unwrap().is_none());
    assert!(!s.export_step(step("n1", 3, b"late\n", later)).await.unwrap());
    assert!(s.export_step(step("n3", 2, "编号,标题\n".as_bytes(), later)).await.unwrap());
    assert!(s.export_step(step("n3", 3, b"", later)).await.unwrap());
    assert!(s.export_step(step("n3", 3, b"1,x\n", later)).await.unwrap());
    assert!(s.finish_export(a.id, "n3".into(), None, later).await.unwrap());
    assert!(!s.finish_export(a.id, "n3".into(), None, later).await.unwrap());
    let done = s.export_record(a.id).await.unwrap().unwrap();
    assert_eq!((done.state.as_str(), done.parts, done.finished_at), ("done", 2, Some(later)));
    let body: Vec<u8> =
        [s.export_part(a.id, 0).await.unwrap().unwrap(), s.export_part(a.id, 1).await.unwrap().unwrap()].concat();
    assert_eq!(String::from_utf8(body).unwrap(), "编号,标题\n1,x\n");
    assert!(s.finish_export(b.id, "n2".into(), Some("owner gone".into()), later).await.unwrap());
    let failed = s.export_record(b.id).await.unwrap().unwrap();
    assert_eq!((failed.state.as_str(), failed.error.as_deref()), ("failed", Some("owner gone")));
    // Newest first; one owner's or everyone's.
    let mine: Vec<i64> = s.list_exports(Some(UserId(1)), 10).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(mine, vec![a.id]);
    let all: Vec<i64> = s.list_exports(None, 10).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(all, vec![b.id, a.id]);
}
