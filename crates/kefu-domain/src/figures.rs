//! Handling figures of a person or a team over a period of resolutions
//! how many tickets they resolved, how many of those met every
//! deadline, how many were resolved at first contact, and the average
//! handling time. Each resolution counts once for whoever resolved it (a
//! ticket reopened by an appeal counts again when resolved again).
//!
//! First-contact resolution here: resolved by the ticket's first owner
//! with no transfer, no appeal and no repeat report merged into it before.
//! Handling time: from registration to resolution, natural time. The
//! metric dictionary of the reports issue will define these as data; the
//! definitions here are the ones it starts from.

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Handling {
    /// Resolutions in the period.
    pub handled: u64,
    /// Of those, with no breached deadline due before the resolution.
    pub on_time: u64,
    /// Of those, resolved at first contact.
    pub first_contact: u64,
    /// Registration to resolution, summed, in seconds.
    pub handling_seconds: f64,
}

impl Handling {
    pub fn add(&mut self, o: &Handling) {
        self.handled += o.handled;
        self.on_time += o.on_time;
        self.first_contact += o.first_contact;
        self.handling_seconds += o.handling_seconds;
    }

    fn share(&self, n: u64) -> Option<f64> {
        (self.handled > 0).then(|| n as f64 / self.handled as f64)
    }

    /// Share of resolutions with no deadline breached; None without any.
    pub fn on_time_rate(&self) -> Option<f64> {
        self.share(self.on_time)
    }

    pub fn first_contact_rate(&self) -> Option<f64> {
        self.share(self.first_contact)
    }

    /// Average handling time in hours.
    pub fn average_hours(&self) -> Option<f64> {
        (self.handled > 0).then(|| self.handling_seconds / self.handled as f64 / 3600.0)
    }
}

/// A share as people read it: "87.5%", or "—" without a denominator.
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or("—".into(), |r| format!("{:.1}%", r * 100.0))
}

/// Hours as people read them: "3.2", or "—".
pub fn hours(h: Option<f64>) -> String {
    h.map_or("—".into(), |h| format!("{h:.1}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_over_the_resolutions_and_absent_without_any() {
        let none = Handling::default();
        assert_eq!((none.on_time_rate(), none.first_contact_rate(), none.average_hours()), (None, None, None));
        assert_eq!((percent(None), hours(None)), ("—".to_string(), "—".to_string()));
        let mut a = Handling { handled: 3, on_time: 2, first_contact: 1, handling_seconds: 3.0 * 7200.0 };
        assert_eq!(percent(a.on_time_rate()), "66.7%");
        assert_eq!(percent(a.first_contact_rate()), "33.3%");
        assert_eq!(hours(a.average_hours()), "2.0");
        a.add(&Handling { handled: 1, on_time: 1, first_contact: 1, handling_seconds: 0.0 });
        assert_eq!((a.handled, a.on_time, a.first_contact), (4, 3, 2));
        assert_eq!(hours(a.average_hours()), "1.5");
        assert_eq!(percent(a.on_time_rate()), "75.0%");
    }
}
