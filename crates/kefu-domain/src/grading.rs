//! Store grades: a store's score in a period gives its grade (≥ 95
//! 优秀, 90–95 良好, 80–90 达标, below 80 不达标), and at grading the
//! quotas hold (优秀 at most 5 %, 良好 at most 20 % of the stores graded):
//! by rank, stores beyond a quota are demoted to the next grade — or the
//! grading is refused, as the policy says. All thresholds are policy
//! (`[quality.grades]`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    Excellent,
    Good,
    Compliant,
    Failing,
}

impl Grade {
    pub const ALL: [Grade; 4] = [Grade::Excellent, Grade::Good, Grade::Compliant, Grade::Failing];

    pub fn code(self) -> &'static str {
        match self {
            Grade::Excellent => "excellent",
            Grade::Good => "good",
            Grade::Compliant => "compliant",
            Grade::Failing => "failing",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Grade::Excellent => ("优秀", "Excellent"),
            Grade::Good => ("良好", "Good"),
            Grade::Compliant => ("达标", "Compliant"),
            Grade::Failing => ("不达标", "Failing"),
        }
    }

    pub fn parse(raw: &str) -> Option<Grade> {
        Grade::ALL.into_iter().find(|g| g.code() == raw)
    }

    fn below(self) -> Grade {
        match self {
            Grade::Excellent => Grade::Good,
            Grade::Good => Grade::Compliant,
            g => g,
        }
    }
}

/// How a share of the stores becomes a number of stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// "不超过": 5 % of 19 stores is 0 (the quota is a ceiling).
    Floor,
    Round,
    Ceil,
}

/// Stores tied on the last place a quota allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ties {
    /// All of them go down: the quota is never exceeded.
    Demote,
    /// All of them keep the grade: equal scores, equal grades.
    Admit,
}

/// What grading does with stores beyond a quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverQuota {
    /// Down to the next grade, by rank (差额认定).
    Demote,
    /// The grading is refused until inspections are reviewed.
    Refuse,
}

/// How several inspections of one store in a period combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    Mean,
    Latest,
    Lowest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradePolicy {
    pub excellent_from: f64,
    pub good_from: f64,
    pub compliant_from: f64,
    /// The most stores graded 优秀, as a share of the stores graded.
    pub excellent_quota: f64,
    pub good_quota: f64,
    pub rounding: Rounding,
    pub ties: Ties,
    pub over_quota: OverQuota,
    pub combine: Combine,
    /// A store graded 不达标 by an inspection rectifies within this many
    /// working days; its next inspection is the re-check.
    #[serde(default = "rectification_days")]
    pub rectification_days: u32,
}

fn rectification_days() -> u32 {
    10
}

impl Default for GradePolicy {
    fn default() -> Self {
        GradePolicy {
            excellent_from: 95.0,
            good_from: 90.0,
            compliant_from: 80.0,
            excellent_quota: 0.05,
            good_quota: 0.20,
            rounding: Rounding::Floor,
            ties: Ties::Demote,
            over_quota: OverQuota::Demote,
            combine: Combine::Mean,
            rectification_days: rectification_days(),
        }
    }
}

impl GradePolicy {
    pub fn check(&self) -> Result<(), String> {
        let ok = self.compliant_from < self.good_from
            && self.good_from < self.excellent_from
            && [self.excellent_quota, self.good_quota].iter().all(|q| (0.0..=1.0).contains(q));
        if ok {
            Ok(())
        } else {
            Err("[quality.grades]: thresholds must rise compliant < good < excellent, quotas lie in 0..1".into())
        }
    }

    /// The grade of a score before quotas.
    pub fn grade(&self, score: f64) -> Grade {
        if score >= self.excellent_from {
            Grade::Excellent
        } else if score >= self.good_from {
            Grade::Good
        } else if score >= self.compliant_from {
            Grade::Compliant
        } else {
            Grade::Failing
        }
    }

    /// The most stores a quota allows among `n`.
    pub fn quota(&self, grade: Grade, n: usize) -> Option<usize> {
        let share = match grade {
            Grade::Excellent => self.excellent_quota,
            Grade::Good => self.good_quota,
            _ => return None,
        };
        let exact = share * n as f64;
        // A share of 0.05 × 20 is 1.0000000000000002 in floating point.
        let exact = (exact * 1e9).round() / 1e9;
        Some(match self.rounding {
            Rounding::Floor => exact.floor(),
            Rounding::Round => exact.round(),
            Rounding::Ceil => exact.ceil(),
        } as usize)
    }

    /// A period's score of a store from its inspections (oldest first).
    pub fn combine(&self, scores: &[f64]) -> Option<f64> {
        let s = match self.combine {
            Combine::Mean => scores.iter().sum::<f64>() / scores.len() as f64,
            Combine::Latest => *scores.last()?,
            Combine::Lowest => scores.iter().copied().fold(f64::INFINITY, f64::min),
        };
        (!scores.is_empty()).then_some((s * 100.0).round() / 100.0)
    }
}

/// One store's place in a grading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graded {
    pub key: String,
    pub score: f64,
    /// 1 for the best; equal scores share a rank.
    pub rank: usize,
    /// By score alone.
    pub earned: Grade,
    /// After the quotas.
    pub grade: Grade,
}

/// A grading refused: how many stores each grade has beyond its quota.
#[derive(Debug, Clone, PartialEq)]
pub struct OverQuotas(pub Vec<(Grade, usize, usize)>);

/// Grades every store of a period: by score, then the quotas by rank.
pub fn grade_all(policy: &GradePolicy, scores: &[(String, f64)]) -> Result<Vec<Graded>, OverQuotas> {
    let mut ranked: Vec<(String, f64)> = scores.to_vec();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out: Vec<Graded> = Vec::with_capacity(ranked.len());
    for (i, (key, score)) in ranked.into_iter().enumerate() {
        let rank = match out.last() {
            Some(prev) if prev.score == score => prev.rank,
            _ => i + 1,
        };
        let earned = policy.grade(score);
        out.push(Graded { key, score, rank, earned, grade: earned });
    }
    let n = out.len();
    let mut over = Vec::new();
    for g in [Grade::Excellent, Grade::Good] {
        let quota = policy.quota(g, n).unwrap_or(n);
        let holders: Vec<usize> = (0..n).filter(|&i| out[i].grade == g).collect();
        if holders.len() <= quota {
            continue;
        }
        if policy.over_quota == OverQuota::Refuse {
            over.push((g, holders.len(), quota));
            continue;
        }
        let keep = kept(&out, &holders, quota, policy.ties);
        for &i in &holders[keep..] {
            out[i].grade = g.below();
        }
    }
    if over.is_empty() { Ok(out) } else { Err(OverQuotas(over)) }
}

/// How many of `holders` (by rank) keep their grade under `quota`.
fn kept(out: &[Graded], holders: &[usize], quota: usize, ties: Ties) -> usize {
    if quota == 0 {
        return 0;
    }
    let boundary = out[holders[quota - 1]].score;
    let next_ties = out[holders[quota]].score == boundary;
    match (ties, next_ties) {
        (_, false) => quota,
        (Ties::Admit, true) => holders.iter().take_while(|&&i| out[i].score >= boundary).count(),
        (Ties::Demote, true) => holders.iter().take_while(|&&i| out[i].score > boundary).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stores(scores: &[f64]) -> Vec<(String, f64)> {
        scores.iter().enumerate().map(|(i, s)| (format!("S{i:02}"), *s)).collect()
    }

    fn grades(out: &[Graded]) -> Vec<(&str, Grade)> {
        out.iter().map(|g| (g.key.as_str(), g.grade)).collect()
    }

    #[test]
    fn thresholds_are_inclusive_at_the_bottom() {
        let p = GradePolicy::default();
        assert_eq!(p.grade(100.0), Grade::Excellent);
        assert_eq!(p.grade(95.0), Grade::Excellent);
        assert_eq!(p.grade(94.99), Grade::Good);
        assert_eq!(p.grade(90.0), Grade::Good);
        assert_eq!(p.grade(89.99), Grade::Compliant);
        assert_eq!(p.grade(80.0), Grade::Compliant);
        assert_eq!(p.grade(79.99), Grade::Failing);
        assert_eq!(p.grade(0.0), Grade::Failing);
    }

    #[test]
    fn quotas_floor_by_default() {
        let p = GradePolicy::default();
        assert_eq!(p.quota(Grade::Excellent, 19), Some(0), "5 % of 19 is 0.95: none");
        assert_eq!(p.quota(Grade::Excellent, 20), Some(1));
        assert_eq!(p.quota(Grade::Good, 19), Some(3));
        assert_eq!(p.quota(Grade::Good, 20), Some(4));
        assert_eq!(p.quota(Grade::Compliant, 20), None);
        let round = GradePolicy { rounding: Rounding::Round, ..p.clone() };
        assert_eq!(round.quota(Grade::Excellent, 19), Some(1));
        let ceil = GradePolicy { rounding: Rounding::Ceil, ..p };
        assert_eq!(ceil.quota(Grade::Excellent, 1), Some(1));
    }

    #[test]
    fn nineteen_stores_none_excellent_three_good() {
        // Five stores earn 优秀, three more 良好: with 19 stores no 优秀 is
        // allowed, and only three 良好 — the best three; the rest 达标.
        let mut s = vec![99.0, 98.0, 97.0, 96.0, 95.0, 93.0, 92.0, 91.0];
        s.extend(std::iter::repeat_n(85.0, 9));
        s.extend([70.0, 60.0]);
        let out = grade_all(&GradePolicy::default(), &stores(&s)).unwrap();
        assert_eq!(out.len(), 19);
        let count = |g| out.iter().filter(|x| x.grade == g).count();
        assert_eq!(count(Grade::Excellent), 0);
        assert_eq!(count(Grade::Good), 3);
        assert_eq!(count(Grade::Compliant), 14);
        assert_eq!(count(Grade::Failing), 2);
        assert_eq!(
            &grades(&out)[..4],
            &[("S00", Grade::Good), ("S01", Grade::Good), ("S02", Grade::Good), ("S03", Grade::Compliant)]
        );
        assert!(out.iter().all(|g| g.grade <= Grade::Failing && g.grade >= g.earned), "never promoted");
    }

    #[test]
    fn twenty_stores_keep_the_best_and_demote_by_rank() {
        let mut s = vec![97.0, 99.0, 96.0];
        s.extend(std::iter::repeat_n(91.0, 2));
        s.extend(std::iter::repeat_n(82.0, 15));
        let out = grade_all(&GradePolicy::default(), &stores(&s)).unwrap();
        assert_eq!(out[0].key, "S01", "ranked by score");
        assert_eq!(out[0].grade, Grade::Excellent);
        // Two demoted from 优秀 take 良好 places; with 4 allowed both 91s keep 良好.
        assert_eq!(out[1].grade, Grade::Good);
        assert_eq!(out[2].grade, Grade::Good);
        assert_eq!(out[3].grade, Grade::Good);
        assert_eq!(out[4].grade, Grade::Good);
        assert_eq!(out[5].grade, Grade::Compliant);
        assert_eq!(out[1].earned, Grade::Excellent);
    }

    #[test]
    fn ties_at_the_boundary() {
        // 20 stores, one 优秀 place, two stores tied at 96.
        let mut s = vec![96.0, 96.0];
        s.extend(std::iter::repeat_n(85.0, 18));
        let demote = grade_all(&GradePolicy::default(), &stores(&s)).unwrap();
        assert_eq!(demote[0].rank, 1);
        assert_eq!(demote[1].rank, 1, "equal scores share a rank");
        assert_eq!((demote[0].grade, demote[1].grade), (Grade::Good, Grade::Good), "the quota is never exceeded");
        let admit = grade_all(&GradePolicy { ties: Ties::Admit, ..GradePolicy::default() }, &stores(&s)).unwrap();
        assert_eq!((admit[0].grade, admit[1].grade), (Grade::Excellent, Grade::Excellent));
        assert_eq!(admit[2].rank, 3);
        // A tie below the boundary does not matter.
        let mut s = vec![98.0, 96.0, 96.0];
        s.extend(std::iter::repeat_n(85.0, 17));
        let out = grade_all(&GradePolicy::default(), &stores(&s)).unwrap();
        assert_eq!(grades(&out)[..3], [("S00", Grade::Excellent), ("S01", Grade::Good), ("S02", Grade::Good)]);
    }

    #[test]
    fn refusal_names_each_grade_over_its_quota() {
        let p = GradePolicy { over_quota: OverQuota::Refuse, ..GradePolicy::default() };
        let err = grade_all(&p, &stores(&[99.0, 98.0, 92.0, 81.0])).unwrap_err();
        assert_eq!(err.0, vec![(Grade::Excellent, 2, 0), (Grade::Good, 1, 0)]);
        assert!(grade_all(&p, &stores(&[85.0, 70.0])).is_ok());
    }

    #[test]
    fn empty_and_single() {
        assert!(grade_all(&GradePolicy::default(), &[]).unwrap().is_empty());
        let one = grade_all(&GradePolicy::default(), &stores(&[100.0])).unwrap();
        assert_eq!(one[0].grade, Grade::Compliant, "one store: 5 % and 20 % of 1 are both 0");
    }

    #[test]
    fn combining_inspections() {
        let p = GradePolicy::default();
        assert_eq!(p.combine(&[90.0, 95.0, 100.0]), Some(95.0));
        assert_eq!(p.combine(&[]), None);
        assert_eq!(GradePolicy { combine: Combine::Latest, ..p.clone() }.combine(&[90.0, 80.0]), Some(80.0));
        assert_eq!(GradePolicy { combine: Combine::Lowest, ..p.clone() }.combine(&[90.0, 70.0, 80.0]), Some(70.0));
        assert_eq!(p.combine(&[90.0, 91.0, 91.0]), Some(90.67));
    }

    #[test]
    fn policy_checks() {
        assert!(GradePolicy::default().check().is_ok());
        assert!(GradePolicy { good_from: 96.0, ..GradePolicy::default() }.check().is_err());
        assert!(GradePolicy { excellent_quota: 1.5, ..GradePolicy::default() }.check().is_err());
    }
}
