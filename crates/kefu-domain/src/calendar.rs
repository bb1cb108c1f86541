//! The official mainland-China working-day calendar (R-10…R-13): public
//! holidays and adjusted working days (调休) as data, one file per year from
//! the State Council General Office notice, and the time arithmetic that
//! deadlines use. All calendar days are Asia/Shanghai days.
//!
//! **The rule for "N working days".** A working day is the span 00:00–24:00
//! of a day that is a working day (a weekday that is not a holiday, or a
//! weekend day declared a working day). Adding N working days to an instant
//! gives the instant at which N × 24 hours of working-day time have passed.
//! So a start inside a working day is due at the same clock time on the N-th
//! following working day, and a start on a non-working day counts from 00:00
//! of the next working day: a ticket received during the Spring Festival with
//! a 1-working-day limit is due at the end (24:00) of the first working day
//! after it. A date in a year with no calendar loaded is an error, never a
//! guess.

use crate::time::shanghai;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The calendars shipped with the binary.
pub const DEFAULT_YEARS: &[(&str, &str)] =
    &[("2025.toml", include_str!("../calendar/2025.toml")), ("2026.toml", include_str!("../calendar/2026.toml"))];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i32,
    source: String,
    holidays: Vec<HolidayFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayFile {
    name: String,
    from: NaiveDate,
    to: NaiveDate,
    #[serde(default)]
    workdays: Vec<NaiveDate>,
}

/// What a day is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayKind {
    Workday,
    Weekend,
    /// A public holiday (放假).
    Holiday {
        name: String,
    },
    /// A weekend day declared a working day (调休上班).
    AdjustedWorkday {
        name: String,
    },
}

impl DayKind {
    pub fn is_working(&self) -> bool {
        matches!(self, DayKind::Workday | DayKind::AdjustedWorkday { .. })
    }

    /// Why, in Chinese.
    pub fn reason_zh(&self) -> String {
        match self {
            DayKind::Workday => "工作日".into(),
            DayKind::Weekend => "周末休息日".into(),
            DayKind::Holiday { name } => format!("{name}放假"),
            DayKind::AdjustedWorkday { name } => format!("{name}调休上班"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalendarError {
    #[error(
        "no working-day calendar is loaded for {0}; add <config dir>/calendar/{0}.toml from the State Council notice"
    )]
    YearNotLoaded(i32),
    #[error("calendar file {file}: {message}")]
    Invalid { file: String, message: String },
}

impl From<CalendarError> for crate::DomainError {
    fn from(e: CalendarError) -> Self {
        match e {
            CalendarError::YearNotLoaded(y) => crate::DomainError::CalendarMissing(y),
            CalendarError::Invalid { .. } => crate::DomainError::CalendarMissing(0),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Year {
    source: String,
    days: BTreeMap<NaiveDate, DayKind>,
}

/// The loaded years.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

impl Calendar {
    /// The shipped years, then `(file name, text)` overrides and additions.
    pub fn load(extra: &[(String, String)]) -> Result<Calendar, CalendarError> {
        let mut cal = Calendar::default();
        let shipped = DEFAULT_YEARS.iter().map(|(f, t)| (f.to_string(), t.to_string()));
        for (file, text) in shipped.chain(extra.iter().cloned()) {
            let (year, data) = parse_year(&file, &text)?;
            cal.years.insert(year, data);
        }
        Ok(cal)
    }

    pub fn defaults() -> Calendar {
        Calendar::load(&[]).expect("the shipped calendars are valid")
    }

    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// The notice each year comes from.
    pub fn sources(&self) -> BTreeMap<i32, String> {
        self.years.iter().map(|(y, d)| (*y, d.source.clone())).collect()
    }

    pub fn day(&self, date: NaiveDate) -> Result<DayKind, CalendarError> {
        let year = self.years.get(&date.year()).ok_or(CalendarError::YearNotLoaded(date.year()))?;
        Ok(match year.days.get(&date) {
            Some(kind) => kind.clone(),
            None if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) => DayKind::Weekend,
            None => DayKind::Workday,
        })
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.day(date)?.is_working())
    }

    /// Whether an instant falls within a working day.
    pub fn is_working_time(&self, at: DateTime<Utc>) -> Result<bool, CalendarError> {
        self.is_working_day(at.with_timezone(&shanghai()).date_naive())
    }

    /// `from` plus `hours` of natural time.
    pub fn add_hours(&self, from: DateTime<Utc>, hours: i64) -> DateTime<Utc> {
        from + Duration::hours(hours)
    }

    /// `from` plus `n` working days, by the rule in the module comment.
    pub fn add_working_days(&self, from: DateTime<Utc>, n: u32) -> Result<DateTime<Utc>, CalendarError> {
        let mut remaining = Duration::hours(24 * i64::from(n));
        let mut t = from;
        loop {
            let (day, day_end) = local_day(t);
            if self.is_working_day(day)? {
                let available = day_end - t;
                if remaining <= available {
                    return Ok(t + remaining);
                }
                remaining -= available;
            }
            t = day_end;
        }
    }

    /// Working-day time between two instants (zero if `to` is not after `from`).
    pub fn working_time_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Duration, CalendarError> {
        let mut total = Duration::zero();
        let mut t = from;
        while t < to {
            let (day, day_end) = local_day(t);
            let end = day_end.min(to);
            if self.is_working_day(day)? {
                total += end - t;
            }
            t = end;
        }
        Ok(total)
    }
}

/// The Shanghai date of `t` and the instant that day ends (next 00:00).
fn local_day(t: DateTime<Utc>) -> (NaiveDate, DateTime<Utc>) {
    let day = t.with_timezone(&shanghai()).date_naive();
    let next = day.succ_opt().unwrap_or(day).and_hms_opt(0, 0, 0).unwrap_or_default();
    let end = shanghai().from_local_datetime(&next).single().map_or(t, |d| d.with_timezone(&Utc));
    (day, end)
}

fn parse_year(file: &str, text: &str) -> Result<(i32, Year), CalendarError> {
    let invalid = |message: String| CalendarError::Invalid { file: file.to_string(), message };
    let f: YearFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    let mut days = BTreeMap::new();
    for h in &f.holidays {
        if h.to < h.from {
            return Err(invalid(format!("{}: 'to' is before 'from'", h.name)));
        }
        let mut d = h.from;
        while d <= h.to {
            days.insert(d, DayKind::Holiday { name: h.name.clone() });
            d = d.succ_opt().ok_or_else(|| invalid("date overflow".into()))?;
        }
        for w in &h.workdays {
            if !matches!(w.weekday(), Weekday::Sat | Weekday::Sun) {
                return Err(invalid(format!("{}: adjusted working day {w} is not a weekend day", h.name)));
            }
            days.insert(*w, DayKind::AdjustedWorkday { name: h.name.clone() });
        }
    }
    if let Some(stray) = days.keys().find(|d| d.year() != f.year) {
        return Err(invalid(format!("{stray} is not in {}", f.year)));
    }
    Ok((f.year, Year { source: f.source, days }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_2025_and_2026_notices_day_by_day() {
        let c = Calendar::defaults();
        // 2025: 8-day Spring Festival 1-28…2-4, 1-26 and 2-8 worked.
        assert!(!c.is_working_day(d("2025-01-28")).unwrap() && !c.is_working_day(d("2025-02-04")).unwrap());
        assert!(c.is_working_day(d("2025-01-26")).unwrap() && c.is_working_day(d("2025-02-08")).unwrap());
        assert!(c.is_working_day(d("2025-02-05")).unwrap());
        assert_eq!(c.day(d("2025-10-08")).unwrap(), DayKind::Holiday { name: "国庆节、中秋节".into() });
        assert!(c.is_working_day(d("2025-10-11")).unwrap() && c.is_working_day(d("2025-04-27")).unwrap());
        // 2026: 9-day Spring Festival 2-15…2-23, 2-14 and 2-28 worked; 1-4, 5-9, 9-20, 10-10 worked.
        for off in [
            "2026-01-01",
            "2026-01-02",
            "2026-01-03",
            "2026-02-15",
            "2026-02-23",
            "2026-04-06",
            "2026-05-05",
            "2026-06-19",
            "2026-09-25",
            "2026-10-07",
        ] {
            assert!(!c.is_working_day(d(off)).unwrap(), "{off}");
        }
        for on in ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10", "2026-10-08"] {
            assert!(c.is_working_day(d(on)).unwrap(), "{on}");
        }
        assert_eq!(c.day(d("2026-11-21")).unwrap(), DayKind::Weekend);
        assert_eq!(c.day(d("2026-11-23")).unwrap(), DayKind::Workday);
        // Totals the notices imply. 2025: 261 weekdays − 18 holidays on
        // weekdays + 5 adjusted Saturdays/Sundays = 248. 2026: 261 − 19 + 6 = 248.
        for (year, working) in [(2025, 248), (2026, 248)] {
            let mut n = 0;
            let mut day = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
            while day.year() == year {
                n += usize::from(c.is_working_day(day).unwrap());
                day = day.succ_opt().unwrap();
            }
            assert_eq!(n, working, "{year}");
        }
    }

    /// Every holiday and adjusted working day of both notices, written out
    /// from the notices' text independently of the data files.
    #[test]
    fn every_listed_day_of_both_notices() {
        let c = Calendar::defaults();
        let ranges = [
            ("2025-01-01", "2025-01-01"),
            ("2025-01-28", "2025-02-04"),
            ("2025-04-04", "2025-04-06"),
            ("2025-05-01", "2025-05-05"),
            ("2025-05-31", "2025-06-02"),
            ("2025-10-01", "2025-10-08"),
            ("2026-01-01", "2026-01-03"),
            ("2026-02-15", "2026-02-23"),
            ("2026-04-04", "2026-04-06"),
            ("2026-05-01", "2026-05-05"),
            ("2026-06-19", "2026-06-21"),
            ("2026-09-25", "2026-09-27"),
            ("2026-10-01", "2026-10-07"),
        ];
        for (from, to) in ranges {
            let mut day = d(from);
            while day <= d(to) {
                assert!(matches!(c.day(day).unwrap(), DayKind::Holiday { .. }), "{day} is a holiday");
                day = day.succ_opt().unwrap();
            }
            // The days around a holiday are ordinary unless adjusted.
            assert!(!matches!(c.day(d(to).succ_opt().unwrap()).unwrap(), DayKind::Holiday { .. }));
        }
        let adjusted = [
            "2025-01-26",
            "2025-02-08",
            "2025-04-27",
            "2025-09-28",
            "2025-10-11",
            "2026-01-04",
            "2026-02-14",
            "2026-02-28",
            "2026-05-09",
            "2026-09-20",
            "2026-10-10",
        ];
        for a in adjusted {
            assert!(matches!(c.day(d(a)).unwrap(), DayKind::AdjustedWorkday { .. }), "{a} is worked");
        }
    }

    #[test]
    fn starts_on_adjusted_saturdays_and_holidays() {
        let c = Calendar::defaults();
        // Saturday 2026-02-14 is worked: + 1 working day → the first day after the festival.
        assert_eq!(c.add_working_days(at("2026-02-14T10:00:00+08:00"), 1).unwrap(), at("2026-02-24T10:00:00+08:00"));
        // Sunday 2026-01-04 is worked: + 1 → Monday 01-05, same clock time.
        assert_eq!(c.add_working_days(at("2026-01-04T16:30:00+08:00"), 1).unwrap(), at("2026-01-05T16:30:00+08:00"));
        // Started on New Year's Day 2026: counted from 00:00 of Sunday 01-04.
        assert_eq!(c.add_working_days(at("2026-01-01T09:00:00+08:00"), 1).unwrap(), at("2026-01-05T00:00:00+08:00"));
        // Started on the 2025 National Day: 2 working days are 10-09 and 10-10 (10-11 is worked too).
        assert_eq!(c.add_working_days(at("2025-10-03T12:00:00+08:00"), 2).unwrap(), at("2025-10-11T00:00:00+08:00"));
        assert_eq!(c.add_working_days(at("2025-10-03T12:00:00+08:00"), 3).unwrap(), at("2025-10-12T00:00:00+08:00"));
        // Friday before the 2025 Spring Festival week ends on the adjusted Sunday 01-26.
        assert_eq!(c.add_working_days(at("2025-01-24T10:00:00+08:00"), 1).unwrap(), at("2025-01-26T10:00:00+08:00"));
    }

    #[test]
    fn adding_working_days() {
        let c = Calendar::defaults();
        // Monday 10:00 Shanghai + 1 → Tuesday 10:00; Friday + 1 → Monday.
        assert_eq!(c.add_working_days(at("2026-11-23T10:00:00+08:00"), 1).unwrap(), at("2026-11-24T10:00:00+08:00"));
        assert_eq!(c.add_working_days(at("2026-11-27T10:00:00+08:00"), 1).unwrap(), at("2026-11-30T10:00:00+08:00"));
        // Received during the Spring Festival: due at the end of the first working day after it.
        assert_eq!(c.add_working_days(at("2026-02-17T15:00:00+08:00"), 1).unwrap(), at("2026-02-25T00:00:00+08:00"));
        // Received on a weekend: the count starts at 00:00 Monday.
        assert_eq!(c.add_working_days(at("2026-11-22T20:00:00+08:00"), 3).unwrap(), at("2026-11-26T00:00:00+08:00"));
        // Across the National Day week with its adjusted Saturday 10-10.
        assert_eq!(c.add_working_days(at("2026-09-30T09:00:00+08:00"), 3).unwrap(), at("2026-10-10T09:00:00+08:00"));
        // Seven working days before the 2026 Spring Festival.
        assert_eq!(c.add_working_days(at("2026-02-10T11:30:00+08:00"), 7).unwrap(), at("2026-02-26T11:30:00+08:00"));
        assert_eq!(c.add_working_days(at("2026-11-23T10:00:00+08:00"), 0).unwrap(), at("2026-11-23T10:00:00+08:00"));
    }

    #[test]
    fn hours_are_natural_time() {
        let c = Calendar::defaults();
        assert_eq!(c.add_hours(at("2026-02-14T22:00:00+08:00"), 24), at("2026-02-15T22:00:00+08:00"));
    }

    #[test]
    fn working_time_between_skips_off_days() {
        let c = Calendar::defaults();
        let w = |a: &str, b: &str| c.working_time_between(at(a), at(b)).unwrap();
        assert_eq!(w("2026-11-27T10:00:00+08:00", "2026-11-30T10:00:00+08:00"), Duration::hours(24));
        assert_eq!(w("2026-02-14T12:00:00+08:00", "2026-02-24T12:00:00+08:00"), Duration::hours(24));
        assert_eq!(w("2026-11-24T10:00:00+08:00", "2026-11-23T10:00:00+08:00"), Duration::zero());
        assert!(c.is_working_time(at("2026-02-14T10:00:00+08:00")).unwrap());
        assert!(!c.is_working_time(at("2026-02-15T10:00:00+08:00")).unwrap());
    }

    #[test]
    fn unloaded_years_are_errors() {
        let c = Calendar::defaults();
        assert_eq!(c.day(d("2027-01-04")), Err(CalendarError::YearNotLoaded(2027)));
        assert_eq!(c.add_working_days(at("2026-12-31T10:00:00+08:00"), 1), Err(CalendarError::YearNotLoaded(2027)));
        assert_eq!(c.day(d("2024-12-31")), Err(CalendarError::YearNotLoaded(2024)));
    }

    #[test]
    fn a_year_can_be_added_and_bad_files_are_refused() {
        let y2027 = "year = 2027\nsource = \"test\"\n[[holidays]]\nname = \"元旦\"\nfrom = \"2027-01-01\"\nto = \"2027-01-01\"\n";
        let c = Calendar::load(&[("2027.toml".into(), y2027.into())]).unwrap();
        assert_eq!(c.years(), vec![2025, 2026, 2027]);
        assert!(!c.is_working_day(d("2027-01-01")).unwrap());
        let bad = y2027.replace("to = \"2027-01-01\"", "to = \"2026-12-31\"");
        assert!(matches!(Calendar::load(&[("x.toml".into(), bad)]), Err(CalendarError::Invalid { .. })));
        let weekday_workday = format!("{y2027}workdays = [\"2027-01-04\"]\n");
        assert!(
            Calendar::load(&[("x.toml".into(), weekday_workday)]).unwrap_err().to_string().contains("not a weekend")
        );
    }
}
