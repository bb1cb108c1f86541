//! Conformance: scorecard versions, stores, evaluations, gradings,
//! innovation entries.

use super::*;
use chrono::NaiveDate;
use kefu_domain::{TicketId, UserId};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

pub fn evaluation(kind: EvaluationKind, subject: &str, agent: Option<UserId>, month: &str, score: f64) -> Evaluation {
    let from = day(&format!("{month}-01"));
    let to = from.checked_add_months(chrono::Months::new(1)).unwrap().pred_opt().unwrap();
    Evaluation {
        id: 0,
        kind,
        subject: subject.into(),
        ticket: None,
        agent,
        scorecard: "store_inspection".into(),
        version: 1,
        period: month.into(),
        day_from: from,
        day_to: to,
        score,
        body: r#"{"items":[]}"#.into(),
        reviewer: UserId(1),
        request: None,
        created_at: t0(),
    }
}

/// A few rows in every quality table (for the export test too).
pub async fn quality_rows<S: Store>(s: &S) -> Evaluation {
    s.add_scorecard_version("store_inspection".into(), "store".into(), r#"{"v":1}"#.into(), None, t0()).await.unwrap();
    s.create_outlet(Outlet {
        code: "GZ001".into(),
        name: "天河营业厅".into(),
        region: "广州".into(),
        manager: Some("王经理".into()),
        created_at: t0(),
    })
    .await
    .unwrap();
    let e = s.add_evaluation(evaluation(EvaluationKind::Inspection, "GZ001", None, "2026-11", 92.5)).await.unwrap();
    s.save_grading(Grading {
        period: "2026-11".into(),
        body: r#"{"stores":[]}"#.into(),
        graded_by: UserId(1),
        graded_at: t0(),
    })
    .await
    .unwrap();
    s.add_innovation(Innovation {
        id: 0,
        agent: UserId(2),
        day: day("2026-11-20"),
        title: "宽带故障自助排查指引".into(),
        points: 30.0,
        recorded_by: UserId(1),
        created_at: t0(),
    })
    .await
    .unwrap();
    s.add_violation(violation(UserId(2)), event("record", "open")).await.unwrap();
    s.add_training(training(UserId(2), "2026-11-10")).await.unwrap();
    e
}

pub fn training(user: UserId, on: &str) -> Training {
    Training {
        id: 0,
        user,
        course: "宽带故障处理进阶".into(),
        day: day(on),
        hours: 6.5,
        result: "合格".into(),
        certificate: Some("CERT-2026-118".into()),
        recorded_by: UserId(1),
        created_at: t0(),
    }
}

pub fn violation(agent: UserId) -> Violation {
    Violation {
        id: 0,
        agent,
        kind: "wrong_wording".into(),
        points: 2.0,
        ticket: Some(TicketId(1)),
        evaluation: None,
        description: "使用服务禁语“这不归我管”".into(),
        state: "open".into(),
        appeal_until: t0() + Duration::days(3),
        due_at: t0() + Duration::days(7),
        appealed_at: None,
        recorded_by: UserId(1),
        created_at: t0(),
        updated_at: t0(),
        version: 1,
    }
}

pub fn event(action: &str, state: &str) -> ViolationEvent {
    ViolationEvent {
        id: 0,
        violation: 0,
        action: action.into(),
        actor: UserId(1),
        note: "说明".into(),
        state: state.into(),
        at: t0(),
    }
}

pub async fn violations_step_over_the_version_read<S: Store>(s: S) {
    let v = s.add_violation(violation(UserId(3)), event("record", "open")).await.unwrap();
    assert_eq!(s.violation(v.id).await.unwrap(), Some(v.clone()));
    let later = t0() + Duration::hours(2);
    let appealed = Violation { state: "appealed".into(), appealed_at: Some(later), updated_at: later, ..v.clone() };
    assert!(s.step_violation(appealed.clone(), event("appeal", "appealed")).await.unwrap());
    // A second step over the same read version changes nothing.
    assert!(
        !s.step_violation(Violation { state: "rectified".into(), ..v.clone() }, event("rectify", "rectified"))
            .await
            .unwrap()
    );
    let now = s.violation(v.id).await.unwrap().unwrap();
    assert_eq!((now.state.as_str(), now.version, now.appealed_at), ("appealed", 2, Some(later)));
    let events = s.violation_events(v.id).await.unwrap();
    assert_eq!(events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["record", "appeal"]);
    assert_eq!(events[1].violation, v.id);
    // Filters: agent, state, when recorded; newest first.
    let w = s
        .add_violation(
            Violation { created_at: t0() + Duration::days(40), ..violation(UserId(3)) },
            event("record", "open"),
        )
        .await
        .unwrap();
    s.add_violation(violation(UserId(4)), event("record", "open")).await.unwrap();
    let ids = |l: Vec<Violation>| l.into_iter().map(|v| v.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.violations(ViolationFilter { agent: Some(UserId(3)), ..Default::default() }).await.unwrap()),
        [w.id, v.id]
    );
    let open = ViolationFilter { state: Some("open".into()), agent: Some(UserId(3)), ..Default::default() };
    assert_eq!(ids(s.violations(open).await.unwrap()), [w.id]);
    let month =
        ViolationFilter { created: Some((t0() - Duration::days(1), t0() + Duration::days(30))), ..Default::default() };
    assert_eq!(s.violations(month).await.unwrap().len(), 2);
    assert_eq!(s.violation(9999).await.unwrap(), None);
    // Training records, newest first.
    let older = s.add_training(training(UserId(3), "2026-10-01")).await.unwrap();
    let newer = s.add_training(Training { certificate: None, ..training(UserId(3), "2026-11-20") }).await.unwrap();
    assert_eq!(s.trainings(UserId(3)).await.unwrap(), vec![newer, older]);
    assert!(s.trainings(UserId(9)).await.unwrap().is_empty());
}

pub async fn quality_records_keep_versions_and_filter_by_period<S: Store>(s: S) {
    assert!(s.scorecards().await.unwrap().is_empty());
    let first = quality_rows(&s).await;
    // Versions are added, never changed; the latest is listed.
    let v2 = s
        .add_scorecard_version("store_inspection".into(), "store".into(), r#"{"v":2}"#.into(), Some(UserId(7)), t0())
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let other =
        s.add_scorecard_version("ticket_review".into(), "review".into(), "{}".into(), None, t0()).await.unwrap();
    assert_eq!(other.version, 1);
    let latest = s.scorecards().await.unwrap();
    assert_eq!(
        latest.iter().map(|c| (c.key.as_str(), c.version)).collect::<Vec<_>>(),
        [("store_inspection", 2), ("ticket_review", 1)]
    );
    assert_eq!(latest[0].created_by, Some(UserId(7)));
    assert_eq!(s.scorecard("store_inspection".into(), Some(1)).await.unwrap().unwrap().body, r#"{"v":1}"#);
    assert_eq!(s.scorecard("store_inspection".into(), None).await.unwrap().unwrap().version, 2);
    assert_eq!(s.scorecard("store_inspection".into(), Some(3)).await.unwrap(), None);
    assert_eq!(s.scorecard("nope".into(), None).await.unwrap(), None);

    // Stores: a code once.
    let dup = s
        .create_outlet(Outlet {
            code: "GZ001".into(),
            name: "x".into(),
            region: "y".into(),
            manager: None,
            created_at: t0(),
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    s.create_outlet(Outlet {
        code: "BJ001".into(),
        name: "西单营业厅".into(),
        region: "北京".into(),
        manager: None,
        created_at: t0(),
    })
    .await
    .unwrap();
    let codes: Vec<String> = s.outlets().await.unwrap().into_iter().map(|o| o.code).collect();
    assert_eq!(codes, ["BJ001", "GZ001"], "by region, then code");
    assert_eq!(s.outlet("GZ001".into()).await.unwrap().unwrap().manager.as_deref(), Some("王经理"));
    assert_eq!(s.outlet("XX".into()).await.unwrap(), None);

    // Evaluations by kind, period, subject, agent.
    assert_eq!(s.evaluation(first.id).await.unwrap().unwrap(), first);
    let dec = s.add_evaluation(evaluation(EvaluationKind::Inspection, "GZ001", None, "2026-12", 80.0)).await.unwrap();
    let review = s
        .add_evaluation(Evaluation {
            ticket: Some(TicketId(5)),
            ..evaluation(EvaluationKind::Review, "20261120000005", Some(UserId(3)), "2026-11", 88.0)
        })
        .await
        .unwrap();
    s.add_evaluation(evaluation(EvaluationKind::Calibration, "20261120000005", Some(UserId(3)), "2026-11", 70.0))
        .await
        .unwrap();
    let ids = |v: Vec<Evaluation>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let nov = (day("2026-11-01"), day("2026-11-30"));
    let q4 = (day("2026-10-01"), day("2026-12-31"));
    let f = |kind, within| EvaluationFilter { kind: Some(kind), within: Some(within), ..Default::default() };
    assert_eq!(ids(s.evaluations(f(EvaluationKind::Inspection, nov)).await.unwrap()), [first.id]);
    assert_eq!(ids(s.evaluations(f(EvaluationKind::Inspection, q4)).await.unwrap()), [first.id, dec.id]);
    assert_eq!(ids(s.evaluations(f(EvaluationKind::Review, nov)).await.unwrap()), [review.id]);
    let by_agent = EvaluationFilter { agent: Some(UserId(3)), ..Default::default() };
    assert_eq!(s.evaluations(by_agent).await.unwrap().len(), 2);
    let by_ticket = EvaluationFilter { ticket: Some(TicketId(5)), ..Default::default() };
    assert_eq!(ids(s.evaluations(by_ticket).await.unwrap()), [review.id]);
    let later = Evaluation {
        created_at: t0() + chrono::Duration::days(3),
        ..evaluation(EvaluationKind::Review, "20261120000007", Some(UserId(3)), "2026-11", 75.0)
    };
    let later = s.add_evaluation(later).await.unwrap();
    let since =
        |at| EvaluationFilter { kind: Some(EvaluationKind::Review), created_from: Some(at), ..Default::default() };
    assert_eq!(ids(s.evaluations(since(t0() + chrono::Duration::days(1))).await.unwrap()), [later.id]);
    assert_eq!(s.evaluations(since(t0())).await.unwrap().len(), 2, "at the instant counts");
    let by_store = EvaluationFilter { subject: Some("GZ001".into()), ..Default::default() };
    assert_eq!(s.evaluations(by_store).await.unwrap().len(), 2);
    assert_eq!(s.evaluation(9999).await.unwrap(), None);

    // A retried request meets what it made; the key is taken once.
    let keyed = Evaluation {
        request: Some(("1 POST /api/v1/quality/reviews k1".into(), "fp".into())),
        ..evaluation(EvaluationKind::Review, "20261120000006", Some(UserId(3)), "2026-11", 90.0)
    };
    let made = s.add_evaluation(keyed.clone()).await.unwrap();
    assert!(matches!(s.add_evaluation(keyed).await, Err(StoreError::Conflict { .. })));
    let found = s.evaluation_by_request("1 POST /api/v1/quality/reviews k1".into()).await.unwrap();
    assert_eq!(found, Some(made));
    assert_eq!(s.evaluation_by_request("other".into()).await.unwrap(), None);

    // A period's grading is replaced by the next.
    s.save_grading(Grading {
        period: "2026-11".into(),
        body: "{\"n\":2}".into(),
        graded_by: UserId(9),
        graded_at: t0(),
    })
    .await
    .unwrap();
    let g = s.grading("2026-11".into()).await.unwrap().unwrap();
    assert_eq!((g.body.as_str(), g.graded_by), ("{\"n\":2}", UserId(9)));
    assert_eq!(s.grading("2026-10".into()).await.unwrap(), None);

    // Innovation entries by day and agent.
    s.add_innovation(Innovation {
        id: 0,
        agent: UserId(3),
        day: day("2026-12-01"),
        title: "投诉预警看板".into(),
        points: 20.0,
        recorded_by: UserId(1),
        created_at: t0(),
    })
    .await
    .unwrap();
    assert_eq!(s.innovations(nov.0, nov.1, None).await.unwrap().len(), 1);
    assert_eq!(s.innovations(q4.0, q4.1, None).await.unwrap().len(), 2);
    let mine = s.innovations(q4.0, q4.1, Some(UserId(3))).await.unwrap();
    assert_eq!((mine.len(), mine[0].points, mine[0].title.as_str()), (1, 20.0, "投诉预警看板"));
}

/// Tickets that name a store are listed by it (and only they); a store's
/// rectification report is kept once per failing inspection.
pub async fn stores_list_their_tickets_and_keep_one_report_per_task<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let at_store = |phone: &str, store: Option<&str>| CreateTicket {
        ticket: kefu_domain::ticket::NewTicket { store: store.map(str::to_string), ..intake(phone, "营业厅办理") },
        actor: a.clone(),
        initial_state: "accepted".into(),
        now: t0(),
        idempotency: None,
        follow_up: None,
        messages: None,
        render: render_number(),
    };
    let one = ticket_of(&s.create_ticket(at_store("13800000001", Some("BJ001"))).await.unwrap());
    s.create_ticket(at_store("13800000002", None)).await.unwrap();
    s.create_ticket(at_store("13800000003", Some("GZ001"))).await.unwrap();
    assert_eq!(one.store.as_deref(), Some("BJ001"));
    let listed = |store: &str| TicketFilter { store: Some(store.into()), page: 1, per_page: 10, ..Default::default() };
    let bj = s.list_tickets(listed("BJ001")).await.unwrap();
    assert_eq!((bj.total, bj.items[0].id, bj.items[0].store.as_deref()), (1, one.id, Some("BJ001")));
    assert_eq!(s.list_tickets(listed("SH001")).await.unwrap().total, 0);

    let report = |inspection: i64, store: &str| RectificationReport {
        inspection,
        store: store.into(),
        note: "已更换破损座椅".into(),
        reported_by: a.id,
        reported_at: t0(),
    };
    s.report_rectification(report(7, "BJ001")).await.unwrap();
    s.report_rectification(report(9, "GZ001")).await.unwrap();
    let again = s.report_rectification(report(7, "BJ001")).await.unwrap_err();
    assert!(
        matches!(again, StoreError::Conflict { ref constraint } if constraint == "store_rectifications_pkey"),
        "{again:?}"
    );
    assert_eq!(s.rectification_reports(Some("BJ001".into())).await.unwrap(), vec![report(7, "BJ001")]);
    assert_eq!(s.rectification_reports(None).await.unwrap().len(), 2);
}
