//! The assessment scorecard (考核评分, R-31): each agent's month or quarter
//! as a weighted sum of dimensions — response time 20 %, resolution rate
//! 30 %, service quality 20 %, complaint handling efficiency 15 %, service
//! innovation 15 % by default — each scored 0–100 from its source (a KPI
//! of the metric dictionary, the QA reviews, the recorded innovation
//! entries), plus bonus and minus deduction lines from violations. Weights,
//! sources and scoring are policy (`[quality.assessment]`).

use serde::{Deserialize, Serialize};

/// Where a dimension's figure comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A KPI of the metric dictionary for the agent, optionally for one
    /// ticket type.
    Metric {
        metric: String,
        #[serde(default)]
        ticket_type: Option<String>,
        scoring: Scoring,
    },
    /// The mean score of the agent's QA reviews (calibration excluded).
    Reviews,
    /// The points of the recorded innovation entries, up to `cap`.
    Innovation { cap: f64 },
}

/// How a KPI value becomes 0–100.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scoring {
    /// A share (0–1) times 100.
    Share,
    /// Hours: 100 at or under `full`, 0 at or over `zero`, linear between.
    Hours { full: f64, zero: f64 },
}

impl Scoring {
    pub fn apply(&self, value: f64) -> f64 {
        let s = match *self {
            Scoring::Share => value * 100.0,
            Scoring::Hours { full, .. } if value <= full => 100.0,
            Scoring::Hours { zero, .. } if value >= zero => 0.0,
            Scoring::Hours { full, zero } => (zero - value) / (zero - full) * 100.0,
        };
        s.clamp(0.0, 100.0)
    }
}

// No deny_unknown_fields: serde does not allow it beside `flatten`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dimension {
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    /// A share of the total; the weights add up to 1.
    pub weight: f64,
    #[serde(flatten)]
    pub source: Source,
}

/// A dimension with nothing to measure (no complaint handled in the month).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Its weight is shared among the measured dimensions.
    Redistribute,
    /// It scores 0.
    Zero,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssessmentPolicy {
    pub missing: Missing,
    /// The most the violation lines take from one total.
    pub deduction_cap: f64,
    pub dimensions: Vec<Dimension>,
}

impl Default for AssessmentPolicy {
    fn default() -> Self {
        let metric = |metric: &str, ticket_type: Option<&str>, scoring| Source::Metric {
            metric: metric.into(),
            ticket_type: ticket_type.map(str::to_string),
            scoring,
        };
        let dim = |key: &str, zh: &str, en: &str, weight, source| Dimension {
            key: key.into(),
            name_zh: zh.into(),
            name_en: en.into(),
            weight,
            source,
        };
        AssessmentPolicy {
            missing: Missing::Redistribute,
            deduction_cap: 100.0,
            dimensions: vec![
                dim(
                    "response_time",
                    "响应时效",
                    "Response time",
                    0.20,
                    metric("first_response_time", None, Scoring::Hours { full: 2.0, zero: 24.0 }),
                ),
                dim(
                    "resolution_rate",
                    "解决率",
                    "Resolution rate",
                    0.30,
                    metric("resolved_in_limit_rate", None, Scoring::Share),
                ),
                dim("service_quality", "服务质量", "Service quality", 0.20, Source::Reviews),
                dim(
                    "complaint_efficiency",
                    "投诉处理效率",
                    "Complaint handling efficiency",
                    0.15,
                    metric("on_time_rate", Some("complaint"), Scoring::Share),
                ),
                dim("innovation", "服务创新", "Service innovation", 0.15, Source::Innovation { cap: 100.0 }),
            ],
        }
    }
}

impl AssessmentPolicy {
    pub fn check(&self) -> Result<(), String> {
        let sum: f64 = self.dimensions.iter().map(|d| d.weight).sum();
        if self.dimensions.is_empty() || (sum - 1.0).abs() > 1e-6 || self.dimensions.iter().any(|d| d.weight < 0.0) {
            return Err(format!(
                "[quality.assessment]: dimension weights must be ≥ 0 and add up to 1 (they add up to {sum})"
            ));
        }
        for d in &self.dimensions {
            if let Source::Innovation { cap } = d.source
                && !(cap.is_finite() && cap > 0.0)
            {
                return Err(format!("[quality.assessment] {}: cap must be > 0", d.key));
            }
            if let Source::Metric { scoring: Scoring::Hours { full, zero }, .. } = d.source
                && !(full >= 0.0 && zero > full)
            {
                return Err(format!("[quality.assessment] {}: hours scoring needs 0 ≤ full < zero", d.key));
            }
        }
        if self.deduction_cap.is_nan() || self.deduction_cap < 0.0 {
            return Err("[quality.assessment] deduction_cap must be ≥ 0".into());
        }
        Ok(())
    }
}

/// One dimension of one agent's assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    pub key: String,
    /// The source figure (a share as a fraction, hours, a mean score,
    /// innovation points); null when there was nothing to measure.
    pub value: Option<f64>,
    /// How many tickets, reviews or entries the figure counts.
    pub n: i64,
    /// 0–100; null when not measured.
    pub score: Option<f64>,
    /// The weight in the policy.
    pub weight: f64,
    /// The weight applied (after a missing dimension's weight is shared).
    pub applied_weight: f64,
    /// `score × applied_weight`.
    pub points: f64,
}

/// What an agent's total comes to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Total {
    pub components: Vec<Component>,
    /// The weighted sum before adjustments.
    pub weighted: f64,
    pub bonus: f64,
    pub deduction: f64,
    pub total: f64,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Weighs `measured` (per dimension of the policy, in its order: the source
/// figure, how many it counts, its 0–100 score) and applies the lines.
pub fn weigh(
    policy: &AssessmentPolicy,
    measured: &[(Option<f64>, i64, Option<f64>)],
    bonus: f64,
    deduction: f64,
) -> Total {
    let present: f64 =
        policy.dimensions.iter().zip(measured).filter(|(_, m)| m.2.is_some()).map(|(d, _)| d.weight).sum();
    let scale = match policy.missing {
        Missing::Redistribute if present > 0.0 => 1.0 / present,
        _ => 1.0,
    };
    let components: Vec<Component> = policy
        .dimensions
        .iter()
        .zip(measured)
        .map(|(d, &(value, n, score))| {
            let applied = match (policy.missing, score) {
                (Missing::Redistribute, None) => 0.0,
                _ => d.weight * scale,
            };
            Component {
                key: d.key.clone(),
                value,
                n,
                score: score.map(round2),
                weight: d.weight,
                applied_weight: (applied * 1e6).round() / 1e6,
                points: round2(score.unwrap_or(0.0) * applied),
            }
        })
        .collect();
    // From the exact products: the total is the figure worked by hand, not
    // a sum of rounded parts.
    let weighted: f64 = policy
        .dimensions
        .iter()
        .zip(measured)
        .map(|(d, m)| match (policy.missing, m.2) {
            (Missing::Redistribute, None) => 0.0,
            (_, s) => s.unwrap_or(0.0) * d.weight * scale,
        })
        .sum();
    let deduction = deduction.min(policy.deduction_cap);
    Total {
        weighted: round2(weighted),
        bonus: round2(bonus),
        deduction: round2(deduction),
        total: round2((weighted + bonus - deduction).max(0.0)),
        components,
    }
}

/// Competition ranks (1, 2, 2, 4) of totals, best first; `order` gives
/// the indices of `totals` sorted best first.
pub fn ranks(totals: &[f64]) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..totals.len()).collect();
    order.sort_by(|&a, &b| totals[b].total_cmp(&totals[a]));
    let mut rank = vec![0; totals.len()];
    for (pos, &i) in order.iter().enumerate() {
        rank[i] = match pos {
            0 => 1,
            _ if totals[order[pos - 1]] == totals[i] => rank[order[pos - 1]],
            _ => pos + 1,
        };
    }
    (order, rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_weights_add_up() {
        let p = AssessmentPolicy::default();
        p.check().unwrap();
        let w: Vec<f64> = p.dimensions.iter().map(|d| d.weight).collect();
        assert_eq!(w, vec![0.20, 0.30, 0.20, 0.15, 0.15]);
    }

    #[test]
    fn hours_scoring_is_linear_between_full_and_zero() {
        let s = Scoring::Hours { full: 2.0, zero: 24.0 };
        assert_eq!(s.apply(0.5), 100.0);
        assert_eq!(s.apply(2.0), 100.0);
        assert_eq!(s.apply(13.0), 50.0);
        assert_eq!(s.apply(24.0), 0.0);
        assert_eq!(s.apply(100.0), 0.0);
        assert_eq!(Scoring::Share.apply(0.875), 87.5);
        assert_eq!(Scoring::Share.apply(1.2), 100.0);
    }

    #[test]
    fn a_full_month_weighs_every_dimension() {
        // By hand: 100×0.2 + 90×0.3 + 80×0.2 + 60×0.15 + 20×0.15 = 20+27+16+9+3 = 75.
        let p = AssessmentPolicy::default();
        let m = [
            (Some(1.5), 10, Some(100.0)),
            (Some(0.9), 10, Some(90.0)),
            (Some(80.0), 3, Some(80.0)),
            (Some(0.6), 5, Some(60.0)),
            (Some(20.0), 1, Some(20.0)),
        ];
        let t = weigh(&p, &m, 2.0, 5.0);
        assert_eq!(t.weighted, 75.0);
        assert_eq!(t.total, 72.0);
        assert_eq!(t.components[1].points, 27.0);
    }

    #[test]
    fn a_missing_dimension_shares_its_weight_or_scores_zero() {
        // No complaint handled: 0.15 shared among 0.85.
        let p = AssessmentPolicy::default();
        let m = [
            (Some(1.0), 4, Some(100.0)),
            (Some(1.0), 4, Some(100.0)),
            (Some(100.0), 1, Some(100.0)),
            (None, 0, None),
            (Some(0.0), 0, Some(0.0)),
        ];
        let t = weigh(&p, &m, 0.0, 0.0);
        assert_eq!(t.components[3].applied_weight, 0.0);
        // By hand: (100×0.2 + 100×0.3 + 100×0.2 + 0×0.15) / 0.85 = 70 / 0.85 = 82.35.
        assert_eq!(t.total, 82.35);
        let zero = AssessmentPolicy { missing: Missing::Zero, ..p };
        assert_eq!(weigh(&zero, &m, 0.0, 0.0).total, 70.0);
    }

    #[test]
    fn deductions_are_capped_and_totals_never_negative() {
        let p = AssessmentPolicy { deduction_cap: 10.0, ..AssessmentPolicy::default() };
        let m = [
            (None, 0, Some(50.0)),
            (None, 0, Some(50.0)),
            (None, 0, Some(50.0)),
            (None, 0, Some(50.0)),
            (None, 0, Some(50.0)),
        ];
        assert_eq!(weigh(&p, &m, 0.0, 30.0).total, 40.0);
        let p = AssessmentPolicy::default();
        assert_eq!(weigh(&p, &m, 0.0, 80.0).total, 0.0);
    }

    #[test]
    fn ranks_share_places() {
        let (order, rank) = ranks(&[70.0, 90.0, 70.0, 50.0]);
        assert_eq!(order[0], 1);
        assert_eq!(rank, vec![2, 1, 2, 4]);
    }

    #[test]
    fn policy_refuses_bad_weights() {
        let mut p = AssessmentPolicy::default();
        p.dimensions[0].weight = 0.3;
        assert!(p.check().is_err());
    }
}
