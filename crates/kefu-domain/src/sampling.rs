//! QA sampling: which tickets of a cycle the inspectors review —
//! every ticket of a mandatory kind (complaints, reopened or appealed, low
//! satisfaction, breaches, regulator complaints) plus N drawn at random per
//! agent (per team when the policy says). The draw is a hash of the cycle
//! and the ticket, so every node and every page shows the same sample.
//! Automatic pre-checks only flag a ticket for a human, never deduct.

use crate::{TeamId, TicketId, UserId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a ticket is in the sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Complaint,
    /// A complaint naming a regulator (工信部, 12300 …) in its title or
    /// description (`regulator_words`).
    Regulator,
    Reopened,
    Appealed,
    LowSatisfaction,
    Breached,
    Random,
}

impl Reason {
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Reason::Complaint => ("投诉", "Complaint"),
            Reason::Regulator => ("监管申诉", "Regulator complaint"),
            Reason::Reopened => ("重开", "Reopened"),
            Reason::Appealed => ("客户申诉", "Appealed"),
            Reason::LowSatisfaction => ("低满意度", "Low satisfaction"),
            Reason::Breached => ("超时", "Breached"),
            Reason::Random => ("随机抽检", "Random"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingPolicy {
    /// Tickets drawn at random per agent per cycle, besides the mandatory ones.
    pub per_agent: u32,
    /// Per team code, instead of `per_agent`.
    pub per_agent_by_team: BTreeMap<String, u32>,
    /// Kinds always reviewed.
    pub mandatory: Vec<Reason>,
    /// A rating below this is low satisfaction.
    pub low_rating_below: u8,
    /// Reviews each reviewer aims at per month.
    pub goal_per_reviewer: u32,
    /// Phrases a customer-visible reply must not hold (flagged, not deducted).
    pub forbidden_words: Vec<String>,
    /// A complaint whose title or description holds one of these is a
    /// regulator complaint (监管申诉).
    pub regulator_words: Vec<String>,
}

impl Default for SamplingPolicy {
    fn default() -> Self {
        SamplingPolicy {
            per_agent: 3,
            per_agent_by_team: BTreeMap::new(),
            mandatory: vec![
                Reason::Complaint,
                Reason::Regulator,
                Reason::Reopened,
                Reason::Appealed,
                Reason::LowSatisfaction,
                Reason::Breached,
            ],
            low_rating_below: 3,
            goal_per_reviewer: 60,
            forbidden_words: [
                "不归我管",
                "不知道",
                "没办法",
                "你自己看",
                "爱办不办",
                "找别人去",
                "我也没办法",
                "这是规定",
            ]
            .map(String::from)
            .to_vec(),
            regulator_words: ["工信部", "通信管理局", "通管局", "管局", "12300", "12315", "12345", "消协", "市场监管"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// What sampling knows of a resolved ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub ticket: TicketId,
    /// Whose work it is (who resolved it).
    pub agent: UserId,
    pub team: Option<TeamId>,
    pub complaint: bool,
    /// Names a regulator (`names_regulator`).
    pub regulator: bool,
    pub reopened: bool,
    pub appealed: bool,
    pub rating: Option<u8>,
    pub breached: bool,
}

/// A ticket drawn, with every reason it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    pub ticket: TicketId,
    pub agent: UserId,
    pub reasons: Vec<Reason>,
}

/// FNV-1a: a stable draw order, the same on every node and release.
fn draw_order(seed: &str, ticket: TicketId) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in seed.bytes().chain(ticket.0.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn mandatory_reasons(p: &SamplingPolicy, c: &Candidate) -> Vec<Reason> {
    let hit = |r: Reason| match r {
        Reason::Complaint => c.complaint,
        Reason::Regulator => c.complaint && c.regulator,
        Reason::Reopened => c.reopened,
        Reason::Appealed => c.appealed,
        Reason::LowSatisfaction => c.rating.is_some_and(|r| r < p.low_rating_below),
        Reason::Breached => c.breached,
        Reason::Random => false,
    };
    p.mandatory.iter().copied().filter(|r| hit(*r)).collect()
}

/// The sample of a cycle (`seed` names it, e.g. `2026-11`); `team_code`
/// gives a team's code for the per-team counts. Ordered by agent, then
/// mandatory before random, then ticket.
pub fn sample(
    p: &SamplingPolicy,
    seed: &str,
    candidates: &[Candidate],
    team_code: impl Fn(TeamId) -> Option<String>,
) -> Vec<Drawn> {
    let mut by_agent: BTreeMap<UserId, Vec<&Candidate>> = BTreeMap::new();
    for c in candidates {
        by_agent.entry(c.agent).or_default().push(c);
    }
    let mut out = Vec::new();
    for (agent, list) in by_agent {
        let per = list
            .iter()
            .find_map(|c| c.team)
            .and_then(&team_code)
            .and_then(|code| p.per_agent_by_team.get(&code).copied())
            .unwrap_or(p.per_agent) as usize;
        let mut rest = Vec::new();
        let mut mine = Vec::new();
        for c in list {
            let reasons = mandatory_reasons(p, c);
            if reasons.is_empty() {
                rest.push(c);
            } else {
                mine.push(Drawn { ticket: c.ticket, agent, reasons });
            }
        }
        mine.sort_by_key(|d| d.ticket);
        rest.sort_by_key(|c| (draw_order(seed, c.ticket), c.ticket));
        let mut random: Vec<Drawn> = rest
            .into_iter()
            .take(per)
            .map(|c| Drawn { ticket: c.ticket, agent, reasons: vec![Reason::Random] })
            .collect();
        random.sort_by_key(|d| d.ticket);
        out.extend(mine);
        out.extend(random);
    }
    out
}

/// Whether a ticket's text names a regulator.
pub fn names_regulator(p: &SamplingPolicy, text: &str) -> bool {
    p.regulator_words.iter().any(|w| !w.is_empty() && text.contains(w.as_str()))
}

/// The forbidden phrases a text holds.
pub fn forbidden_in<'a>(p: &'a SamplingPolicy, text: &str) -> Vec<&'a str> {
    p.forbidden_words.iter().map(String::as_str).filter(|w| !w.is_empty() && text.contains(w)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(ticket: i64, agent: i64) -> Candidate {
        Candidate {
            ticket: TicketId(ticket),
            agent: UserId(agent),
            team: None,
            complaint: false,
            regulator: false,
            reopened: false,
            appealed: false,
            rating: None,
            breached: false,
        }
    }

    fn none(_: TeamId) -> Option<String> {
        None
    }

    #[test]
    fn mandatory_kinds_always_and_n_random_per_agent() {
        let p = SamplingPolicy::default();
        let mut list: Vec<Candidate> = (1..=10).map(|i| c(i, 1)).chain((11..=12).map(|i| c(i, 2))).collect();
        list[0].complaint = true;
        list[0].regulator = true;
        list[1].reopened = true;
        list[2].rating = Some(2);
        list[3].rating = Some(3);
        list[4].breached = true;
        list[5].appealed = true;
        let s = sample(&p, "2026-11", &list, none);
        let agent1: Vec<&Drawn> = s.iter().filter(|d| d.agent == UserId(1)).collect();
        let mandatory: Vec<i64> = agent1.iter().filter(|d| d.reasons != [Reason::Random]).map(|d| d.ticket.0).collect();
        assert_eq!(mandatory, vec![1, 2, 3, 5, 6], "rating 3 is not low");
        assert_eq!(agent1[0].reasons, vec![Reason::Complaint, Reason::Regulator]);
        assert_eq!(agent1.iter().filter(|d| d.reasons == [Reason::Random]).count(), 3);
        assert_eq!(s.iter().filter(|d| d.agent == UserId(2)).count(), 2, "all there is when fewer than N");
        // The same draw every time; another cycle draws others.
        assert_eq!(s, sample(&p, "2026-11", &list, none));
        let randoms = |s: &[Drawn]| {
            s.iter()
                .filter(|d| d.reasons == [Reason::Random] && d.agent == UserId(1))
                .map(|d| d.ticket)
                .collect::<Vec<_>>()
        };
        let other: Vec<Vec<TicketId>> =
            ["2026-10", "2026-09", "2026-08"].iter().map(|k| randoms(&sample(&p, k, &list, none))).collect();
        assert!(other.iter().any(|o| *o != randoms(&s)), "the draw depends on the cycle");
    }

    #[test]
    fn counts_per_team_and_mandatory_kinds_are_policy() {
        let p = SamplingPolicy {
            per_agent_by_team: BTreeMap::from([("fault".into(), 1)]),
            mandatory: vec![Reason::Breached],
            ..SamplingPolicy::default()
        };
        let mut list: Vec<Candidate> = (1..=6).map(|i| Candidate { team: Some(TeamId(7)), ..c(i, 1) }).collect();
        list[0].complaint = true;
        let s = sample(&p, "2026-11", &list, |t| (t == TeamId(7)).then(|| "fault".to_string()));
        assert_eq!(s.len(), 1, "one random, complaints not mandatory here: {s:?}");
    }

    #[test]
    fn forbidden_words_are_found() {
        let p = SamplingPolicy::default();
        assert_eq!(forbidden_in(&p, "这个不归我管，你找别人去"), vec!["不归我管", "找别人去"]);
        assert!(forbidden_in(&p, "已为您处理完毕").is_empty());
        assert!(names_regulator(&p, "再不解决我就打12300投诉"));
        assert!(names_regulator(&p, "已向工信部申诉"));
        assert!(!names_regulator(&p, "宽带断网三天，要求尽快修复"));
    }
}
