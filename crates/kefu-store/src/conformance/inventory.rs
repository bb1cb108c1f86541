//! Conformance: the customer's services and the BSS queue.

use super::*;
use kefu_domain::inventory::{InventoryChange, Pending, ServiceState};
use kefu_domain::ticket::NewCustomer;

fn imported(phone: &str, product: &str, number: &str, balance: Option<i64>) -> ImportedService {
    ImportedService {
        customer: NewCustomer {
            name: "王五".into(),
            phone: kefu_domain::validate::Phone::parse(phone, "phone").unwrap(),
            id_number: None,
            address: None,
            level: None,
        },
        product_code: product.into(),
        service_number: number.into(),
        state: ServiceState::Active,
        monthly_fee_fen: 12_900,
        started_at: t0() - Duration::days(400),
        contract_end: Some(t0() + Duration::days(30)),
        devices_out: 1,
        balance_fen: balance,
    }
}

/// The import adds or updates by customer, number and product; an order's
/// changes commit with the ticket's change or not at all, in the history
/// with the ticket; the number is sealed at rest.
pub async fn services_change_with_their_ticket_and_keep_a_history<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let rows = vec![
        imported("13800000001", "PLAN-5G-129", "13800000001", Some(-1_250)),
        imported("13800000001", "VAS-CRBT", "13800000001", None),
    ];
    assert_eq!(s.import_services(rows.clone(), t0()).await.unwrap(), ImportCounts { added: 2, updated: 0 });
    assert_eq!(s.import_services(rows[..1].to_vec(), t0()).await.unwrap(), ImportCounts { added: 0, updated: 1 });
    let t = ticket_of(&create(&s, &a, "13800000001", t0(), None).await);
    let customer = t.customer.id;
    let services = s.services(customer).await.unwrap();
    assert_eq!(services.len(), 2);
    assert_eq!(
        (services[0].product_code.as_str(), services[0].service_number.as_str(), services[0].devices_out),
        ("PLAN-5G-129", "13800000001", 1)
    );
    assert_eq!(s.account_facts(customer).await.unwrap().balance_fen, -1_250);
    let other = ticket_of(&create(&s, &a, "13800000002", t0(), None).await).customer.id;
    assert_eq!(s.account_facts(other).await.unwrap().balance_fen, 0, "nothing known: nothing owed");
    assert!(s.services(other).await.unwrap().is_empty());

    let (plan, crbt) = (services[0].id, services[1].id);
    let pending =
        Pending { product_code: "PLAN-5G-199".into(), fee_fen: 19_900, effective_at: t0() + Duration::days(9) };
    let write =
        |changes: Vec<InventoryChange>| InventoryWrite { customer, order_id: format!("{}-1", t.number), changes };
    let changes = vec![
        InventoryChange::Set {
            service: plan,
            state: ServiceState::PendingChange,
            product_code: "PLAN-5G-129".into(),
            fee_fen: 12_900,
            ended_at: None,
            pending: Some(pending.clone()),
        },
        InventoryChange::Set {
            service: crbt,
            state: ServiceState::Terminated,
            product_code: "VAS-CRBT".into(),
            fee_fen: 500,
            ended_at: Some(t0()),
            pending: None,
        },
        InventoryChange::Add {
            product_code: "CARD-SEC".into(),
            service_number: "13900000003".into(),
            fee_fen: 1_000,
            started_at: t0(),
        },
    ];
    // A refused change writes nothing; a change naming another customer's service fails whole.
    let mut foreign = changes.clone();
    foreign.push(InventoryChange::Set {
        service: 999_999,
        state: ServiceState::Suspended,
        product_code: "X".into(),
        fee_fen: 0,
        ended_at: None,
        pending: None,
    });
    let w = write(foreign);
    let refused = change(
        &s,
        &a,
        t.id,
        Box::new(move |t| Ok(Mutation { inventory: Some(w), ..Mutation::new(t.clone(), "order", json!({})) })),
    );
    assert!(matches!(refused.await, Err(StoreError::NotFound)));
    assert_eq!(s.services(customer).await.unwrap(), services, "nothing half-applied");
    assert!(s.service_history(customer).await.unwrap().iter().all(|h| h.change == "imported"));

    let w = write(changes);
    change(
        &s,
        &a,
        t.id,
        Box::new(move |t| Ok(Mutation { inventory: Some(w), ..Mutation::new(t.clone(), "order", json!({})) })),
    )
    .await
    .unwrap();
    let after = s.services(customer).await.unwrap();
    assert_eq!(after.len(), 3);
    assert_eq!((after[0].state, after[0].pending.as_ref()), (ServiceState::PendingChange, Some(&pending)));
    assert_eq!((after[1].state, after[1].ended_at), (ServiceState::Terminated, Some(t0())));
    assert_eq!((after[2].product_code.as_str(), after[2].service_number.as_str()), ("CARD-SEC", "13900000003"));
    let history = s.service_history(customer).await.unwrap();
    let by_order: Vec<(&str, Option<TicketId>)> =
        history.iter().filter(|h| h.order_id.is_some()).map(|h| (h.change.as_str(), h.ticket)).collect();
    assert_eq!(by_order, [("changed", Some(t.id)), ("changed", Some(t.id)), ("added", Some(t.id))]);
    let events = s.events(t.id).await.unwrap();
    assert_eq!(events.last().unwrap().action, "order", "in the ticket's chain");
    // Exported rows never hold the number in the clear.
    let spec = dump::TABLES.iter().find(|t| t.name == "services").unwrap();
    let exported = serde_json::to_string(&s.export_rows(spec, 0, 100).await.unwrap()).unwrap();
    assert!(!exported.contains("13900000003"), "{exported}");
}

/// An order is queued with its ticket change, claimed by one node at a
/// time, rescheduled or finished by its holder only, and gone once settled.
pub async fn bss_jobs_are_claimed_once_and_leave_with_their_order<S: Store>(s: S) {
    let (a, _, t) = agent_engineer_ticket(&s).await;
    let enqueue = |id: &str, at| {
        let q = BssQueue::Enqueue { order_id: id.to_string(), at };
        Box::new(move |t: &Ticket| Ok(Mutation { bss: Some(q), ..Mutation::new(t.clone(), "order", json!({})) }))
            as Decide
    };
    change(&s, &a, t.id, enqueue("GD1-1", t0())).await.unwrap();
    change(&s, &a, t.id, enqueue("GD1-1", t0())).await.unwrap();
    change(&s, &a, t.id, enqueue("GD1-2", t0() + Duration::minutes(10))).await.unwrap();
    let lease = Duration::minutes(1);
    let got = s.claim_bss_jobs("node-a", t0(), lease, 10).await.unwrap();
    assert_eq!(got.iter().map(|j| (j.order_id.as_str(), j.kind.as_str())).collect::<Vec<_>>(), [("GD1-1", "submit")]);
    assert_eq!(got[0].ticket, t.id);
    assert!(s.claim_bss_jobs("node-b", t0(), lease, 10).await.unwrap().is_empty(), "held by node a");
    let later = BssJobOutcome::Later {
        at: t0() + Duration::seconds(30),
        kind: "poll".into(),
        error: Some("503".into()),
        attempt: true,
    };
    assert!(!s.finish_bss_job("GD1-1", "node-b", later.clone()).await.unwrap(), "not node b's");
    assert!(s.finish_bss_job("GD1-1", "node-a", later).await.unwrap());
    let job = s.bss_job("GD1-1").await.unwrap().unwrap();
    assert_eq!((job.attempts, job.kind.as_str(), job.last_error.as_deref()), (1, "poll", Some("503")));
    // A lease that ran out lets another node take it.
    let again = s.claim_bss_jobs("node-b", t0() + Duration::seconds(30), lease, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    let taken = s.claim_bss_jobs("node-a", t0() + Duration::minutes(2), lease, 10).await.unwrap();
    assert_eq!(taken.len(), 1, "node b's lease expired");
    assert!(!s.finish_bss_job("GD1-1", "node-b", BssJobOutcome::Done).await.unwrap());
    // Settled with the ticket's change: the job leaves, whoever held it.
    let done = BssQueue::Done { order_id: "GD1-1".into() };
    change(
        &s,
        &a,
        t.id,
        Box::new(move |t| Ok(Mutation { bss: Some(done), ..Mutation::new(t.clone(), "order", json!({})) })),
    )
    .await
    .unwrap();
    assert!(s.bss_job("GD1-1").await.unwrap().is_none());
    assert!(!s.finish_bss_job("GD1-1", "node-a", BssJobOutcome::Done).await.unwrap());
    let last = s.claim_bss_jobs("node-a", t0() + Duration::minutes(11), lease, 10).await.unwrap();
    assert_eq!(last[0].order_id, "GD1-2");
    assert!(s.finish_bss_job("GD1-2", "node-a", BssJobOutcome::Done).await.unwrap());
    assert!(s.bss_job("GD1-2").await.unwrap().is_none());
}
