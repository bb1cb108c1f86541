//! Asia/Shanghai is UTC+8 all year (no daylight saving since 1991), so a fixed
//! offset is exact and spares the whole tz database.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

pub fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The calendar date in Shanghai of an instant: ticket numbers use it.
pub fn shanghai_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&shanghai()).date_naive()
}

/// `hour`:00 on `day` in Shanghai, as an instant (midnight for a day's start).
pub fn shanghai_at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    let local = day.and_hms_opt(hour.min(23), 0, 0).expect("a whole hour exists every day");
    (local - chrono::Duration::hours(8)).and_utc()
}

/// An instant as people read it in Shanghai, to the minute: `2026-11-22 10:00`.
pub fn shanghai_minute(at: DateTime<Utc>) -> String {
    at.with_timezone(&shanghai()).format("%Y-%m-%d %H:%M").to_string()
}

/// The same without the year, for lists within the year: `11-22 10:00`.
pub fn shanghai_short(at: DateTime<Utc>) -> String {
    at.with_timezone(&shanghai()).format("%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_date_rolls_over_at_16_utc() {
        let before: DateTime<Utc> = "2026-11-22T15:59:59Z".parse().unwrap();
        let after: DateTime<Utc> = "2026-11-22T16:00:00Z".parse().unwrap();
        assert_eq!(shanghai_date(before).to_string(), "2026-11-22");
        assert_eq!(shanghai_date(after).to_string(), "2026-11-23");
    }
}
