//! Store rectification (整改, R-32): a store that fails an inspection —
//! graded 不达标, which a failed red line always is — owes a rectification,
//! due a number of working days after the inspection. The store reports it
//! done; the next inspection of the store is the re-check: passing closes
//! the task, failing closes it as failed and opens the next task itself.
//!
//! Tasks are derived, not kept: from the store's inspections in order and
//! the reports written against them. So an inspection and its task can never
//! disagree, and a re-inspection needs no second write to close a task.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One inspection of a store, as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inspected {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Graded 不达标 before quotas.
    pub failing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Rectification due (待整改).
    Open,
    /// The store reports it done; the re-inspection is due (待复查).
    Reported,
    /// The re-inspection passed (复查通过).
    Passed,
    /// The re-inspection failed; its own task follows (复查未通过).
    Failed,
}

impl TaskState {
    pub fn code(self) -> &'static str {
        match self {
            TaskState::Open => "open",
            TaskState::Reported => "reported",
            TaskState::Passed => "passed",
            TaskState::Failed => "failed",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            TaskState::Open => ("待整改", "Rectification due"),
            TaskState::Reported => ("待复查", "Re-inspection due"),
            TaskState::Passed => ("复查通过", "Re-inspection passed"),
            TaskState::Failed => ("复查未通过", "Re-inspection failed"),
        }
    }

    /// Still waiting on the store or the inspector.
    pub fn pending(self) -> bool {
        matches!(self, TaskState::Open | TaskState::Reported)
    }
}

/// A rectification task of one store.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The failing inspection the task comes from (its id is the task's).
    pub inspection: i64,
    pub opened_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub state: TaskState,
    /// The re-inspection that closed it.
    pub rechecked_by: Option<i64>,
}

impl Task {
    /// Due and not even reported done by `now`.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.state == TaskState::Open && now > self.due_at
    }
}

/// The tasks of one store from its inspections (any order) and the
/// inspections whose task the store reported done; `due` gives a task's
/// deadline from its opening (the working-day calendar).
pub fn tasks<E>(
    inspections: &[Inspected],
    reported: &[i64],
    due: impl Fn(DateTime<Utc>) -> Result<DateTime<Utc>, E>,
) -> Result<Vec<Task>, E> {
    let mut sorted = inspections.to_vec();
    sorted.sort_by_key(|i| (i.at, i.id));
    let mut out = Vec::new();
    for (n, i) in sorted.iter().enumerate().filter(|(_, i)| i.failing) {
        let next = sorted.get(n + 1);
        let state = match next {
            Some(j) if j.failing => TaskState::Failed,
            Some(_) => TaskState::Passed,
            None if reported.contains(&i.id) => TaskState::Reported,
            None => TaskState::Open,
        };
        out.push(Task {
            inspection: i.id,
            opened_at: i.at,
            due_at: due(i.at)?,
            state,
            rechecked_by: next.map(|j| j.id),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 2, 0, 0).unwrap()
    }

    fn insp(id: i64, day: u32, failing: bool) -> Inspected {
        Inspected { id, at: at(day), failing }
    }

    fn run(list: &[Inspected], reported: &[i64]) -> Vec<(i64, TaskState, Option<i64>)> {
        let due = |t: DateTime<Utc>| Ok::<_, ()>(t + Duration::days(7));
        tasks(list, reported, due).unwrap().into_iter().map(|t| (t.inspection, t.state, t.rechecked_by)).collect()
    }

    #[test]
    fn a_passing_store_owes_nothing() {
        assert_eq!(run(&[insp(1, 2, false), insp(2, 9, false)], &[]), vec![]);
    }

    #[test]
    fn a_failing_inspection_opens_a_task_the_next_one_rechecks() {
        assert_eq!(run(&[insp(1, 2, true)], &[]), vec![(1, TaskState::Open, None)]);
        assert_eq!(run(&[insp(1, 2, true)], &[1]), vec![(1, TaskState::Reported, None)]);
        // Given out of order: the rules order by time.
        assert_eq!(run(&[insp(2, 9, false), insp(1, 2, true)], &[1]), vec![(1, TaskState::Passed, Some(2))]);
        // Passed without a report: the re-inspection is what counts.
        assert_eq!(run(&[insp(1, 2, true), insp(2, 9, false)], &[]), vec![(1, TaskState::Passed, Some(2))]);
    }

    #[test]
    fn a_failed_recheck_closes_the_task_and_opens_the_next() {
        let got = run(&[insp(1, 2, true), insp(2, 9, true), insp(3, 16, false), insp(4, 20, true)], &[1]);
        assert_eq!(
            got,
            vec![(1, TaskState::Failed, Some(2)), (2, TaskState::Passed, Some(3)), (4, TaskState::Open, None)]
        );
    }

    #[test]
    fn only_an_unreported_open_task_goes_overdue() {
        let due = |t: DateTime<Utc>| Ok::<_, ()>(t + Duration::days(7));
        let open = tasks(&[insp(1, 2, true)], &[], due).unwrap().remove(0);
        assert_eq!(open.due_at, at(9));
        assert!(!open.overdue(at(9)) && open.overdue(at(9) + Duration::seconds(1)));
        let reported = tasks(&[insp(1, 2, true)], &[1], due).unwrap().remove(0);
        assert!(!reported.overdue(at(20)));
        assert!(TaskState::Open.pending() && TaskState::Reported.pending() && !TaskState::Passed.pending());
    }
}
