//! Spike warning: is the number of tickets in one bucket (type ×
//! region × business line, or a keyword cluster) in the last window
//! unusually high against the same window of the previous days? Calls have
//! a daily rhythm — 3 a.m. is not 10 a.m. — so the baseline of "the last
//! hour" is the same hour on each of the baseline days, not the hours just
//! before. Two tests, chosen by policy: a Poisson bound (the count a rate
//! this low reaches with probability at most `p_value`) or mean + k·σ.
//! A spike only ever *proposes* an incident; a supervisor confirms it.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    Poisson,
    Sigma,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpikePolicy {
    /// The window counted: the last this many minutes.
    pub window_minutes: u32,
    /// The same window on each of this many previous days is the baseline.
    pub baseline_days: u32,
    pub test: Test,
    /// Poisson: alarm when a count this high has at most this probability.
    pub p_value: f64,
    /// Sigma: alarm above mean + k × standard deviation.
    pub k: f64,
    /// Never alarm on fewer tickets than this, however quiet the baseline.
    pub min_count: u32,
    /// Keyword clusters: a ticket whose title or description names one
    /// of a cluster's words counts in that cluster's bucket for its region
    /// too, whatever type or business line it was registered under.
    pub clusters: BTreeMap<String, Vec<String>>,
}

impl Default for SpikePolicy {
    fn default() -> Self {
        SpikePolicy {
            window_minutes: 60,
            baseline_days: 14,
            test: Test::Poisson,
            p_value: 0.001,
            k: 4.0,
            min_count: 8,
            clusters: BTreeMap::new(),
        }
    }
}

impl SpikePolicy {
    pub fn check(&self) -> Result<(), String> {
        let ok = self.window_minutes > 0
            && self.window_minutes <= 24 * 60
            && self.baseline_days > 0
            && self.p_value > 0.0
            && self.p_value < 1.0
            && self.k.is_finite()
            && self.k > 0.0;
        if ok {
            Ok(())
        } else {
            Err("[spike]: window_minutes 1..=1440, baseline_days ≥ 1, p_value in (0, 1), k > 0".into())
        }
    }

    pub fn window(&self) -> Duration {
        Duration::minutes(i64::from(self.window_minutes))
    }
}

/// A bucket whose last window is unusually full.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    pub bucket: String,
    pub count: u32,
    /// The baseline's mean count per window.
    pub expected: f64,
    /// The count at or above which the test alarms.
    pub bound: u32,
    /// The tickets in the window that fired it, oldest first.
    pub tickets: Vec<i64>,
}

/// The district (区/县) a free-text place names, else its city (市):
/// "北京市朝阳区望京街道" → "朝阳区". None when it names neither.
pub fn region_of(place: &str) -> Option<String> {
    let chars: Vec<char> = place.chars().collect();
    for marks in [&['区', '县'][..], &['市'][..]] {
        if let Some(end) = chars.iter().position(|c| marks.contains(c)) {
            let start = (0..end)
                .rev()
                .take_while(|&i| !matches!(chars[i], '省' | '市' | '区' | '县' | ' ' | ',' | '，'))
                .last()
                .unwrap_or(end);
            // At least two characters: "小区" (a housing estate) is no district.
            if end - start >= 2 {
                return Some(chars[start..=end].iter().collect());
            }
        }
    }
    None
}

/// What a ticket counts toward: its bucket `type|region|business line`
/// and `cluster|region` for each keyword cluster its text names.
pub fn buckets(policy: &SpikePolicy, ticket_type: &str, place: &str, line: Option<&str>, text: &str) -> Vec<String> {
    let region = region_of(place).unwrap_or_else(|| "-".into());
    let mut out = vec![format!("{ticket_type}|{region}|{}", line.unwrap_or("-"))];
    for (name, words) in &policy.clusters {
        if words.iter().any(|w| text.contains(w.as_str())) {
            out.push(format!("{name}|{region}"));
        }
    }
    out
}

/// The smallest n with P(X ≥ n) ≤ p for X ~ Poisson(λ).
pub fn poisson_bound(lambda: f64, p: f64) -> u32 {
    let lambda = lambda.max(0.0);
    // P(X ≥ n) = 1 − P(X ≤ n − 1); walk the terms of the CDF.
    let mut term = (-lambda).exp();
    let mut cdf = term;
    let mut n: u32 = 1;
    while 1.0 - cdf > p && n < 1_000_000 {
        term *= lambda / f64::from(n);
        cdf += term;
        n += 1;
    }
    n
}

/// The count at or above which `history` (one count per baseline window) says
/// a window is a spike.
pub fn bound(policy: &SpikePolicy, history: &[u32]) -> u32 {
    let n = history.len().max(1) as f64;
    let mean = history.iter().map(|&c| f64::from(c)).sum::<f64>() / n;
    let raw = match policy.test {
        Test::Poisson => poisson_bound(mean, policy.p_value),
        Test::Sigma => {
            let var = history.iter().map(|&c| (f64::from(c) - mean).powi(2)).sum::<f64>() / n;
            // A flat history has no spread: the Poisson spread √mean stands in.
            let sd = var.sqrt().max(mean.sqrt());
            (mean + policy.k * sd).floor() as u32 + 1
        }
    };
    raw.max(policy.min_count)
}

/// A bucket's tickets (time, id) in the window and its count in each
/// baseline day's window.
type Seen = (Vec<(DateTime<Utc>, i64)>, Vec<u32>);

/// The buckets spiking at `now`: `tickets` are (id, bucket, registered at),
/// covering at least the baseline days before `now`.
pub fn detect(policy: &SpikePolicy, tickets: &[(i64, String, DateTime<Utc>)], now: DateTime<Utc>) -> Vec<Alarm> {
    let w = policy.window();
    let days = i64::from(policy.baseline_days);
    // Per bucket: the window's tickets and the count of each baseline day's window.
    let mut per: BTreeMap<&str, Seen> = BTreeMap::new();
    for (id, bucket, at) in tickets {
        let entry = per.entry(bucket).or_insert_with(|| (Vec::new(), vec![0; days as usize]));
        if *at >= now - w && *at < now {
            entry.0.push((*at, *id));
        }
        for d in 1..=days {
            let end = now - Duration::days(d);
            if *at >= end - w && *at < end {
                entry.1[(d - 1) as usize] += 1;
            }
        }
    }
    let mut out = Vec::new();
    for (bucket, (mut window, history)) in per {
        let count = window.len() as u32;
        let limit = bound(policy, &history);
        if count >= limit {
            window.sort();
            out.push(Alarm {
                bucket: bucket.to_string(),
                count,
                expected: history.iter().map(|&c| f64::from(c)).sum::<f64>() / history.len().max(1) as f64,
                bound: limit,
                tickets: window.into_iter().map(|(_, id)| id).collect(),
            });
        }
    }
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.bucket.cmp(&b.bucket)));
    out
}

/// Knuth's Poisson draw over a xorshift generator: seeded, so a replay
/// is the same on every run.
fn draw(state: &mut u64, lambda: f64) -> u32 {
    let mut uniform = || {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (limit, mut k, mut prod) = ((-lambda).exp(), 0, uniform());
    while prod > limit {
        k += 1;
        prod *= uniform();
    }
    k
}

/// What a replayed month says of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replay {
    /// Bucket-hours checked (after the baseline days).
    pub checks: u32,
    /// Alarms on ordinary traffic.
    pub false_alarms: u32,
    /// The planted outage's ticket that fired the alarm (1-based), if any.
    pub detected_at: Option<u32>,
}

/// A month of synthetic traffic — three buckets with a daily rhythm
/// (busy at 10:00 and 16:00, quiet at night), Poisson counts seeded by
/// `seed` — checked every hour after the baseline days, then an outage
/// planted in the quietest bucket at 10:00 on the last day (a ticket every
/// two minutes), checked after each of its tickets.
pub fn replay(policy: &SpikePolicy, seed: u64) -> Replay {
    use chrono::TimeZone;
    const RHYTHM: [f64; 24] = [
        1.0, 0.5, 0.5, 0.5, 0.5, 1.0, 2.0, 3.0, 5.0, 6.0, 6.0, 6.0, 5.0, 5.0, 5.0, 6.0, 6.0, 5.0, 4.0, 3.0, 2.0, 2.0,
        1.5, 1.0,
    ];
    const BUCKETS: [(&str, f64); 3] =
        [("fault/朝阳区/宽带", 1.0), ("complaint/海淀区/移动", 0.5), ("fault/通州区/IPTV", 0.2)];
    let days = 30;
    let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).single().unwrap_or_default();
    let mut state = seed.max(1);
    let (mut tickets, mut id) = (Vec::new(), 0);
    for hour in 0..(days * 24) {
        for (b, scale) in BUCKETS {
            let n = draw(&mut state, RHYTHM[(hour % 24) as usize] * scale);
            for i in 0..n {
                id += 1;
                let at = start + Duration::hours(hour) + Duration::minutes(i64::from(i * 59 / n.max(1)));
                tickets.push((id, b.to_string(), at));
            }
        }
    }
    let (mut checks, mut false_alarms) = (0, 0);
    let first = i64::from(policy.baseline_days.min(days as u32 - 1)) * 24;
    for hour in first..(days * 24) {
        checks += BUCKETS.len() as u32;
        false_alarms += detect(policy, &tickets, start + Duration::hours(hour)).len() as u32;
    }
    let quiet = BUCKETS[2].0;
    let at = start + Duration::days(days - 1) + Duration::hours(10);
    for m in 0..20 {
        id += 1;
        tickets.push((id, quiet.to_string(), at + Duration::minutes(2 * m)));
    }
    let detected_at = (0..20)
        .find(|m| {
            let now = at + Duration::minutes(2 * m) + Duration::seconds(1);
            detect(policy, &tickets, now).iter().any(|a| a.bucket == quiet)
        })
        .map(|m| m as u32 + 1);
    Replay { checks, false_alarms, detected_at }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_buckets_come_from_the_place_and_text() {
        assert_eq!(region_of("北京市朝阳区望京街道").as_deref(), Some("朝阳区"));
        assert_eq!(region_of("河北省固安县城关镇").as_deref(), Some("固安县"));
        assert_eq!(region_of("广州市天河").as_deref(), Some("广州市"));
        assert_eq!(region_of("小区门口"), None, "a housing estate is no district");
        assert_eq!(region_of(""), None);
        let mut p = SpikePolicy::default();
        p.clusters.insert("断网".into(), vec!["断网".into(), "上不了网".into()]);
        let b = buckets(&p, "fault", "北京市朝阳区望京", Some("宽带"), "家里上不了网");
        assert_eq!(b, ["fault|朝阳区|宽带", "断网|朝阳区"]);
        assert_eq!(buckets(&p, "complaint", "", None, "话费"), ["complaint|-|-"]);
    }
    use chrono::TimeZone;

    #[test]
    fn the_shipped_policy_is_the_default_and_checked() {
        // The shipped file adds keyword clusters; the numbers are the defaults.
        let shipped = crate::policy::Policy::defaults().spike;
        assert!(shipped.clusters.contains_key("断网"));
        assert_eq!(SpikePolicy { clusters: BTreeMap::new(), ..shipped }, SpikePolicy::default());
        assert!(SpikePolicy { p_value: 1.0, ..Default::default() }.check().is_err());
        assert!(SpikePolicy { window_minutes: 0, ..Default::default() }.check().is_err());
    }

    #[test]
    fn the_poisson_bound_matches_the_tables() {
        // λ = 2: P(X ≥ 8) = 0.00110, P(X ≥ 9) = 0.00024.
        assert_eq!(poisson_bound(2.0, 0.001), 9);
        assert_eq!(poisson_bound(2.0, 0.002), 8);
        // λ = 0: any one ticket is already improbable.
        assert_eq!(poisson_bound(0.0, 0.001), 1);
        // λ = 100: about λ + 3.1·√λ.
        let b = poisson_bound(100.0, 0.001);
        assert!((128..=134).contains(&b), "{b}");
    }

    #[test]
    fn sigma_uses_the_spread_or_the_poisson_one_when_flat() {
        let p = SpikePolicy { test: Test::Sigma, k: 3.0, min_count: 1, ..Default::default() };
        // Mean 10, σ = 5 (5 and 15 alternate): above 10 + 15.
        assert_eq!(bound(&p, &[5, 15, 5, 15]), 26);
        // A spread below the Poisson one (σ = 2 < √10) takes √10: above 19.49.
        assert_eq!(bound(&p, &[8, 12, 8, 12]), 20);
        // Flat at 9: σ taken as √9 = 3, bound above 18.
        assert_eq!(bound(&p, &[9, 9, 9, 9]), 19);
        // The floor holds on a quiet bucket.
        assert_eq!(bound(&SpikePolicy { min_count: 8, ..p }, &[0, 0, 0]), 8);
    }

    /// Two weeks of a steady 3 tickets an hour in one bucket, then a planted
    /// outage: found within its first tickets, and quiet hours never alarm.
    #[test]
    fn a_planted_outage_is_found_and_ordinary_hours_are_not() {
        let p = SpikePolicy::default();
        let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let mut tickets = Vec::new();
        let mut id = 0;
        for hour in 0..(15 * 24) {
            for minute in [5, 25, 45] {
                id += 1;
                tickets.push((id, "fault/朝阳区/宽带".to_string(), start + Duration::minutes(hour * 60 + minute)));
            }
        }
        let quiet_now = start + Duration::days(15);
        assert_eq!(detect(&p, &tickets, quiet_now), vec![]);
        // The outage: a ticket a minute from 16 Nov 00:00 (the Poisson bound
        // for λ = 3 at 0.001 is 11 tickets in the hour).
        let before = tickets.len();
        for m in 0..30 {
            id += 1;
            tickets.push((id, "fault/朝阳区/宽带".to_string(), quiet_now + Duration::minutes(m)));
        }
        let first_alarm = (1..=30)
            .find(|&m| !detect(&p, &tickets, quiet_now + Duration::minutes(m) + Duration::seconds(1)).is_empty())
            .unwrap();
        assert_eq!(poisson_bound(3.0, p.p_value), 11);
        // At minute 8 the window holds the hour's two ordinary tickets (23:25,
        // 23:45) and the outage's first nine: 11, the bound. Detected at the
        // outage's 9th ticket.
        assert_eq!(first_alarm, 8, "found after {first_alarm} minutes");
        let alarm = &detect(&p, &tickets, quiet_now + Duration::minutes(30))[0];
        // The hour's one ordinary ticket (23:45) and the outage's thirty.
        assert_eq!((alarm.bucket.as_str(), alarm.count), ("fault/朝阳区/宽带", 31));
        assert!((alarm.expected - 3.0).abs() < 1e-9, "{alarm:?}");
        assert_eq!(alarm.tickets.first().copied(), Some(before as i64));
        assert_eq!(alarm.tickets.last().copied(), Some(id));
        // Another bucket stays quiet.
        assert!(detect(&p, &tickets, quiet_now + Duration::minutes(30)).iter().all(|a| a.bucket != "other"));
    }

    /// Thirty days of ordinary traffic with a daily rhythm in three
    /// buckets, checked every hour of the last sixteen: how often does the
    /// default policy cry wolf? (Expected at most p_value × checks ≈ 1.2;
    /// the test allows 3.) And a planted outage in the quietest bucket, a
    /// ticket every two minutes: found by its 8th ticket at the latest (the
    /// floor, min_count 8, holds: λ ≈ 1.2 gives a Poisson bound of 7, and the
    /// hour's ordinary tickets count too — this seeded run fires at the 7th).
    #[test]
    fn ordinary_traffic_raises_few_false_alarms() {
        let r = replay(&SpikePolicy::default(), 0x9E37_79B9_7F4A_7C15);
        assert_eq!(r.checks, 1152);
        assert!(r.false_alarms <= 3, "{} false alarms in {} bucket-hours", r.false_alarms, r.checks);
        assert!(r.detected_at.is_some_and(|n| n <= 8), "found at the outage's ticket {:?}", r.detected_at);
    }
}
