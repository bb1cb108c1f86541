//! Conformance: Personal data: the access log, encryption at rest, erasure and retention.

use super::*;

pub async fn access_log_appends_and_lists_newest_first<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    for (i, field) in ["customer.phone", "customer.id_number", "customer.address"].iter().enumerate() {
        let e = AccessEntry {
            id: 0,
            at: t0() + Duration::minutes(i as i64),
            actor: Some(a.id),
            actor_name: a.username.clone(),
            action: "reveal".into(),
            subject: "ticket:GD20261122000001".into(),
            field: Some((*field).into()),
            reason: "回拨客户核实故障".into(),
        };
        assert!(s.append_access(e).await.unwrap().id > 0);
    }
    let page = s.access_log(1, 2).await.unwrap();
    assert_eq!((page.total, page.items.len()), (3, 2));
    assert_eq!(page.items[0].field.as_deref(), Some("customer.address"));
    assert_eq!(page.items[0].at, t0() + Duration::minutes(2));
    assert_eq!(s.access_log(2, 2).await.unwrap().items[0].field.as_deref(), Some("customer.phone"));
}

pub async fn sensitive_fields_are_encrypted_at_rest<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let mut ticket = intake("13712345678", "宽带断网");
    ticket.customer.id_number = Some(kefu_domain::validate::IdNumber::parse("11010519491231002X", "id").unwrap());
    ticket.customer.address = Some("北京市朝阳区建设路88号".into());
    let op = CreateTicket {
        ticket,
        actor: a.clone(),
        initial_state: "accepted".into(),
        now: t0(),
        idempotency: None,
        follow_up: None,
        messages: None,
        render: render_number(),
    };
    let t = ticket_of(&s.create_ticket(op).await.unwrap());
    // Everything the database holds, table by table: no plaintext.
    let all = serde_json::to_string(&export_all(&s).await).unwrap();
    for secret in ["13712345678", "11010519491231002X", "建设路88号"] {
        assert!(!all.contains(secret), "{secret} is stored in plain text");
    }
    // Yet reads decrypt and lookups by phone work through the blind index.
    let c = s.customer_by_phone("13712345678").await.unwrap().unwrap();
    assert_eq!(c.id_number.unwrap().as_str(), "11010519491231002X");
    assert_eq!(
        s.ticket(TicketKey::Id(t.id)).await.unwrap().unwrap().customer.address.as_deref(),
        Some("北京市朝阳区建设路88号")
    );
    let filter =
        TicketFilter { customer_phone: Some("13712345678".into()), page: 1, per_page: 10, ..Default::default() };
    assert_eq!(s.list_tickets(filter).await.unwrap().total, 1);
}

pub async fn plaintext_customers_are_encrypted_in_batches<S: Store>(s: S) {
    // Rows as an older kefu wrote them: plaintext, no index.
    let table = crate::dump::table("customers").unwrap();
    let rows: Vec<crate::JsonRow> = (1..=5)
        .map(|i| {
            serde_json::from_value(json!({
                "id": i, "name": "旧客户", "phone": format!("1380000000{i}"), "id_number": null,
                "address": "上海市浦东新区某路", "level": null, "created_at": "2026-01-01T00:00:00.000000Z",
                "updated_at": "2026-01-01T00:00:00.000000Z", "phone_idx": null, "id_idx": null,
            }))
            .unwrap()
        })
        .collect();
    s.import_rows(table, rows).await.unwrap();
    assert!(s.customer_by_phone("13800000003").await.unwrap().is_none(), "no index yet");
    assert_eq!(s.reencrypt_customers(2).await.unwrap(), 2);
    assert_eq!(s.reencrypt_customers(100).await.unwrap(), 3);
    assert_eq!(s.reencrypt_customers(100).await.unwrap(), 0, "nothing left");
    let c = s.customer_by_phone("13800000003").await.unwrap().unwrap();
    assert_eq!(c.address.as_deref(), Some("上海市浦东新区某路"));
    let all = serde_json::to_string(&export_all(&s).await).unwrap();
    assert!(!all.contains("13800000003") && !all.contains("浦东新区某路"));
}

pub async fn customers_without_tickets_can_be_deleted<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    let t = ticket_of(&create(&s, &a, "13800000001", t0(), None).await);
    assert!(matches!(s.delete_customer(t.customer.id).await, Err(StoreError::Conflict { .. })));
    let table = crate::dump::table("customers").unwrap();
    let row: crate::JsonRow = serde_json::from_value(json!({
        "id": 77, "name": "无工单客户", "phone": "13800000077", "id_number": null, "address": null, "level": null,
        "created_at": "2026-01-01T00:00:00.000000Z", "updated_at": "2026-01-01T00:00:00.000000Z", "phone_idx": null, "id_idx": null,
    }))
    .unwrap();
    s.import_rows(table, vec![row]).await.unwrap();
    s.delete_customer(kefu_domain::CustomerId(77)).await.unwrap();
    assert!(s.customer_by_id(kefu_domain::CustomerId(77)).await.unwrap().is_none());
    assert!(matches!(s.delete_customer(kefu_domain::CustomerId(77)).await, Err(StoreError::NotFound)));
}

pub async fn retention_finds_and_purges_only_what_is_due<S: Store>(s: S) {
    let (a, _e, old) = agent_engineer_ticket(&s).await;
    let young = ticket_of(&create(&s, &a, "13800000002", t0(), None).await);
    let open = ticket_of(&create(&s, &a, "13800000003", t0(), None).await);
    // Archive two tickets at different times (the flow is not the point here).
    for (t, at) in [(&old, t0()), (&young, t0() + Duration::days(400))] {
        s.mutate_ticket(MutateTicket {
            ticket: t.id,
            actor: a.clone(),
            now: at,
            idempotency: None,
            decide: Box::new(move |t| {
                let ticket = Ticket { status: "archived".into(), archived_at: Some(at), ..t.clone() };
                let comment =
                    Some(NewComment { body: "归档".into(), internal: true, mentions: Vec::new(), channel: None });
                Ok(Mutation { comment, ..Mutation::new(ticket, "archive", json!({})) })
            }),
            render: render_number(),
            status: 200,
        })
        .await
        .unwrap();
    }
    let due = s.retention_due(t0() + Duration::days(365), 10).await.unwrap();
    assert_eq!(due.iter().map(|d| d.ticket).collect::<Vec<_>>(), vec![old.id]);
    assert_eq!((due[0].number.as_str(), due[0].archived_at), (old.number.as_str(), t0()));
    s.purge_ticket(old.id).await.unwrap();
    assert!(s.ticket(TicketKey::Id(old.id)).await.unwrap().is_none());
    assert!(s.events(old.id).await.unwrap().is_empty() && s.comments(old.id).await.unwrap().is_empty());
    for t in [&young, &open] {
        verify_chain(t.id, &s.events(t.id).await.unwrap()).unwrap();
    }
    assert!(s.tickets_without_events(10).await.unwrap().is_empty());
    assert!(matches!(s.purge_ticket(old.id).await, Err(StoreError::NotFound)));
}
