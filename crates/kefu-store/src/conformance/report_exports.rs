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

pub async fn a_scheduled_report_runs_once_with_its_emails<S: Store>(s: S) {
    let new = |owner, next| Schedule {
        id: 0,
        owner: UserId(owner),
        name: "班组日报".into(),
        frequency: "daily".into(),
        scope: r#"{"team":"1"}"#.into(),
        recipients: vec![UserId(1), UserId(2)],
        next_run_at: next,
        last_run_at: None,
        created_at: t0(),
    };
    let a = s.create_schedule(new(1, t0())).await.unwrap();
    let b = s.create_schedule(new(2, t0() + Duration::days(1))).await.unwrap();
    assert_eq!((a.recipients.clone(), a.last_run_at), (vec![UserId(1), UserId(2)], None));
    assert_eq!(s.schedules(Some(UserId(2))).await.unwrap(), vec![b.clone()]);
    assert_eq!(s.schedules(None).await.unwrap().len(), 2);
    assert_eq!(s.due_schedules(t0()).await.unwrap(), vec![a.clone()]);
    let mail = NewMessage {
        kind: "scheduled_report".into(),
        channel: "email".into(),
        recipient: "wang@kefu.example".into(),
        subject: "班组日报".into(),
        body: "首问解决率 81.0%".into(),
        in_reply_to: None,
    };
    let next = t0() + Duration::days(1);
    assert!(s.complete_run(a.id, t0(), next, vec![mail.clone()], t0()).await.unwrap());
    // Another node with the same due time: nothing more goes out.
    assert!(!s.complete_run(a.id, t0(), next, vec![mail], t0()).await.unwrap());
    assert!(s.due_schedules(t0()).await.unwrap().is_empty());
    let claimed = s.claim_messages("n1", t0(), Duration::minutes(1), 10).await.unwrap();
    let ours: Vec<_> = claimed.iter().filter(|m| m.kind == "scheduled_report").collect();
    assert_eq!(ours.len(), 1);
    assert_eq!((ours[0].ticket_id, ours[0].recipient.as_str()), (None, "wang@kefu.example"));
    assert!(!s.delete_schedule(a.id, UserId(2)).await.unwrap(), "only its owner's");
    assert!(s.delete_schedule(a.id, UserId(1)).await.unwrap());
    assert_eq!(s.schedules(None).await.unwrap(), vec![b]);
}
