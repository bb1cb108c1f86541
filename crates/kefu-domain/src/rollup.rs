//! Rollups of the KPIs: what one ticket's facts add to the
//! per-day cells (day × basis × team × agent × channel × type × priority ×
//! measure). A change of a ticket subtracts its old contribution and adds
//! its new one, so the cells always equal a recomputation from scratch;
//! a report over a quarter then reads a few thousand cells instead of
//! millions of tickets. Thresholds that a policy may change later (who is
//! satisfied, who a promoter) are not applied here: ratings are kept per
//! score and the figure is computed when it is read.

use crate::facts::Facts;
use crate::metrics::Period;
use crate::{Channel, Priority, TeamId, TicketType, UserId};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

/// Which day a cell counts tickets on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Basis {
    Created,
    Resolved,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Created => "created",
            Basis::Resolved => "resolved",
        }
    }
}

/// Whether the ticket counts by default, or is one a metric may opt into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    Counted,
    Withdrawn,
    Merged,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Counted => "counted",
            Scope::Withdrawn => "withdrawn",
            Scope::Merged => "merged",
        }
    }
}

/// What a ticket is grouped by.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dims {
    pub channel: Channel,
    pub ticket_type: TicketType,
    pub priority: Priority,
    pub team: Option<TeamId>,
    /// The first owner: whom registered tickets count for.
    pub first_owner: UserId,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub day: NaiveDate,
    pub basis: Basis,
    pub scope: Scope,
    pub team: Option<TeamId>,
    /// The first owner (basis created) or who resolved it (basis resolved).
    pub agent: Option<UserId>,
    pub channel: Channel,
    pub ticket_type: TicketType,
    pub priority: Priority,
    /// `registered`, `resolved`, `first_contact`, `rating:4`,
    /// `span:handling_time`, `deadline:response` …
    pub measure: String,
}

/// Tickets counted, and the sums of their values (a span's seconds in
/// natural and working time; a deadline's 1 if met).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cell {
    pub n: i64,
    pub sum: f64,
    pub sum_working: f64,
}

impl Cell {
    pub fn add(&mut self, o: &Cell, sign: i64) {
        self.n += sign * o.n;
        self.sum += sign as f64 * o.sum;
        self.sum_working += sign as f64 * o.sum_working;
    }

    pub fn is_zero(&self) -> bool {
        self.n == 0 && self.sum.abs() < 1e-6 && self.sum_working.abs() < 1e-6
    }
}

/// What `facts` of a ticket with `dims` add to the cells.
pub fn contributions(facts: &Facts, dims: &Dims) -> Vec<(Key, Cell)> {
    let scope = if facts.merged {
        Scope::Merged
    } else if facts.withdrawn {
        Scope::Withdrawn
    } else {
        Scope::Counted
    };
    let key = |day, basis, agent, measure: String| Key {
        day,
        basis,
        scope,
        team: dims.team,
        agent,
        channel: dims.channel,
        ticket_type: dims.ticket_type,
        priority: dims.priority,
        measure,
    };
    let one = Cell { n: 1, ..Cell::default() };
    let mut out = Vec::new();
    let created = crate::time::shanghai_date(dims.created_at);
    let owner = Some(dims.first_owner);
    for (name, on) in [
        ("registered", true),
        ("transferred", facts.transferred),
        ("escalated", facts.escalated),
        ("complaint", facts.complaint),
        ("breached", facts.breached),
    ] {
        if on {
            out.push((key(created, Basis::Created, owner, name.to_string()), one));
        }
    }
    let resolver = facts.resolver;
    for s in &facts.spans {
        // A span counts where its metric attributes it: the registration
        // day and first owner, or the day its stop event happened and who
        // resolved the ticket.
        let (basis, day, agent) = match s.period {
            Period::Created => (Basis::Created, created, owner),
            _ => (Basis::Resolved, crate::time::shanghai_date(s.at), resolver),
        };
        let cell = Cell { n: 1, sum: s.natural_secs as f64, sum_working: s.working_secs as f64 };
        out.push((key(day, basis, agent, format!("span:{}", s.metric)), cell));
    }
    let Some(resolved_at) = facts.resolved_at else { return out };
    let day = crate::time::shanghai_date(resolved_at);
    for (name, on) in [
        ("resolved", true),
        ("resolved_in_limit", facts.resolved_in_limit),
        ("first_contact", facts.first_contact),
        ("one_touch", facts.one_touch),
        ("reopened", facts.reopened),
        ("appealed", facts.appealed),
        ("visited", facts.visited),
    ] {
        if on {
            out.push((key(day, Basis::Resolved, resolver, name.to_string()), one));
        }
    }
    if let Some(r) = facts.rating {
        out.push((key(day, Basis::Resolved, resolver, format!("rating:{r}")), one));
    }
    if let Some(r) = facts.recommend {
        out.push((key(day, Basis::Resolved, resolver, format!("recommend:{r}")), one));
    }
    for d in &facts.deadlines {
        let cell = Cell { n: 1, sum: if d.met { 1.0 } else { 0.0 }, sum_working: 0.0 };
        out.push((key(day, Basis::Resolved, resolver, format!("deadline:{}", d.kind)), cell));
    }
    out
}

/// The change to the cells when a ticket's facts go from `old` to `new`:
/// cells whose sum is zero are left out.
pub fn delta(old: Option<(&Facts, &Dims)>, new: Option<(&Facts, &Dims)>) -> BTreeMap<Key, Cell> {
    let mut out: BTreeMap<Key, Cell> = BTreeMap::new();
    for (sign, side) in [(-1, old), (1, new)] {
        if let Some((f, d)) = side {
            for (k, c) in contributions(f, d) {
                out.entry(k).or_default().add(&c, sign);
            }
        }
    }
    out.retain(|_, c| !c.is_zero());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{DeadlineOutcome, Span};

    /// A small deterministic generator (no dependency for one test).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn coin(&mut self) -> bool {
            self.below(2) == 0
        }
    }

    fn random(rng: &mut Rng) -> (Facts, Dims) {
        let created_at = DateTime::from_timestamp(1_790_000_000 + rng.below(90 * 86_400) as i64, 0).unwrap();
        let resolved_at = rng.coin().then(|| created_at + chrono::Duration::seconds(rng.below(10 * 86_400) as i64));
        let facts = Facts {
            open: resolved_at.is_none(),
            resolved_at,
            resolver: resolved_at.map(|_| UserId(rng.below(4) as i64 + 1)),
            withdrawn: rng.below(10) == 0,
            merged: rng.below(20) == 0,
            transferred: rng.coin(),
            escalated: rng.coin(),
            reopened: rng.coin(),
            appealed: rng.coin(),
            visited: rng.coin(),
            rating: rng.coin().then(|| rng.below(5) as u8 + 1),
            satisfied: false,
            recommend: rng.coin().then(|| rng.below(11) as u8),
            complaint: rng.coin(),
            breached: rng.coin(),
            first_contact: rng.coin(),
            one_touch: rng.coin(),
            resolved_in_limit: rng.coin(),
            deadlines: vec![DeadlineOutcome { kind: "response".into(), met: rng.coin() }],
            spans: resolved_at
                .map(|at| Span {
                    metric: "resolution_time".into(),
                    natural_secs: 3600,
                    working_secs: 1800,
                    at,
                    period: Period::Resolved,
                })
                .into_iter()
                .collect(),
        };
        let dims = Dims {
            channel: Channel::ALL[rng.below(Channel::ALL.len() as u64) as usize],
            ticket_type: TicketType::ALL[rng.below(TicketType::ALL.len() as u64) as usize],
            priority: Priority::ALL[rng.below(Priority::ALL.len() as u64) as usize],
            team: rng.coin().then(|| TeamId(rng.below(3) as i64 + 1)),
            first_owner: UserId(rng.below(4) as i64 + 1),
            created_at,
        };
        (facts, dims)
    }

    #[test]
    fn cells_kept_by_deltas_equal_a_recomputation_from_scratch() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _round in 0..20 {
            let mut tickets: Vec<Option<(Facts, Dims)>> = vec![None; 40];
            let mut cells: BTreeMap<Key, Cell> = BTreeMap::new();
            // Random histories: tickets created, changed many times, purged.
            for _ in 0..400 {
                let i = rng.below(tickets.len() as u64) as usize;
                let next = if rng.below(8) == 0 { None } else { Some(random(&mut rng)) };
                let d = delta(tickets[i].as_ref().map(|(f, d)| (f, d)), next.as_ref().map(|(f, d)| (f, d)));
                for (k, c) in d {
                    cells.entry(k).or_default().add(&c, 1);
                }
                cells.retain(|_, c| !c.is_zero());
                tickets[i] = next;
            }
            let mut scratch: BTreeMap<Key, Cell> = BTreeMap::new();
            for (f, d) in tickets.iter().flatten() {
                for (k, c) in contributions(f, d) {
                    scratch.entry(k).or_default().add(&c, 1);
                }
            }
            assert_eq!(cells.len(), scratch.len());
            for (k, c) in &scratch {
                let kept = cells.get(k).unwrap_or_else(|| panic!("missing {k:?}"));
                assert_eq!(kept.n, c.n, "{k:?}");
                assert!((kept.sum - c.sum).abs() < 1e-6 && (kept.sum_working - c.sum_working).abs() < 1e-6, "{k:?}");
            }
        }
    }

    #[test]
    fn a_ticket_counts_on_its_registration_and_resolution_days_in_shanghai() {
        let mut rng = Rng(7);
        let (mut f, mut d) = random(&mut rng);
        // 23:30 Shanghai on 30 November is still the 30th there, the 30th in UTC too;
        // 00:30 Shanghai on 1 December is 16:30 UTC on the 30th.
        d.created_at = "2026-11-30T15:30:00Z".parse().unwrap();
        f.resolved_at = Some("2026-11-30T16:30:00Z".parse().unwrap());
        f.resolver = Some(UserId(9));
        f.spans.clear();
        (f.withdrawn, f.merged) = (false, false);
        let c = contributions(&f, &d);
        let reg = c.iter().find(|(k, _)| k.measure == "registered").unwrap();
        assert_eq!((reg.0.day.to_string(), reg.0.agent), ("2026-11-30".to_string(), Some(d.first_owner)));
        let res = c.iter().find(|(k, _)| k.measure == "resolved").unwrap();
        assert_eq!(
            (res.0.day.to_string(), res.0.agent, res.0.scope),
            ("2026-12-01".to_string(), Some(UserId(9)), Scope::Counted)
        );
        f.withdrawn = true;
        assert!(contributions(&f, &d).iter().all(|(k, _)| k.scope == Scope::Withdrawn));
    }
}
