//! `kefu bench reports`: KPI reports at a provincial operator's size (a
//! year of tickets, 2,000 agents in 50 teams), read through the reports
//! service from the rollup cells, against a plain GROUP BY over a ticket
//! table in the same database and run as the baseline.
//!
//! The tickets' facts are generated (random but realistic shares) and
//! counted by the domain's own `contributions` and grains; the cells are
//! written through the store's `apply_kpi`, as the rollup job writes them.
//! The baseline table holds one row per ticket with the figures already
//! worked out (first contact, resolution seconds …) and indexes on both
//! days: a generous baseline — the real ticket table would need the audit
//! chain joined in as well.

use crate::sample::Rng;
use anyhow::{Result, anyhow};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use kefu_domain::clock::{Clock, FixedClock};
use kefu_domain::facts::{DeadlineOutcome, Facts, Span};
use kefu_domain::flow::FlowSet;
use kefu_domain::kpi::{Grain, GroupBy, Level};
use kefu_domain::metrics::Period;
use kefu_domain::policy::Policy;
use kefu_domain::rollup::{Cell, Dims, Key, contributions};
use kefu_domain::{Channel, Priority, Role, TeamId, TicketType, UserId};
use kefu_server::Kefu;
use kefu_server::service::kpi::KpiRequest;
use kefu_store::prelude::*;
use kefu_store::{DimFilter, KpiBatch, NewUser};
use kefu_store_sqlite::SqliteStore;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

const AGENTS: usize = 2_000;
const TEAMS: usize = 50;
const YEAR: i32 = 2026;

/// A weighted pick: `weights[i]` is the share of `items[i]`.
fn weighted<T: Copy>(r: &mut Rng, items: &[T], weights: &[u32]) -> T {
    let total: u32 = weights.iter().sum();
    let mut x = r.below(total as usize) as u32;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return items[i];
        }
        x -= w;
    }
    items[0]
}

fn pct(r: &mut Rng, p: usize) -> bool {
    r.below(100) < p
}

/// One ticket's facts and dims, registered at `created_at`.
fn ticket(r: &mut Rng, created_at: DateTime<Utc>, staff: &[(UserId, TeamId)]) -> (Facts, Dims) {
    let (owner, team) = staff[r.below(staff.len())];
    let channel = weighted(r, Channel::ALL, &[60, 10, 12, 10, 5, 3, 2, 1, 1, 1][..Channel::ALL.len()]);
    let ticket_type = weighted(r, TicketType::ALL, &[30, 25, 15, 10, 10, 5, 5, 5][..TicketType::ALL.len()]);
    let priority = weighted(r, Priority::ALL, &[5, 15, 70, 10, 5][..Priority::ALL.len()]);
    let resolved = pct(r, 95);
    let resolved_at = resolved.then(|| created_at + Duration::minutes(r.below(3 * 24 * 60) as i64));
    let same_hand = pct(r, 70);
    let resolver = resolved.then(|| if same_hand { owner } else { staff[r.below(staff.len())].0 });
    let span = |r: &mut Rng, metric: &str, at: DateTime<Utc>, period: Period, max_secs: usize| {
        let natural_secs = r.below(max_secs) as i64;
        Span { metric: metric.into(), natural_secs, working_secs: natural_secs * 5 / 7, at, period }
    };
    let mut spans = vec![span(r, "first_response_time", created_at, Period::Created, 4 * 3600)];
    if let Some(at) = resolved_at {
        spans.push(span(r, "handling_time", at, Period::Resolved, 48 * 3600));
        spans.push(span(r, "resolution_time", at, Period::Resolved, 72 * 3600));
    }
    let facts = Facts {
        open: !resolved,
        resolved_at,
        resolver,
        withdrawn: pct(r, 2),
        merged: false,
        transferred: pct(r, 10),
        escalated: pct(r, 3),
        reopened: resolved && pct(r, 2),
        appealed: resolved && pct(r, 1),
        visited: resolved && pct(r, 80),
        rating: (resolved && pct(r, 40)).then(|| weighted(r, &[5u8, 4, 3, 2, 1], &[60, 25, 8, 4, 3])),
        satisfied: false,
        recommend: (resolved && pct(r, 30)).then(|| r.below(11) as u8),
        complaint: ticket_type == TicketType::Complaint,
        breached: pct(r, 5),
        first_contact: resolved && same_hand && pct(r, 85),
        one_touch: resolved && same_hand && pct(r, 70),
        resolved_in_limit: resolved && pct(r, 93),
        deadlines: if resolved {
            vec![
                DeadlineOutcome { kind: "response".into(), met: pct(r, 97) },
                DeadlineOutcome { kind: "resolution".into(), met: pct(r, 94) },
            ]
        } else {
            Vec::new()
        },
        spans,
    };
    let dims = Dims { channel, ticket_type, priority, team: Some(team), first_owner: owner, created_at };
    (facts, dims)
}

const BASELINE_TABLE: &str = "CREATE TABLE bench_tickets (
    id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, resolved_at TEXT, team INTEGER, first_owner INTEGER,
    resolver INTEGER, channel TEXT, type TEXT, priority TEXT, withdrawn INTEGER, transferred INTEGER,
    first_contact INTEGER, resolution_secs REAL, rating INTEGER);
    CREATE INDEX bench_tickets_created_idx ON bench_tickets (created_at);
    CREATE INDEX bench_tickets_resolved_idx ON bench_tickets (resolved_at);";

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Writes the cells of `full` (per-ticket keys summed) at every day grain
/// now, and adds them to `months` for the month grains.
async fn write_days(
    store: &SqliteStore,
    full: &BTreeMap<Key, Cell>,
    months: &mut BTreeMap<(i16, Key), Cell>,
    version: &mut i64,
) -> Result<usize> {
    let mut cells: BTreeMap<(i16, Key), Cell> = BTreeMap::new();
    for (k, c) in full {
        for g in Grain::all() {
            let target = if g.level == Level::Day { &mut cells } else { &mut *months };
            target.entry((g.code(), g.project(k))).or_default().add(c, 1);
        }
    }
    apply(store, cells, version).await
}

async fn apply(store: &SqliteStore, cells: BTreeMap<(i16, Key), Cell>, version: &mut i64) -> Result<usize> {
    let n = cells.len();
    let batch = KpiBatch {
        expected: kefu_store::KpiMark { settled: None, version: *version },
        settled: None,
        facts: Vec::new(),
        cells: cells.into_iter().map(|((g, k), c)| (g, k, c)).collect(),
    };
    if !store.apply_kpi(batch).await? {
        return Err(anyhow!("the rollup mark moved during the bench"));
    }
    *version += 1;
    Ok(n)
}

fn baseline_rows(tx: &rusqlite::Transaction, first_id: i64, tickets: &[(Facts, Dims)]) -> rusqlite::Result<()> {
    let mut put = tx.prepare_cached(
        "INSERT INTO bench_tickets VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    for (i, (f, d)) in tickets.iter().enumerate() {
        let resolution = f.spans.iter().find(|s| s.metric == "resolution_time").map(|s| s.natural_secs as f64);
        put.execute(rusqlite::params![
            first_id + i as i64,
            ts(d.created_at),
            f.resolved_at.map(ts),
            d.team.map(|t| t.0),
            d.first_owner.0,
            f.resolver.map(|u| u.0),
            d.channel.as_str(),
            d.ticket_type.as_str(),
            d.priority.as_str(),
            f.withdrawn,
            f.transferred,
            f.first_contact,
            resolution,
            f.rating
        ])?;
    }
    Ok(())
}

/// Midnight in Shanghai of a day, as the ticket table's timestamps.
fn start_of(d: NaiveDate) -> String {
    ts(kefu_domain::time::shanghai_at(d, 0))
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

struct Question {
    label: &'static str,
    metric: &'static str,
    group_by: GroupBy,
    from: &'static str,
    to: &'static str,
    filter: DimFilter,
    /// The same question over the ticket table: `?1`/`?2` are the period's bounds.
    baseline: &'static str,
}

fn questions(team: TeamId) -> Vec<Question> {
    let q = |label, metric, group_by, (from, to), baseline| Question {
        label,
        metric,
        group_by,
        from,
        to,
        filter: DimFilter::default(),
        baseline,
    };
    let nov = ("2026-11-01", "2026-11-30");
    let q4 = ("2026-10-01", "2026-12-31");
    let year = ("2026-01-01", "2026-12-31");
    vec![
        q(
            "month FCR, all",
            "first_contact_resolution",
            GroupBy::All,
            nov,
            "SELECT COUNT(*), SUM(first_contact) FROM bench_tickets
             WHERE resolved_at >= ?1 AND resolved_at < ?2 AND withdrawn = 0",
        ),
        q(
            "month FCR by team",
            "first_contact_resolution",
            GroupBy::Team,
            nov,
            "SELECT team, COUNT(*), SUM(first_contact) FROM bench_tickets
             WHERE resolved_at >= ?1 AND resolved_at < ?2 AND withdrawn = 0 GROUP BY team",
        ),
        q(
            "month resolution time by agent",
            "resolution_time",
            GroupBy::Agent,
            nov,
            "SELECT resolver, COUNT(*), AVG(resolution_secs) FROM bench_tickets
             WHERE resolved_at >= ?1 AND resolved_at < ?2 AND withdrawn = 0 GROUP BY resolver",
        ),
        q(
            "quarter transfer rate by channel",
            "transfer_rate",
            GroupBy::Channel,
            q4,
            "SELECT channel, COUNT(*), SUM(transferred) FROM bench_tickets
             WHERE created_at >= ?1 AND created_at < ?2 AND withdrawn = 0 GROUP BY channel",
        ),
        q(
            "quarter satisfaction by week",
            "satisfaction_average",
            GroupBy::Week,
            q4,
            "SELECT strftime('%W', resolved_at), COUNT(rating), AVG(rating) FROM bench_tickets
             WHERE resolved_at >= ?1 AND resolved_at < ?2 AND withdrawn = 0 GROUP BY 1",
        ),
        q(
            "year 24-hour rate by month",
            "resolved_in_limit_rate",
            GroupBy::Month,
            year,
            "SELECT substr(resolved_at, 1, 7), COUNT(*), SUM(resolution_secs <= 86400) FROM bench_tickets
             WHERE resolved_at >= ?1 AND resolved_at < ?2 AND withdrawn = 0 GROUP BY 1",
        ),
        Question {
            filter: DimFilter { team: Some(team), ticket_type: Some(TicketType::Complaint), ..Default::default() },
            ..q(
                "month of one team's complaints by priority",
                "resolution_time",
                GroupBy::Priority,
                nov,
                "SELECT priority, COUNT(*), AVG(resolution_secs) FROM bench_tickets
                 WHERE resolved_at >= ?1 AND resolved_at < ?2 AND withdrawn = 0 AND team = 1 AND type = 'complaint'
                 GROUP BY priority",
            )
        },
    ]
}

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The rollup job's pace: `n` tickets registered through the store (the
/// intake baseline of the same run), then counted by the job from the
/// change feed. The job is off the request path; this says whether it
/// keeps up with intake.
async fn job_pace(n: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path().join("pace.db"), Arc::new(kefu_store::crypto::FieldCipher::random()))?;
    let clock = Arc::new(FixedClock::new("2026-11-23T02:00:00Z".parse()?));
    let kefu = Kefu::new(store.clone(), FlowSet::defaults(), Policy::defaults(), clock.clone(), Default::default())
        .await
        .map_err(|e| anyhow!(e.to_string()))?;
    let u = store
        .create_user(NewUser {
            username: "agent0".into(),
            display_name: "坐席".into(),
            role: Role::Agent,
            password_hash: "x".into(),
            now: clock.now(),
        })
        .await?;
    let actor = kefu_domain::flow::Actor::new(u.id, "agent0", Role::Agent);
    let mut rng = Rng::new(5);
    let started = Instant::now();
    let mut pending = Vec::new();
    for i in 0..n {
        let op = super::sla::registration(&kefu, &mut rng, &actor)?;
        let store = store.clone();
        pending.push(tokio::spawn(async move { store.create_ticket(op).await.map(drop) }));
        if pending.len() == 256 || i + 1 == n {
            for p in pending.drain(..) {
                p.await??;
            }
            clock.advance(Duration::seconds(1));
        }
    }
    let intake = n as f64 / started.elapsed().as_secs_f64();
    clock.advance(Duration::minutes(5));
    let started = Instant::now();
    let counted = kefu.kpi_catch_up().await.map_err(|e| anyhow!(e.to_string()))?.unwrap_or(0);
    let pace = counted as f64 / started.elapsed().as_secs_f64();
    println!(
        "  rollup job: {counted} tickets counted at {pace:.0}/s; store intake of the same tickets {intake:.0}/s \
         (job/intake {:.2}; the job runs off the request path, intake writes nothing for it)",
        pace / intake
    );
    Ok(())
}

pub async fn run(tickets: usize, runs: usize) -> Result<()> {
    job_pace(20_000).await?;
    println!("kefu bench reports: {tickets} tickets over {YEAR}, {AGENTS} agents in {TEAMS} teams (SQLite)");
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("reports.db");
    let store = SqliteStore::open(&path, Arc::new(kefu_store::crypto::FieldCipher::random()))?;
    let t0: DateTime<Utc> = "2027-01-05T02:00:00Z".parse()?;
    let clock = Arc::new(FixedClock::new(t0));
    let kefu = Kefu::new(store.clone(), FlowSet::defaults(), Policy::defaults(), clock, Default::default())
        .await
        .map_err(|e| anyhow!(e.to_string()))?;
    let staff = super::queues::organisation(&store, t0, (AGENTS, TEAMS)).await?.staff;
    // The baseline's ticket table in a file of its own, so each size is plain.
    let base_path = dir.path().join("baseline.db");
    let mut raw = rusqlite::Connection::open(&base_path)?;
    raw.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")?;
    raw.execute_batch(BASELINE_TABLE)?;

    let started = Instant::now();
    let mut r = Rng::new(17);
    let first = NaiveDate::from_ymd_opt(YEAR, 1, 1).expect("1 January");
    let per_day = tickets.div_ceil(365);
    let mut months: BTreeMap<(i16, Key), Cell> = BTreeMap::new();
    let (mut version, mut made, mut day_cells, mut month_cells) = (kefu.store.kpi_mark().await?.version, 0, 0, 0);
    let mut gen_secs = 0.0;
    for d in 0..365 {
        let date = first + Duration::days(d);
        let midnight = kefu_domain::time::shanghai_at(date, 0);
        let n = per_day.min(tickets - made);
        let t = Instant::now();
        let day_tickets: Vec<(Facts, Dims)> = (0..n)
            .map(|_| {
                let at = midnight + Duration::seconds(r.below(86_400) as i64);
                ticket(&mut r, at, &staff)
            })
            .collect();
        let mut full: BTreeMap<Key, Cell> = BTreeMap::new();
        for (f, dims) in &day_tickets {
            for (k, c) in contributions(f, dims) {
                full.entry(k).or_default().add(&c, 1);
            }
        }
        gen_secs += t.elapsed().as_secs_f64();
        day_cells += write_days(&store, &full, &mut months, &mut version).await?;
        let tx = raw.transaction()?;
        baseline_rows(&tx, made as i64 + 1, &day_tickets)?;
        tx.commit()?;
        made += n;
        // Month cells go out when the month ends (and the last one at the end).
        let tomorrow = date + Duration::days(1);
        if tomorrow.month() != date.month() || made >= tickets {
            month_cells += apply(&store, std::mem::take(&mut months), &mut version).await?;
        }
        if made >= tickets {
            break;
        }
    }
    let fill = started.elapsed().as_secs_f64();
    raw.execute_batch("ANALYZE")?;
    let cells_db = rusqlite::Connection::open(&path)?;
    cells_db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    let cells: i64 = cells_db.query_row("SELECT COUNT(*) FROM kpi_cells", [], |r| r.get(0))?;
    raw.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    let gb = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len() as f64 / 1e9).unwrap_or(0.0);
    println!(
        "  filled {made} tickets in {fill:.0} s (facts counted in {gen_secs:.0} s); {cells} cell rows \
         ({day_cells} day-grain and {month_cells} month-grain upserts)"
    );
    println!(
        "  sizes: rollup database {:.2} GB; baseline ticket table (13 columns, 2 indexes) {:.2} GB",
        gb(&path),
        gb(&base_path)
    );

    println!(
        "  {:<46} {:>12} {:>12} {:>8} {:>6}",
        "question (p50 of runs)", "rollups ms", "GROUP BY ms", "ratio", "groups"
    );
    let mut worst: f64 = 0.0;
    for q in questions(staff[0].1) {
        let req = KpiRequest {
            metric: q.metric.into(),
            group_by: q.group_by,
            from: day(q.from),
            to: day(q.to),
            filter: q.filter.clone(),
        };
        let mut fast = Vec::new();
        let mut groups = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let report = kefu.kpi_report(req.clone()).await.map_err(|e| anyhow!(e.to_string()))?;
            fast.push(t.elapsed().as_secs_f64() * 1e3);
            groups = report.items.len();
        }
        let (from, to) = (start_of(day(q.from)), start_of(day(q.to) + Duration::days(1)));
        let mut slow = Vec::new();
        for _ in 0..runs.min(3) {
            let t = Instant::now();
            let mut stmt = raw.prepare_cached(q.baseline)?;
            // Every row read, as a report would.
            stmt.query_map(rusqlite::params![from, to], |_| Ok(()))?.for_each(drop);
            slow.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let (f, s) = (median_ms(fast), median_ms(slow));
        worst = worst.max(f);
        println!("  {:<46} {f:>12.2} {s:>12.1} {:>7.0}× {groups:>6}", q.label, s / f);
    }
    println!("  slowest report: {worst:.2} ms (target ≤ 100 ms)");
    Ok(())
}
