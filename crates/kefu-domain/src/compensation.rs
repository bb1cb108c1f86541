//! Service-interruption compensation (服务中断补偿, R-55): a rule table as
//! policy — which services, which area, how many hours of outage before
//! anything is owed, and how much — and the proposal for one customer from
//! an incident's times. Amounts are whole fen (分), so sums never drift.
//!
//! The shipped default follows the telecom regulations (电信条例): a fault not
//! repaired within 48 hours in a town or 72 hours in the countryside has the
//! fee for the outage period waived. It is a default for the operator to
//! confirm, not legal advice.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Where the customer's service is: the regulations give towns and the
/// countryside different repair times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    Town,
    Countryside,
}

/// How much a rule gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// The monthly fee for the hours of the outage, month by month.
    ProRata,
    /// A fixed credit, whatever the length.
    Fixed { amount_fen: i64 },
    /// `per_day_fen` for each started day of the outage, at most `cap_fen`.
    Capped { per_day_fen: i64, cap_fen: i64 },
}

// No deny_unknown_fields here: serde does not combine it with `flatten`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Service categories it covers (宽带, 固话, 移动 …); empty: any.
    #[serde(default)]
    pub services: Vec<String>,
    /// The area it covers; absent: both.
    #[serde(default)]
    pub area: Option<Area>,
    /// Nothing is owed for an outage shorter than this.
    pub threshold_hours: f64,
    #[serde(flatten)]
    pub method: Method,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompensationPolicy {
    /// The first rule that covers the service and area decides.
    pub rules: Vec<Rule>,
}

impl Default for CompensationPolicy {
    fn default() -> Self {
        let waive =
            |area, hours| Rule { services: vec![], area: Some(area), threshold_hours: hours, method: Method::ProRata };
        CompensationPolicy { rules: vec![waive(Area::Town, 48.0), waive(Area::Countryside, 72.0)] }
    }
}

impl CompensationPolicy {
    pub fn check(&self) -> Result<(), String> {
        for r in &self.rules {
            let amounts = match r.method {
                Method::ProRata => true,
                Method::Fixed { amount_fen } => amount_fen > 0,
                Method::Capped { per_day_fen, cap_fen } => per_day_fen > 0 && cap_fen >= per_day_fen,
            };
            if !(r.threshold_hours.is_finite() && r.threshold_hours >= 0.0 && amounts) {
                return Err("[compensation] rules need threshold_hours ≥ 0 and positive amounts (cap ≥ per day)".into());
            }
        }
        Ok(())
    }

    /// The rule covering a service in an area, with its index.
    pub fn rule_for(&self, service: &str, area: Area) -> Option<(usize, &Rule)> {
        self.rules.iter().enumerate().find(|(_, r)| {
            (r.services.is_empty() || r.services.iter().any(|s| s == service)) && r.area.is_none_or(|a| a == area)
        })
    }
}

/// One customer's service during an outage.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage<'a> {
    pub service: &'a str,
    pub area: Area,
    pub started: DateTime<Utc>,
    pub restored: DateTime<Utc>,
    /// The service's monthly fee, in fen.
    pub monthly_fee_fen: i64,
}

/// What a customer is owed and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    /// The index of the rule applied.
    pub rule: usize,
    /// Hours of outage (natural hours, two decimals).
    pub hours: f64,
    pub amount_fen: i64,
}

/// The proposal for one customer, or None when nothing is owed (no rule
/// covers the service, or the outage is shorter than the rule's threshold).
pub fn propose(policy: &CompensationPolicy, o: &Outage) -> Option<Proposal> {
    let (index, rule) = policy.rule_for(o.service, o.area)?;
    let seconds = (o.restored - o.started).num_seconds().max(0);
    let hours = seconds as f64 / 3600.0;
    if seconds == 0 || hours < rule.threshold_hours {
        return None;
    }
    let amount_fen = match rule.method {
        Method::ProRata => pro_rata(o.monthly_fee_fen, o.started, o.restored),
        Method::Fixed { amount_fen } => amount_fen,
        Method::Capped { per_day_fen, cap_fen } => {
            let days = (seconds + 86_399) / 86_400;
            (per_day_fen * days).min(cap_fen)
        }
    };
    Some(Proposal { rule: index, hours: (hours * 100.0).round() / 100.0, amount_fen })
}

/// The monthly fee for `[from, to)`, month by month in Shanghai time: each
/// month's share is the fee × the outage's seconds in it / the month's seconds.
fn pro_rata(fee_fen: i64, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (fee_fen as f64 * month_share(from, to)).round() as i64
}

/// How many monthly fees `[from, to)` is worth, month by month in Shanghai
/// time (one day of November is 1/30, of December 1/31): what the billing
/// system multiplies a customer's fee by when kefu does not know the fee.
pub fn month_share(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let tz = crate::time::shanghai();
    let mut total = 0.0;
    let mut at = from;
    while at < to {
        let local = at.with_timezone(&tz).date_naive();
        let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).expect("the first of a month");
        let next = first.checked_add_months(chrono::Months::new(1)).expect("a next month");
        let start = tz.from_local_datetime(&first.and_hms_opt(0, 0, 0).expect("midnight")).unwrap().to_utc();
        let end = tz.from_local_datetime(&next.and_hms_opt(0, 0, 0).expect("midnight")).unwrap().to_utc();
        let upto = end.min(to);
        let month: Duration = end - start;
        total += (upto - at).num_seconds() as f64 / month.num_seconds() as f64;
        at = upto;
    }
    total
}

/// Town or countryside from an address: a village (村) or township (乡)
/// is the countryside; anything else, or no address, a town (the shorter,
/// stricter repair time, so a customer is never owed less by a guess).
pub fn area_of(address: &str) -> Area {
    if address.contains('村') || address.contains('乡') { Area::Countryside } else { Area::Town }
}

impl Method {
    pub fn label(&self) -> (&'static str, &'static str) {
        match self {
            Method::ProRata => ("按月费折算减免", "monthly fee waived pro rata"),
            Method::Fixed { .. } => ("固定补偿", "fixed credit"),
            Method::Capped { .. } => ("按日补偿（封顶）", "daily credit, capped"),
        }
    }
}

impl Area {
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Area::Town => ("城镇", "town"),
            Area::Countryside => ("农村", "countryside"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shanghai wall-clock time.
    fn sh(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        crate::time::shanghai().with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().to_utc()
    }

    fn outage(area: Area, from: DateTime<Utc>, to: DateTime<Utc>) -> Outage<'static> {
        Outage { service: "宽带", area, started: from, restored: to, monthly_fee_fen: 12_000 }
    }

    #[test]
    fn areas_and_shares() {
        assert_eq!(area_of("河北省固安县柳泉镇北小营村"), Area::Countryside);
        assert_eq!(area_of("北京市朝阳区建设路1号"), Area::Town);
        assert_eq!(area_of(""), Area::Town);
        let share = month_share(sh(2026, 11, 30, 0), sh(2026, 12, 2, 0));
        assert!((share - (1.0 / 30.0 + 1.0 / 31.0)).abs() < 1e-12, "{share}");
    }

    #[test]
    fn towns_after_48_hours_and_the_countryside_after_72() {
        let p = CompensationPolicy::default();
        let from = sh(2026, 11, 2, 8);
        assert_eq!(propose(&p, &outage(Area::Town, from, from + Duration::hours(47))), None);
        // 48 hours of a 120-yuan month of 30 days: 2/30 of it, 8 yuan.
        let town = propose(&p, &outage(Area::Town, from, from + Duration::hours(48))).unwrap();
        assert_eq!((town.rule, town.hours, town.amount_fen), (0, 48.0, 800));
        assert_eq!(propose(&p, &outage(Area::Countryside, from, from + Duration::hours(60))), None);
        let far = propose(&p, &outage(Area::Countryside, from, from + Duration::hours(72))).unwrap();
        assert_eq!((far.rule, far.amount_fen), (1, 1200));
        assert_eq!(propose(&p, &outage(Area::Town, from, from)), None, "no outage, nothing owed");
        assert_eq!(propose(&p, &outage(Area::Town, from, from - Duration::hours(50))), None, "times reversed");
    }

    #[test]
    fn an_outage_across_months_is_shared_by_each_months_length() {
        let p = CompensationPolicy::default();
        // 30 Nov 00:00 → 2 Dec 00:00 Shanghai: one day of a 30-day November
        // (400 fen) and one of a 31-day December (387.1 fen).
        let o = outage(Area::Town, sh(2026, 11, 30, 0), sh(2026, 12, 2, 0));
        assert_eq!(propose(&p, &o).unwrap().amount_fen, 400 + 387);
        // Month boundaries are Shanghai midnights, not UTC ones.
        assert_eq!(pro_rata(12_000, sh(2026, 12, 1, 0), sh(2026, 12, 1, 0) + Duration::days(31)), 12_000);
    }

    #[test]
    fn fixed_and_capped_credits_and_the_first_covering_rule_decides() {
        let p = CompensationPolicy {
            rules: vec![
                Rule {
                    services: vec!["IPTV".into()],
                    area: None,
                    threshold_hours: 24.0,
                    method: Method::Fixed { amount_fen: 500 },
                },
                Rule {
                    services: vec!["宽带".into()],
                    area: None,
                    threshold_hours: 12.0,
                    method: Method::Capped { per_day_fen: 300, cap_fen: 1000 },
                },
            ],
        };
        p.check().unwrap();
        let from = sh(2026, 11, 2, 8);
        let iptv = Outage { service: "IPTV", ..outage(Area::Town, from, from + Duration::hours(30)) };
        assert_eq!(propose(&p, &iptv).unwrap().amount_fen, 500);
        // 25 hours: two started days, 600; ten days: capped at 1000.
        assert_eq!(propose(&p, &outage(Area::Town, from, from + Duration::hours(25))).unwrap().amount_fen, 600);
        assert_eq!(propose(&p, &outage(Area::Countryside, from, from + Duration::days(10))).unwrap().amount_fen, 1000);
        let voice = Outage { service: "固话", ..outage(Area::Town, from, from + Duration::days(5)) };
        assert_eq!(propose(&p, &voice), None, "no rule covers it");
    }

    #[test]
    fn rules_are_checked_and_read_from_the_policy_file() {
        let bad = CompensationPolicy {
            rules: vec![Rule {
                services: vec![],
                area: None,
                threshold_hours: 1.0,
                method: Method::Capped { per_day_fen: 300, cap_fen: 100 },
            }],
        };
        assert!(bad.check().is_err());
        let p = crate::policy::Policy::defaults();
        assert_eq!(p.compensation, CompensationPolicy::default());
        let text = r#"
            [[rules]]
            services = ["宽带"]
            area = "countryside"
            threshold_hours = 72
            method = "capped"
            per_day_fen = 200
            cap_fen = 3000
        "#;
        let read: CompensationPolicy = toml::from_str(text).unwrap();
        assert_eq!(read.rules[0].method, Method::Capped { per_day_fen: 200, cap_fen: 3000 });
        assert_eq!(read.rules[0].area, Some(Area::Countryside));
    }
}
