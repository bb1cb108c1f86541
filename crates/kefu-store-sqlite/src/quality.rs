//! Quality and assessment (QualityStore) in SQLite.

use crate::backend;
use crate::rows::{parse_ts, ts};
use chrono::NaiveDate;
use kefu_domain::{TicketId, UserId};
use kefu_store::{
    Evaluation, EvaluationFilter, EvaluationKind, Grading, Innovation, Outlet, RectificationReport, ScorecardVersion,
    StoreError, StoreResult, Training, Violation, ViolationEvent, ViolationFilter,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

fn day(raw: String) -> rusqlite::Result<NaiveDate> {
    raw.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn card(r: &rusqlite::Row) -> rusqlite::Result<ScorecardVersion> {
    Ok(ScorecardVersion {
        key: r.get(0)?,
        version: r.get(1)?,
        usage: r.get(2)?,
        body: r.get(3)?,
        created_by: r.get::<_, Option<i64>>(4)?.map(UserId),
        created_at: parse_ts(&r.get::<_, String>(5)?)?,
    })
}

const CARD: &str = "SELECT key, version, usage, body, created_by, created_at FROM quality_scorecards";

pub fn add_card(c: &Connection, v: ScorecardVersion) -> StoreResult<ScorecardVersion> {
    let next: i64 = c
        .query_row("SELECT COALESCE(MAX(version), 0) + 1 FROM quality_scorecards WHERE key = ?1", [&v.key], |r| {
            r.get(0)
        })
        .map_err(backend)?;
    c.execute(
        "INSERT INTO quality_scorecards (key, version, usage, body, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![v.key, next, v.usage, v.body, v.created_by.map(|u| u.0), ts(v.created_at)],
    )
    .map_err(backend)?;
    Ok(ScorecardVersion { version: next, ..v })
}

pub fn cards(c: &Connection) -> StoreResult<Vec<ScorecardVersion>> {
    c.prepare(&format!(
        "{CARD} q WHERE version = (SELECT MAX(version) FROM quality_scorecards WHERE key = q.key) ORDER BY key"
    ))
    .map_err(backend)?
    .query_map([], card)
    .map_err(backend)?
    .collect::<Result<_, _>>()
    .map_err(backend)
}

pub fn card_version(c: &Connection, key: &str, version: Option<i64>) -> StoreResult<Option<ScorecardVersion>> {
    c.query_row(
        &format!("{CARD} WHERE key = ?1 AND (?2 = 0 OR version = ?2) ORDER BY version DESC LIMIT 1"),
        params![key, version.unwrap_or(0)],
        card,
    )
    .optional()
    .map_err(backend)
}

fn outlet(r: &rusqlite::Row) -> rusqlite::Result<Outlet> {
    Ok(Outlet {
        code: r.get(0)?,
        name: r.get(1)?,
        region: r.get(2)?,
        manager: r.get(3)?,
        created_at: parse_ts(&r.get::<_, String>(4)?)?,
    })
}

const OUTLET: &str = "SELECT code, name, region, manager, created_at FROM outlets";

pub fn add_outlet(c: &Connection, o: Outlet) -> StoreResult<Outlet> {
    c.execute(
        "INSERT INTO outlets (code, name, region, manager, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![o.code, o.name, o.region, o.manager, ts(o.created_at)],
    )
    .map_err(|e| match backend(e) {
        StoreError::Conflict { .. } => StoreError::Conflict { constraint: "outlets_pkey".into() },
        other => other,
    })?;
    Ok(o)
}

pub fn outlets(c: &Connection, code: Option<&str>) -> StoreResult<Vec<Outlet>> {
    c.prepare(&format!("{OUTLET} WHERE (?1 IS NULL OR code = ?1) ORDER BY region, code"))
        .map_err(backend)?
        .query_map([code], outlet)
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)
}

const EVALUATION: &str = "SELECT id, kind, subject, ticket_id, agent, scorecard, version, period, day_from, day_to,
    score, body, reviewer, request_key, request_fp, created_at FROM quality_evaluations";

fn evaluation(r: &rusqlite::Row) -> rusqlite::Result<Evaluation> {
    let kind: String = r.get(1)?;
    Ok(Evaluation {
        id: r.get(0)?,
        kind: EvaluationKind::parse(&kind).unwrap_or(EvaluationKind::Calibration),
        subject: r.get(2)?,
        ticket: r.get::<_, Option<i64>>(3)?.map(TicketId),
        agent: r.get::<_, Option<i64>>(4)?.map(UserId),
        scorecard: r.get(5)?,
        version: r.get(6)?,
        period: r.get(7)?,
        day_from: day(r.get(8)?)?,
        day_to: day(r.get(9)?)?,
        score: r.get(10)?,
        body: r.get(11)?,
        reviewer: UserId(r.get(12)?),
        request: match (r.get::<_, Option<String>>(13)?, r.get::<_, Option<String>>(14)?) {
            (Some(k), Some(f)) => Some((k, f)),
            _ => None,
        },
        created_at: parse_ts(&r.get::<_, String>(15)?)?,
    })
}

pub fn add_evaluation(c: &Connection, e: Evaluation) -> StoreResult<Evaluation> {
    c.execute(
        "INSERT INTO quality_evaluations (kind, subject, ticket_id, agent, scorecard, version, period, day_from, day_to,
            score, body, reviewer, request_key, request_fp, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            e.kind.code(),
            e.subject,
            e.ticket.map(|t| t.0),
            e.agent.map(|a| a.0),
            e.scorecard,
            e.version,
            e.period,
            e.day_from.to_string(),
            e.day_to.to_string(),
            e.score,
            e.body,
            e.reviewer.0,
            e.request.as_ref().map(|r| &r.0),
            e.request.as_ref().map(|r| &r.1),
            ts(e.created_at)
        ],
    )
    .map_err(|e| match backend(e) {
        StoreError::Conflict { .. } => StoreError::Conflict { constraint: "quality_evaluations_request_key".into() },
        other => other,
    })?;
    Ok(Evaluation { id: c.last_insert_rowid(), ..e })
}

pub fn by_request(c: &Connection, key: &str) -> StoreResult<Option<Evaluation>> {
    c.query_row(&format!("{EVALUATION} WHERE request_key = ?1"), [key], evaluation).optional().map_err(backend)
}

pub fn evaluations(c: &Connection, f: &EvaluationFilter, id: Option<i64>) -> StoreResult<Vec<Evaluation>> {
    let mut cond = vec!["1 = 1".to_string()];
    let mut args: Vec<Value> = Vec::new();
    let mut arg = |cond: &mut Vec<String>, sql: &str, v: Value| {
        args.push(v);
        cond.push(sql.replace('?', &format!("?{}", args.len())));
    };
    if let Some(id) = id {
        arg(&mut cond, "id = ?", Value::Integer(id));
    }
    if let Some(k) = f.kind {
        arg(&mut cond, "kind = ?", Value::Text(k.code().into()));
    }
    if let Some((from, to)) = f.within {
        arg(&mut cond, "day_from >= ?", Value::Text(from.to_string()));
        arg(&mut cond, "day_to <= ?", Value::Text(to.to_string()));
    }
    if let Some(s) = &f.subject {
        arg(&mut cond, "subject = ?", Value::Text(s.clone()));
    }
    if let Some(a) = f.agent {
        arg(&mut cond, "agent = ?", Value::Integer(a.0));
    }
    if let Some(t) = f.ticket {
        arg(&mut cond, "ticket_id = ?", Value::Integer(t.0));
    }
    if let Some(at) = f.created_from {
        arg(&mut cond, "created_at >= ?", Value::Text(ts(at)));
    }
    c.prepare(&format!("{EVALUATION} WHERE {} ORDER BY id", cond.join(" AND ")))
        .map_err(backend)?
        .query_map(params_from_iter(args), evaluation)
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)
}

pub fn save_grading(c: &Connection, g: Grading) -> StoreResult<()> {
    c.execute(
        "INSERT INTO quality_gradings (period, body, graded_by, graded_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (period) DO UPDATE SET body = excluded.body, graded_by = excluded.graded_by, graded_at = excluded.graded_at",
        params![g.period, g.body, g.graded_by.0, ts(g.graded_at)],
    )
    .map_err(backend)?;
    Ok(())
}

pub fn grading(c: &Connection, period: &str) -> StoreResult<Option<Grading>> {
    c.query_row("SELECT period, body, graded_by, graded_at FROM quality_gradings WHERE period = ?1", [period], |r| {
        Ok(Grading {
            period: r.get(0)?,
            body: r.get(1)?,
            graded_by: UserId(r.get(2)?),
            graded_at: parse_ts(&r.get::<_, String>(3)?)?,
        })
    })
    .optional()
    .map_err(backend)
}

pub fn report_rectification(c: &Connection, r: RectificationReport) -> StoreResult<()> {
    c.execute(
        "INSERT INTO store_rectifications (inspection_id, store_code, note, reported_by, reported_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![r.inspection, r.store, r.note, r.reported_by.0, ts(r.reported_at)],
    )
    .map_err(backend)?;
    Ok(())
}

pub fn rectification_reports(c: &Connection, store: Option<String>) -> StoreResult<Vec<RectificationReport>> {
    c.prepare(
        "SELECT inspection_id, store_code, note, reported_by, reported_at FROM store_rectifications
         WHERE ?1 IS NULL OR store_code = ?1 ORDER BY inspection_id",
    )
    .map_err(backend)?
    .query_map(params![store], |r| {
        Ok(RectificationReport {
            inspection: r.get(0)?,
            store: r.get(1)?,
            note: r.get(2)?,
            reported_by: UserId(r.get(3)?),
            reported_at: parse_ts(&r.get::<_, String>(4)?)?,
        })
    })
    .map_err(backend)?
    .collect::<rusqlite::Result<_>>()
    .map_err(backend)
}

pub fn add_innovation(c: &Connection, i: Innovation) -> StoreResult<Innovation> {
    c.execute(
        "INSERT INTO quality_innovations (agent, day, title, points, recorded_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![i.agent.0, i.day.to_string(), i.title, i.points, i.recorded_by.0, ts(i.created_at)],
    )
    .map_err(backend)?;
    Ok(Innovation { id: c.last_insert_rowid(), ..i })
}

pub fn innovations(
    c: &Connection,
    from: NaiveDate,
    to: NaiveDate,
    agent: Option<UserId>,
) -> StoreResult<Vec<Innovation>> {
    c.prepare(
        "SELECT id, agent, day, title, points, recorded_by, created_at FROM quality_innovations
         WHERE day >= ?1 AND day <= ?2 AND (?3 = 0 OR agent = ?3) ORDER BY day, id",
    )
    .map_err(backend)?
    .query_map(params![from.to_string(), to.to_string(), agent.map_or(0, |a| a.0)], |r| {
        Ok(Innovation {
            id: r.get(0)?,
            agent: UserId(r.get(1)?),
            day: day(r.get(2)?)?,
            title: r.get(3)?,
            points: r.get(4)?,
            recorded_by: UserId(r.get(5)?),
            created_at: parse_ts(&r.get::<_, String>(6)?)?,
        })
    })
    .map_err(backend)?
    .collect::<Result<_, _>>()
    .map_err(backend)
}

const VIOLATION: &str = "SELECT id, agent, kind, points, ticket_id, evaluation_id, description, state, appeal_until,
    due_at, appealed_at, recorded_by, created_at, updated_at, version FROM quality_violations";

fn violation(r: &rusqlite::Row) -> rusqlite::Result<Violation> {
    Ok(Violation {
        id: r.get(0)?,
        agent: UserId(r.get(1)?),
        kind: r.get(2)?,
        points: r.get(3)?,
        ticket: r.get::<_, Option<i64>>(4)?.map(TicketId),
        evaluation: r.get(5)?,
        description: r.get(6)?,
        state: r.get(7)?,
        appeal_until: parse_ts(&r.get::<_, String>(8)?)?,
        due_at: parse_ts(&r.get::<_, String>(9)?)?,
        appealed_at: crate::rows::opt_ts(r.get(10)?)?,
        recorded_by: UserId(r.get(11)?),
        created_at: parse_ts(&r.get::<_, String>(12)?)?,
        updated_at: parse_ts(&r.get::<_, String>(13)?)?,
        version: r.get(14)?,
    })
}

fn add_event(c: &Connection, violation: i64, e: &ViolationEvent) -> StoreResult<()> {
    c.execute(
        "INSERT INTO quality_violation_events (violation_id, action, actor, note, state, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![violation, e.action, e.actor.0, e.note, e.state, ts(e.at)],
    )
    .map_err(backend)?;
    Ok(())
}

/// Runs inside the writer's savepoint: the record and its first event.
pub fn add_violation(c: &Connection, v: Violation, e: ViolationEvent) -> StoreResult<Violation> {
    c.execute(
        "INSERT INTO quality_violations (agent, kind, points, ticket_id, evaluation_id, description, state, appeal_until,
            due_at, appealed_at, recorded_by, created_at, updated_at, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            v.agent.0,
            v.kind,
            v.points,
            v.ticket.map(|t| t.0),
            v.evaluation,
            v.description,
            v.state,
            ts(v.appeal_until),
            ts(v.due_at),
            v.appealed_at.map(ts),
            v.recorded_by.0,
            ts(v.created_at),
            ts(v.updated_at),
            v.version
        ],
    )
    .map_err(backend)?;
    let id = c.last_insert_rowid();
    add_event(c, id, &e)?;
    Ok(Violation { id, ..v })
}

pub fn violations(c: &Connection, f: &ViolationFilter, id: Option<i64>) -> StoreResult<Vec<Violation>> {
    let (from, to) = f.created.map_or((String::new(), String::new()), |(a, b)| (ts(a), ts(b)));
    c.prepare(&format!(
        "{VIOLATION} WHERE (?1 = 0 OR id = ?1) AND (?2 = 0 OR agent = ?2) AND (?3 = '' OR state = ?3)
         AND (?4 = '' OR (created_at >= ?4 AND created_at < ?5)) ORDER BY id DESC"
    ))
    .map_err(backend)?
    .query_map(
        params![id.unwrap_or(0), f.agent.map_or(0, |a| a.0), f.state.clone().unwrap_or_default(), from, to],
        violation,
    )
    .map_err(backend)?
    .collect::<Result<_, _>>()
    .map_err(backend)
}

pub fn violation_events(c: &Connection, id: i64) -> StoreResult<Vec<ViolationEvent>> {
    c.prepare(
        "SELECT id, violation_id, action, actor, note, state, at FROM quality_violation_events
         WHERE violation_id = ?1 ORDER BY id",
    )
    .map_err(backend)?
    .query_map([id], |r| {
        Ok(ViolationEvent {
            id: r.get(0)?,
            violation: r.get(1)?,
            action: r.get(2)?,
            actor: UserId(r.get(3)?),
            note: r.get(4)?,
            state: r.get(5)?,
            at: parse_ts(&r.get::<_, String>(6)?)?,
        })
    })
    .map_err(backend)?
    .collect::<Result<_, _>>()
    .map_err(backend)
}

/// Runs inside the writer's savepoint: the step and its event, over the
/// version read.
pub fn step_violation(c: &Connection, v: Violation, e: ViolationEvent) -> StoreResult<bool> {
    let n = c
        .execute(
            "UPDATE quality_violations SET points = ?3, state = ?4, due_at = ?5, appealed_at = ?6, updated_at = ?7,
                version = version + 1
             WHERE id = ?1 AND version = ?2",
            params![v.id, v.version, v.points, v.state, ts(v.due_at), v.appealed_at.map(ts), ts(v.updated_at)],
        )
        .map_err(backend)?;
    if n == 0 {
        return Ok(false);
    }
    add_event(c, v.id, &e)?;
    Ok(true)
}

pub fn add_training(c: &Connection, t: Training) -> StoreResult<Training> {
    c.execute(
        "INSERT INTO staff_training (user_id, course, day, hours, result, certificate, recorded_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            t.user.0,
            t.course,
            t.day.to_string(),
            t.hours,
            t.result,
            t.certificate,
            t.recorded_by.0,
            ts(t.created_at)
        ],
    )
    .map_err(backend)?;
    Ok(Training { id: c.last_insert_rowid(), ..t })
}

pub fn trainings(c: &Connection, user: UserId) -> StoreResult<Vec<Training>> {
    c.prepare(
        "SELECT id, user_id, course, day, hours, result, certificate, recorded_by, created_at FROM staff_training
         WHERE user_id = ?1 ORDER BY day DESC, id DESC",
    )
    .map_err(backend)?
    .query_map([user.0], |r| {
        Ok(Training {
            id: r.get(0)?,
            user: UserId(r.get(1)?),
            course: r.get(2)?,
            day: day(r.get(3)?)?,
            hours: r.get(4)?,
            result: r.get(5)?,
            certificate: r.get(6)?,
            recorded_by: UserId(r.get(7)?),
            created_at: parse_ts(&r.get::<_, String>(8)?)?,
        })
    })
    .map_err(backend)?
    .collect::<Result<_, _>>()
    .map_err(backend)
}

/// The store capabilities kept in this file: QualityStore.
mod capability {
    use crate::*;
    use chrono::NaiveDate;
    use kefu_store::{
        Evaluation, EvaluationFilter, Grading, Innovation, Outlet, QualityStore, ScorecardVersion, Training, Violation,
        ViolationEvent, ViolationFilter,
    };

    impl QualityStore for SqliteStore {
        async fn add_training(&self, t: Training) -> StoreResult<Training> {
            self.writer.run(move |c| quality::add_training(c, t)).await
        }
        async fn trainings(&self, user: UserId) -> StoreResult<Vec<Training>> {
            self.read(move |c| quality::trainings(c, user)).await
        }
        async fn add_violation(&self, v: Violation, e: ViolationEvent) -> StoreResult<Violation> {
            self.writer.run(move |c| quality::add_violation(c, v, e)).await
        }
        async fn violation(&self, id: i64) -> StoreResult<Option<Violation>> {
            self.read(move |c| Ok(quality::violations(c, &ViolationFilter::default(), Some(id))?.pop())).await
        }
        async fn violations(&self, f: ViolationFilter) -> StoreResult<Vec<Violation>> {
            self.read(move |c| quality::violations(c, &f, None)).await
        }
        async fn violation_events(&self, id: i64) -> StoreResult<Vec<ViolationEvent>> {
            self.read(move |c| quality::violation_events(c, id)).await
        }
        async fn step_violation(&self, v: Violation, e: ViolationEvent) -> StoreResult<bool> {
            self.writer.run(move |c| quality::step_violation(c, v, e)).await
        }
        async fn add_scorecard_version(
            &self,
            key: String,
            usage: String,
            body: String,
            by: Option<UserId>,
            now: DateTime<Utc>,
        ) -> StoreResult<ScorecardVersion> {
            let v = ScorecardVersion { key, version: 0, usage, body, created_by: by, created_at: now };
            self.writer.run(move |c| quality::add_card(c, v)).await
        }
        async fn scorecards(&self) -> StoreResult<Vec<ScorecardVersion>> {
            self.read(quality::cards).await
        }
        async fn scorecard(&self, key: String, version: Option<i64>) -> StoreResult<Option<ScorecardVersion>> {
            self.read(move |c| quality::card_version(c, &key, version)).await
        }
        async fn create_outlet(&self, o: Outlet) -> StoreResult<Outlet> {
            self.writer.run(move |c| quality::add_outlet(c, o)).await
        }
        async fn outlets(&self) -> StoreResult<Vec<Outlet>> {
            self.read(|c| quality::outlets(c, None)).await
        }
        async fn outlet(&self, code: String) -> StoreResult<Option<Outlet>> {
            self.read(move |c| Ok(quality::outlets(c, Some(&code))?.pop())).await
        }
        async fn add_evaluation(&self, e: Evaluation) -> StoreResult<Evaluation> {
            self.writer.run(move |c| quality::add_evaluation(c, e)).await
        }
        async fn evaluation(&self, id: i64) -> StoreResult<Option<Evaluation>> {
            self.read(move |c| Ok(quality::evaluations(c, &EvaluationFilter::default(), Some(id))?.pop())).await
        }
        async fn evaluation_by_request(&self, key: String) -> StoreResult<Option<Evaluation>> {
            self.read(move |c| quality::by_request(c, &key)).await
        }
        async fn evaluations(&self, f: EvaluationFilter) -> StoreResult<Vec<Evaluation>> {
            self.read(move |c| quality::evaluations(c, &f, None)).await
        }
        async fn save_grading(&self, g: Grading) -> StoreResult<()> {
            self.writer.run(move |c| quality::save_grading(c, g)).await
        }
        async fn grading(&self, period: String) -> StoreResult<Option<Grading>> {
            self.read(move |c| quality::grading(c, &period)).await
        }
        async fn add_innovation(&self, i: Innovation) -> StoreResult<Innovation> {
            self.writer.run(move |c| quality::add_innovation(c, i)).await
        }
        async fn report_rectification(&self, r: RectificationReport) -> StoreResult<()> {
            self.writer.run(move |c| quality::report_rectification(c, r)).await
        }
        async fn rectification_reports(&self, store: Option<String>) -> StoreResult<Vec<RectificationReport>> {
            self.read(move |c| quality::rectification_reports(c, store)).await
        }
        async fn innovations(
            &self,
            from: NaiveDate,
            to: NaiveDate,
            agent: Option<UserId>,
        ) -> StoreResult<Vec<Innovation>> {
            self.read(move |c| quality::innovations(c, from, to, agent)).await
        }
    }
}
