//! Conformance: the KPI rollups.

use super::*;
use kefu_domain::facts::Facts;
use kefu_domain::kpi::{Dim, Grain};
use kefu_domain::rollup::{Basis, Cell, Dims, Key, Scope, delta};
use kefu_domain::{Channel, CustomerId, TeamId, UserId};

fn kept(id: i64, customer: i64, channel: Channel, resolved: bool) -> KeptFacts {
    let created_at = t0();
    let facts = Facts {
        resolved_at: resolved.then(|| t0() + Duration::hours(2)),
        resolver: resolved.then_some(UserId(1)),
        first_contact: resolved,
        ..Facts::default()
    };
    let dims = Dims {
        channel,
        ticket_type: TicketType::Fault,
        priority: Priority::Normal,
        team: Some(TeamId(7)),
        first_owner: UserId(1),
        created_at,
    };
    KeptFacts { ticket: TicketId(id), rev: 1, customer: CustomerId(customer), facts, dims, repeated: false }
}

fn cells_of(facts: &[KeptFacts]) -> Vec<(i16, Key, Cell)> {
    let mut all = std::collections::BTreeMap::new();
    for f in facts {
        for (k, c) in delta(None, Some((&f.facts, &f.dims))) {
            all.entry(k).or_insert_with(Cell::default).add(&c, 1);
        }
    }
    kefu_domain::kpi::at_every_grain(&all).into_iter().map(|((g, k), c)| (g, k, c)).collect()
}

pub async fn kpi_batches_apply_once_and_cells_sum_by_grain<S: Store>(s: S) {
    let start = s.kpi_mark().await.unwrap();
    assert_eq!(start.settled, None);
    let facts =
        vec![kept(1, 10, Channel::Phone, true), kept(2, 10, Channel::Web, false), kept(3, 11, Channel::Phone, true)];
    let batch = KpiBatch { expected: start, settled: Some(t0()), facts: facts.clone(), cells: cells_of(&facts) };
    assert!(s.apply_kpi(batch.clone()).await.unwrap());
    // The same batch again: the mark moved, nothing is applied twice.
    assert!(!s.apply_kpi(batch).await.unwrap());
    let mark = s.kpi_mark().await.unwrap();
    assert_eq!(mark.settled, Some(t0()));
    assert_ne!(mark.version, start.version);

    let mut got = s.kept_facts(vec![TicketId(1), TicketId(3), TicketId(99)]).await.unwrap();
    got.sort_by_key(|f| f.ticket);
    assert_eq!(got, vec![facts[0].clone(), facts[2].clone()]);
    let of_10 = s.customer_facts(CustomerId(10), TicketType::Fault).await.unwrap();
    assert_eq!(of_10.iter().map(|f| f.ticket.0).collect::<Vec<_>>(), vec![1, 2]);
    assert!(s.customer_facts(CustomerId(10), TicketType::Complaint).await.unwrap().is_empty());

    // Registered by channel, on the Shanghai day of t0 (the 22nd at 23:30).
    let day = kefu_domain::time::shanghai_date(t0());
    let query = |grain: Grain, group: Option<Dim>, filter: DimFilter| CellQuery {
        grain: grain.code(),
        from: day,
        to: day + Duration::days(1),
        scopes: vec![Scope::Counted],
        measures: vec!["registered".into(), "resolved".into()],
        group,
        by_day: true,
        filter,
    };
    let categories = Grain { cuboid: kefu_domain::kpi::Cuboid::Categories, level: kefu_domain::kpi::Level::Day };
    let rows = s.kpi_cells(query(categories, Some(Dim::Channel), DimFilter::default())).await.unwrap();
    let registered = |ch: &str| {
        rows.iter()
            .find(|r| r.group == ch && r.measure == "registered" && r.basis == Basis::Created)
            .map(|r| (r.cell.n, r.day))
    };
    assert_eq!(registered("phone"), Some((2, Some(day))));
    assert_eq!(registered("web"), Some((1, Some(day))));
    // Resolutions two hours after 23:30 count on the next day.
    let resolved: Vec<_> = rows.iter().filter(|r| r.measure == "resolved").collect();
    assert_eq!(resolved.len(), 1);
    assert_eq!((resolved[0].cell.n, resolved[0].day), (2, Some(day + Duration::days(1))));

    // By team at month level, filtered by agent: the people cuboid.
    let people = Grain { cuboid: kefu_domain::kpi::Cuboid::People, level: kefu_domain::kpi::Level::Month };
    let q = CellQuery {
        from: kefu_domain::kpi::month_start(day),
        to: day + Duration::days(30),
        by_day: false,
        ..query(people, Some(Dim::Team), DimFilter { agent: Some(UserId(1)), ..Default::default() })
    };
    let rows = s.kpi_cells(q.clone()).await.unwrap();
    let reg = rows.iter().find(|r| r.measure == "registered").unwrap();
    assert_eq!((reg.group.as_str(), reg.day, reg.cell.n), ("7", None, 3));
    let none = s.kpi_cells(CellQuery { filter: DimFilter { agent: Some(UserId(2)), ..Default::default() }, ..q }).await;
    assert!(none.unwrap().is_empty());

    // A person's facts over a period: as first owner or resolver.
    let mine = s.facts_between(day, day + Duration::days(1), Some(UserId(1))).await.unwrap();
    assert_eq!(mine.len(), 3);
    assert!(s.facts_between(day, day, Some(UserId(2))).await.unwrap().is_empty());
    assert!(s.facts_between(day + Duration::days(2), day + Duration::days(9), None).await.unwrap().is_empty());
    // Ticket 1 counts on the 22nd (registered) and the 23rd (resolved).
    let next = s.facts_between(day + Duration::days(1), day + Duration::days(1), None).await.unwrap();
    assert_eq!(next.iter().map(|f| f.ticket.0).collect::<std::collections::BTreeSet<_>>(), [1, 3].into());

    // A change subtracts what the ticket counted before.
    let mut changed = facts[1].clone();
    changed.facts.resolved_at = Some(t0() + Duration::hours(1));
    changed.facts.resolver = Some(UserId(1));
    changed.rev = 2;
    let d = delta(Some((&facts[1].facts, &facts[1].dims)), Some((&changed.facts, &changed.dims)));
    let cells = kefu_domain::kpi::at_every_grain(&d).into_iter().map(|((g, k), c)| (g, k, c)).collect();
    assert!(s.apply_kpi(KpiBatch { expected: mark, settled: Some(t0()), facts: vec![changed], cells }).await.unwrap());
    let total = Grain { cuboid: kefu_domain::kpi::Cuboid::Total, level: kefu_domain::kpi::Level::Day };
    let rows = s.kpi_cells(query(total, None, DimFilter::default())).await.unwrap();
    let n = |m: &str| rows.iter().filter(|r| r.measure == m).map(|r| r.cell.n).sum::<i64>();
    assert_eq!((n("registered"), n("resolved")), (3, 3));
    assert_eq!(s.kept_facts(vec![TicketId(2)]).await.unwrap()[0].rev, 2);

    s.reset_kpi().await.unwrap();
    assert!(s.kpi_cells(query(total, None, DimFilter::default())).await.unwrap().is_empty());
    assert!(s.kept_facts(vec![TicketId(1)]).await.unwrap().is_empty());
    assert_eq!(s.kpi_mark().await.unwrap().settled, None);
}

pub async fn backlog_counts_open_tickets_by_age_and_holder<S: Store>(s: S) {
    let a = staff(&s, "agent1", Role::Agent).await;
    for (i, days) in [0, 2, 2, 40].iter().enumerate() {
        create(&s, &a, &format!("1390000000{i}"), t0() - Duration::days(*days), None).await;
    }
    let now = t0() + Duration::hours(1);
    // Buckets: ≤1 day, 1–3 days, older.
    let buckets = vec![now - Duration::days(1), now - Duration::days(3)];
    let q = BacklogQuery { group: Some(Dim::Channel), filter: DimFilter::default(), buckets };
    let mut rows = s.backlog(q.clone()).await.unwrap();
    rows.sort();
    assert_eq!(rows, vec![("phone".to_string(), 0, 1), ("phone".to_string(), 1, 2), ("phone".to_string(), 2, 1)]);
    // Agent is who holds a ticket now: nobody holds these yet.
    let held = BacklogQuery { filter: DimFilter { agent: Some(UserId(a.id.0)), ..Default::default() }, ..q.clone() };
    assert!(s.backlog(held).await.unwrap().is_empty());
    let mut all = s.backlog(BacklogQuery { group: None, buckets: vec![], ..q }).await.unwrap();
    all.sort();
    assert_eq!(all, vec![(String::new(), 0, 4)]);
    assert!(s.customer_count().await.unwrap() >= 4);
}
