//! `kefu bench queues`: the work queues of the list API at a million
//! tickets. The tickets are registered through the store, then each is
//! given a realistic place through the store as well: 90 % closed, 9 %
//! open with a handler, 0.5 % waiting unassigned in a team queue, 0.5 %
//! transferred to a team awaiting acceptance; 200 staff in 20 teams. Each
//! queue query (first page of 50 with its total) is timed next to the
//! baseline of the same run: the first page of one person's tickets, a
//! list filter with its own index since the first release.

use crate::sample::Rng;
use anyhow::{Result, anyhow};
use chrono::{DateTime, Duration, Utc};
use kefu_domain::clock::FixedClock;
use kefu_domain::flow::{Actor, FlowSet};
use kefu_domain::org::StaffProfile;
use kefu_domain::policy::Policy;
use kefu_domain::sla::Phase;
use kefu_domain::ticket::Ticket;
use kefu_domain::{Role, TeamId, UserId};
use kefu_server::Kefu;
use kefu_store::doc::transfer_keys_of;
use kefu_store::prelude::*;
use kefu_store::{MutateTicket, Mutation, NewTeam, NewUser, TicketFilter, Written};
use kefu_store_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::Instant;

const STAFF: usize = 200;
const TEAMS: usize = 20;

pub(super) struct Org {
    pub(super) staff: Vec<(UserId, TeamId)>,
    pub(super) teams: Vec<TeamId>,
}

/// `staff_n` agents in `teams_n` teams of one department, round robin.
pub(super) async fn organisation(
    store: &SqliteStore,
    now: DateTime<Utc>,
    (staff_n, teams_n): (usize, usize),
) -> Result<Org> {
    let d = store.create_department("service".into(), "客服部".into(), now).await?;
    let mut teams = Vec::new();
    for i in 0..teams_n {
        let t = NewTeam { department: d.id, code: format!("team{i}"), name: format!("班组{i}"), lead: None };
        teams.push(store.create_team(t, now).await?.id);
    }
    let mut staff = Vec::new();
    for i in 0..staff_n {
        let u = NewUser {
            username: format!("agent{i}"),
            display_name: format!("坐席{i}"),
            role: Role::Agent,
            password_hash: "x".into(),
            now,
        };
        let u = store.create_user(u).await?;
        let team = teams[i % teams_n];
        store.set_profile(u.id, StaffProfile { team: Some(team), ..Default::default() }, None, now).await?;
        staff.push((u.id, team));
    }
    Ok(Org { staff, teams })
}

/// The list filter of need to know for the second agent (the first one
/// registered every ticket here), under the shipped policy.
fn need_to_know(org: &Org) -> kefu_store::Visible {
    let (user, team) = org.staff[1];
    let need = Policy::defaults().access;
    kefu_store::Visible {
        user,
        relations: need.see_relations(Role::Agent).to_vec(),
        team: Some(team),
        leads: Vec::new(),
        transfer_keys: transfer_keys_of(user, Some(team), Some(kefu_domain::DepartmentId(1))),
    }
}

/// Where ticket `i` stands, as the service would have left it.
fn place(mut t: Ticket, i: usize, org: &Org) -> Ticket {
    // Staff and teams do not follow the placement pattern.
    let (user, team) = org.staff[(i * 7 + i / 200) % STAFF];
    match i % 200 {
        0..180 => {
            t.status = "resolved".into();
            t.open = false;
            t.assignee = Some(user);
            t.team = Some(team);
            t.deadlines.iter_mut().for_each(|d| d.phase = Phase::Met);
            t.next_alert_at = None;
        }
        180..198 => {
            t.status = "in_progress".into();
            t.assignee = Some(user);
            t.team = Some(team);
        }
        198 => {
            t.team = Some(org.teams[i % TEAMS]);
            t.unassignable = true;
        }
        _ => {
            t.status = "transfer_pending".into();
            t.assignee = Some(user);
            t.team = Some(team);
            t.transfer_team = Some(org.teams[(i / 200) % TEAMS]);
        }
    }
    t
}

/// Registers `n` tickets at the clock's time and places each.
async fn fill(kefu: &Kefu<SqliteStore>, org: &Arc<Org>, actor: &Actor, from: usize, n: usize) -> Result<()> {
    let now = kefu.now();
    let mut rng = Rng::new(from as u64 + 11);
    let mut pending = Vec::new();
    for i in from..from + n {
        let op = super::sla::registration(kefu, &mut rng, actor)?;
        let (store, org, actor) = (kefu.store.clone(), org.clone(), actor.clone());
        pending.push(tokio::spawn(async move {
            let Written::New { ticket, .. } = store.create_ticket(op).await? else { return Ok(()) };
            let place_it = MutateTicket {
                ticket: ticket.id,
                actor,
                now,
                idempotency: None,
                decide: Box::new(move |t| {
                    Ok(Mutation::new(place(t.clone(), i, &org), "bench_place", serde_json::json!({})))
                }),
                render: Box::new(|_| serde_json::Value::Null),
                status: 200,
            };
            store.mutate_ticket(place_it).await.map(|_| ())
        }));
        if pending.len() == 256 || i + 1 == from + n {
            for p in pending.drain(..) {
                p.await??;
            }
        }
        if (i + 1) % 100_000 == 0 {
            eprintln!("  … {} tickets registered and placed", i + 1);
        }
    }
    Ok(())
}

/// Median time of `runs` list calls, in milliseconds, and the total found.
async fn time(store: &SqliteStore, f: &TicketFilter, runs: usize) -> Result<(f64, i64)> {
    let mut times = Vec::new();
    let mut total = 0;
    for _ in 0..runs {
        let t = Instant::now();
        total = store.list_tickets(f.clone()).await?.total;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], total))
}

pub async fn run(tickets: usize) -> Result<()> {
    println!("kefu bench queues: first page (50) and total of each work queue at {tickets} tickets (SQLite)");
    let dir = tempfile::tempdir()?;
    let t0: DateTime<Utc> = "2026-11-22T02:00:00Z".parse()?;
    let clock = Arc::new(FixedClock::new(t0));
    let store = SqliteStore::open(dir.path().join("q.db"), Arc::new(kefu_store::crypto::FieldCipher::random()))?;
    let mut policy = Policy::defaults();
    policy.dispatch.on_create = false;
    let kefu = Kefu::new(store.clone(), FlowSet::defaults(), policy, clock.clone(), Default::default())
        .await
        .map_err(|e| anyhow!(e.to_string()))?;
    let org = Arc::new(organisation(&store, t0, (STAFF, TEAMS)).await?);
    let actor = Actor::new(org.staff[0].0, "agent0", Role::Agent);
    // Half on each of two days (six-digit daily numbers); the queries run
    // 25 minutes into the second day: the first day's open tickets are
    // overdue, the second day's in warning.
    let start = Instant::now();
    let half = tickets / 2;
    fill(&kefu, &org, &actor, 0, half).await?;
    clock.set(t0 + Duration::days(1));
    fill(&kefu, &org, &actor, half, tickets - half).await?;
    let fill_secs = start.elapsed().as_secs_f64();
    let now = t0 + Duration::days(1) + Duration::minutes(25);
    let (me, my_team) = org.staff[0];
    let page = TicketFilter { page: 1, per_page: 50, ..Default::default() };
    let some = store.list_tickets(TicketFilter { per_page: 1, ..page.clone() }).await?.items;
    let number = some.first().map(|t| t.number.clone()).unwrap_or_default();
    let dept = Some(kefu_domain::DepartmentId(1));
    let queues: Vec<(&str, TicketFilter)> = vec![
        ("one person's tickets (baseline)", TicketFilter { assignee: Some(me), ..page.clone() }),
        ("lookup by number", TicketFilter { number: Some(number), ..page.clone() }),
        ("mine (open, held by me)", TicketFilter { assignee: Some(me), open: Some(true), ..page.clone() }),
        ("my team's open tickets", TicketFilter { team: Some(my_team), open: Some(true), ..page.clone() }),
        ("unassigned", TicketFilter { unassigned: true, ..page.clone() }),
        (
            "awaiting my acceptance",
            TicketFilter { awaiting: transfer_keys_of(me, Some(my_team), dept), ..page.clone() },
        ),
        ("overdue, most urgent first", TicketFilter { overdue_at: Some(now), due_first: true, ..page.clone() }),
        ("warning, most urgent first", TicketFilter { warning_at: Some(now), due_first: true, ..page.clone() }),
        ("all, newest first (no filter)", page.clone()),
        // Need to know (issue 13): what another agent may see — what they
        // hold, registered, were transferred, or their team's queue.
        ("all I may see (need to know)", TicketFilter { visible: Some(need_to_know(&org)), ..page.clone() }),
        (
            "mine (open), need to know",
            TicketFilter {
                assignee: Some(org.staff[1].0),
                open: Some(true),
                visible: Some(need_to_know(&org)),
                ..page.clone()
            },
        ),
    ];
    // Deep pages of the whole list: the page-number way and the cursor way.
    let deep = (tickets / 2 / 50).max(1) as u32;
    let mut cursor_page = page.clone();
    let at_depth = store.list_tickets(TicketFilter { page: deep, ..page.clone() }).await?.items;
    let at_depth_prev = store.list_tickets(TicketFilter { page: deep - 1, ..page.clone() }).await?.items;
    cursor_page.after = at_depth_prev.last().map(kefu_store::Cursor::of);
    anyhow::ensure!(
        deep == 1
            || store.list_tickets(cursor_page.clone()).await?.items.first().map(|t| t.id)
                == at_depth.first().map(|t| t.id),
        "the cursor page and the numbered page differ"
    );
    let queues: Vec<(String, TicketFilter)> = queues
        .into_iter()
        .map(|(n, f)| (n.to_string(), f))
        .chain([
            (format!("all, page {deep} by number"), TicketFilter { page: deep, ..page.clone() }),
            (format!("all, page {deep} by cursor"), cursor_page),
        ])
        .collect();
    println!("  registered and placed {tickets} tickets in {fill_secs:.0} s");
    let mut base = None;
    for (name, f) in &queues {
        let (ms, total) = time(&store, f, 9).await?;
        let b = *base.get_or_insert(ms);
        println!("  {name:<32} {ms:>9.3} ms  ratio {:>7.1}  ({total} tickets)", ms / b);
    }
    println!("  peak RSS of this process: {:.0} MB", super::peak_rss_mb());
    Ok(())
}
