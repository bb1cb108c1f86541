//! Conformance: major incidents, their chain, linked tickets and notices.

use super::*;
use kefu_domain::incident::{Kind, Scope, State};
use kefu_domain::incident_record::{Incident, IncidentRef, Severity, verify_events};

fn draft(by: kefu_domain::UserId) -> Incident {
    Incident {
        id: 0,
        number: String::new(),
        kind: Kind::Outage,
        title: "望京光缆中断".into(),
        scope: Scope { regions: vec!["望京".into()], services: vec![], elements: vec!["OLT-07".into()] },
        severity: Severity::Major,
        state: State::Detected,
        owner: None,
        started_at: t0(),
        eta: None,
        ended_at: None,
        notes: vec![],
        resolution: None,
        notices: vec![],
        from_alarm: None,
        compensation: None,
        playbook: None,
        created_by: by,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn link(to: IncidentRef) -> Decide {
    Box::new(move |t: &Ticket| {
        let mut next = t.clone();
        next.incident = Some(to);
        Ok(Mutation::new(next, "incident_link", json!({})))
    })
}

pub async fn incidents_chain_their_changes_and_count_their_children<S: Store>(s: S) {
    let a = staff(&s, "sup", Role::Supervisor).await;
    let first = s.create_incident(draft(a.id), "主管".into(), json!({"title": "望京光缆中断"})).await.unwrap();
    let second = s.create_incident(draft(a.id), "主管".into(), json!({})).await.unwrap();
    assert_eq!(first.number, "ZD20261122001", "numbered by the Shanghai day");
    assert_eq!(second.number, "ZD20261122002");
    let later = t0() + Duration::minutes(3);
    let changed = s
        .change_incident(ChangeIncident {
            id: first.id,
            actor: Some(a.id),
            actor_name: "主管".into(),
            now: later,
            decide: Box::new(|i: &Incident| {
                Ok((Incident { state: State::Confirmed, ..i.clone() }, "confirm".into(), json!({})))
            }),
        })
        .await
        .unwrap();
    assert_eq!(
        (changed.state, changed.updated_at, changed.number.as_str()),
        (State::Confirmed, later, "ZD20261122001")
    );
    let refused = s
        .change_incident(ChangeIncident {
            id: first.id,
            actor: None,
            actor_name: "kefu".into(),
            now: later,
            decide: Box::new(|_| Err(kefu_domain::DomainError::Archived)),
        })
        .await;
    assert!(matches!(refused, Err(StoreError::Domain(_))), "a refusal writes nothing");
    let events = s.incident_events(first.id).await.unwrap();
    assert_eq!(events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["create", "confirm"]);
    assert_eq!(verify_events(&events), Ok(()));
    assert_eq!(s.incident(first.id).await.unwrap().unwrap(), changed);
    assert_eq!(s.incidents(true, 10).await.unwrap().len(), 2);
    assert!(s.incident(9999).await.unwrap().is_none());

    let mut ids = Vec::new();
    for n in 0..3 {
        let t = ticket_of(&create(&s, &a, &format!("1380000010{n}"), t0(), None).await);
        change(&s, &a, t.id, link(first.as_ref())).await.unwrap();
        ids.push(t.id);
    }
    let stored = s.ticket(TicketKey::Id(ids[0])).await.unwrap().unwrap();
    assert_eq!(stored.incident, Some(first.as_ref()));
    assert_eq!(s.children_by_status(first.id).await.unwrap(), [("accepted".to_string(), 3)]);
    assert!(s.children_by_status(second.id).await.unwrap().is_empty());
    let page = s.list_tickets(TicketFilter { incident: Some(first.id), page: 1, per_page: 10, ..Default::default() });
    assert_eq!(page.await.unwrap().total, 3);

    // A dismissed spike proposal stays dismissed until its time is up.
    let until = t0() + Duration::hours(1);
    let d = Dismissal { bucket: "fault|朝阳区|宽带".into(), until, reason: "演练".into(), by: a.id, at: t0() };
    s.dismiss_spike(d.clone()).await.unwrap();
    assert_eq!(s.spike_dismissals(t0()).await.unwrap(), [d]);
    assert!(s.spike_dismissals(until).await.unwrap().is_empty());
}

pub async fn each_customer_gets_a_notice_once<S: Store>(s: S) {
    let a = staff(&s, "sup", Role::Supervisor).await;
    let i = s.create_incident(draft(a.id), "主管".into(), json!({})).await.unwrap();
    let mut targets = Vec::new();
    for n in 0..40 {
        let t = ticket_of(&create(&s, &a, &format!("139000001{:02}", n % 30), t0(), None).await);
        let message = NewMessage {
            kind: "incident".into(),
            channel: "sms".into(),
            recipient: t.customer.phone.as_str().to_string(),
            subject: String::new(),
            body: "望京光缆中断，预计18时恢复".into(),
            in_reply_to: None,
        };
        targets.push(NoticeTarget { customer: t.customer.id, ticket: t.id, message });
    }
    // Two senders at once with overlapping halves, then a retry of all.
    let (x, y) = tokio::join!(
        s.record_notices(i.id, "n1".into(), targets[..30].to_vec(), t0()),
        s.record_notices(i.id, "n1".into(), targets[10..].to_vec(), t0())
    );
    assert_eq!(x.unwrap() + y.unwrap(), 30, "30 customers behind 40 tickets");
    assert_eq!(s.record_notices(i.id, "n1".into(), targets.clone(), t0()).await.unwrap(), 0);
    assert_eq!(s.record_notices(i.id, "n2".into(), targets[..5].to_vec(), t0()).await.unwrap(), 5);
    let progress = s.notice_progress(i.id).await.unwrap();
    assert_eq!(progress.iter().map(|p| (p.notice.as_str(), p.customers)).collect::<Vec<_>>(), [("n1", 30), ("n2", 5)]);
    assert_eq!(progress[0].by_state, [("pending".to_string(), 30)]);
    let sent: usize = {
        let mut n = 0;
        for t in &targets {
            n += s.messages(t.ticket).await.unwrap().iter().filter(|m| m.kind == "incident").count();
        }
        n
    };
    assert_eq!(sent, 35, "one message per customer and notice, on one of their tickets");
}

pub async fn security_incidents_keep_their_own_register_and_chain<S: Store>(s: S) {
    use kefu_domain::security::{Kind as SecKind, SecurityIncident, SecurityPolicy, State as SecState};
    let a = staff(&s, "admin1", Role::Admin).await;
    let (regulator, customers) = SecurityPolicy::default().duties(Severity::Major, t0(), 2);
    let record = SecurityIncident {
        id: 0,
        number: String::new(),
        kind: SecKind::WrongDisclosure,
        severity: Severity::Major,
        title: "回复短信发给了错误客户".into(),
        description: "批量回复时号码错位".into(),
        discovered_at: t0(),
        affected_records: 2,
        affected_customers: 2,
        tickets: vec![],
        access_entries: vec![7],
        containment: vec![],
        regulator,
        customers,
        state: SecState::Reported,
        created_by: a.id,
        created_at: t0(),
        updated_at: t0(),
    };
    let r = s.create_security_incident(record, "管理员".into(), json!({})).await.unwrap();
    assert_eq!(r.number, "AQ20261122001", "its own numbers");
    // A major incident the same day keeps its own count.
    assert_eq!(s.create_incident(draft(a.id), "x".into(), json!({})).await.unwrap().number, "ZD20261122001");
    let later = t0() + Duration::hours(1);
    let contained = s
        .change_security_incident(ChangeRecord {
            id: r.id,
            actor: Some(a.id),
            actor_name: "管理员".into(),
            now: later,
            decide: Box::new(|i: &SecurityIncident| {
                Ok((SecurityIncident { state: SecState::Contained, ..i.clone() }, "contain".into(), json!({})))
            }),
        })
        .await
        .unwrap();
    assert_eq!((contained.state, contained.updated_at), (SecState::Contained, later));
    assert_eq!(s.security_incident(r.id).await.unwrap(), Some(contained));
    assert_eq!(s.security_incidents(10).await.unwrap().len(), 1);
    let events = s.security_events(r.id).await.unwrap();
    assert_eq!(events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["create", "contain"]);
    assert_eq!(verify_events(&events), Ok(()));
    assert!(s.incident_events(r.id).await.unwrap().iter().all(|e| e.action != "contain"), "chains apart");
}
