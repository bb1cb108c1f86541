//! Conformance: Export and import, row for row.

use super::*;

/// Every row of every table in the neutral export form.
pub async fn export_all<S: Store>(s: &S) -> Vec<(String, crate::JsonRow)> {
    let mut out = Vec::new();
    for t in crate::dump::TABLES {
        let mut offset = 0;
        loop {
            let rows = s.export_rows(t, offset, 3).await.unwrap();
            if rows.is_empty() {
                break;
            }
            offset += rows.len() as u64;
            out.extend(rows.into_iter().map(|r| (t.name.to_string(), r)));
        }
    }
    out
}

pub async fn export_then_import_is_lossless<S: Store>(a: S, b: S) {
    let (agent, eng, t) = agent_engineer_ticket(&a).await;
    create(&a, &agent, "13800000002", t0(), Some("k")).await;
    act(&a, &agent, t.id, json!({"action": "dispatch", "assignee": "agent1"}), Some(&agent), None).await.unwrap();
    act(
        &a,
        &agent,
        t.id,
        json!({"action": "transfer", "to": "eng1", "reason": "上门", "mode": "phone"}),
        Some(&eng),
        None,
    )
    .await
    .unwrap();
    a.create_session(Session {
        token_hash: "h".into(),
        user_id: agent.id,
        created_at: t0(),
        expires_at: t0() + Duration::hours(1),
    })
    .await
    .unwrap();
    quality_rows(&a).await;
    let exported = export_all(&a).await;
    for table in crate::dump::TABLES {
        let rows: Vec<crate::JsonRow> =
            exported.iter().filter(|(n, _)| n == table.name).map(|(_, r)| r.clone()).collect();
        b.import_rows(table, rows).await.unwrap();
    }
    b.finish_import().await.unwrap();
    assert_eq!(export_all(&b).await, exported);
    assert_eq!(b.ticket(TicketKey::Id(t.id)).await.unwrap(), a.ticket(TicketKey::Id(t.id)).await.unwrap());
    verify_chain(t.id, &b.events(t.id).await.unwrap()).unwrap();
    // New rows continue after the imported ids.
    let next = ticket_of(&create(&b, &agent, "13800000003", t0(), None).await);
    assert_eq!(next.id, TicketId(t.id.0 + 2));
    // Numbers continue after every number issued before the move (a
    // backend may skip numbers it had reserved, never reuse one).
    let issued: Vec<String> = export_all(&a)
        .await
        .iter()
        .filter(|(t, _)| t == "tickets")
        .map(|(_, r)| r["number"].as_str().unwrap().to_string())
        .collect();
    assert!(issued.iter().all(|n| next.number > *n), "{} after {issued:?}", next.number);
}
