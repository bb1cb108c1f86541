//! Quality and assessment (QualityStore) in PostgreSQL.

use crate::pg;
use chrono::NaiveDate;
use deadpool_postgres::GenericClient;
use kefu_domain::{TicketId, UserId};
use kefu_store::{
    Evaluation, EvaluationFilter, EvaluationKind, Grading, Innovation, Outlet, RectificationReport, ScorecardVersion,
    StoreError, StoreResult, Training, Violation, ViolationEvent, ViolationFilter,
};
use tokio_postgres::types::ToSql;

fn card(r: &tokio_postgres::Row) -> ScorecardVersion {
    ScorecardVersion {
        key: r.get(0),
        version: r.get(1),
        usage: r.get(2),
        body: r.get(3),
        created_by: r.get::<_, Option<i64>>(4).map(UserId),
        created_at: r.get(5),
    }
}

const CARD: &str = "SELECT key, version, usage, body, created_by, created_at FROM quality_scorecards";

pub async fn add_card(c: &impl GenericClient, v: ScorecardVersion) -> StoreResult<ScorecardVersion> {
    // Two editors saving at once: the second insert meets the first's
    // version and takes the next one.
    for _ in 0..5 {
        let res = c
            .query_one(
                "INSERT INTO quality_scorecards (key, version, usage, body, created_by, created_at)
                 SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5 FROM quality_scorecards WHERE key = $1
                 RETURNING version",
                &[&v.key, &v.usage, &v.body, &v.created_by.map(|u| u.0), &v.created_at],
            )
            .await
            .map_err(pg);
        match res {
            Ok(row) => return Ok(ScorecardVersion { version: row.get(0), ..v }),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict { constraint: "quality_scorecards_pkey".into() })
}

pub async fn cards(c: &impl GenericClient) -> StoreResult<Vec<ScorecardVersion>> {
    let rows = c
        .query(
            &format!(
                "{CARD} q WHERE version = (SELECT MAX(version) FROM quality_scorecards WHERE key = q.key) ORDER BY key"
            ),
            &[],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(card).collect())
}

pub async fn card_version(
    c: &impl GenericClient,
    key: &str,
    version: Option<i64>,
) -> StoreResult<Option<ScorecardVersion>> {
    let row = c
        .query_opt(
            &format!("{CARD} WHERE key = $1 AND ($2::BIGINT = 0 OR version = $2) ORDER BY version DESC LIMIT 1"),
            &[&key, &version.unwrap_or(0)],
        )
        .await
        .map_err(pg)?;
    Ok(row.as_ref().map(card))
}

const OUTLET: &str = "SELECT code, name, region, manager, created_at FROM outlets";

fn outlet(r: &tokio_postgres::Row) -> Outlet {
    Outlet { code: r.get(0), name: r.get(1), region: r.get(2), manager: r.get(3), created_at: r.get(4) }
}

pub async fn add_outlet(c: &impl GenericClient, o: Outlet) -> StoreResult<Outlet> {
    c.execute(
        "INSERT INTO outlets (code, name, region, manager, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[&o.code, &o.name, &o.region, &o.manager, &o.created_at],
    )
    .await
    .map_err(pg)?;
    Ok(o)
}

pub async fn outlets(c: &impl GenericClient, code: Option<&str>) -> StoreResult<Vec<Outlet>> {
    let rows = c
        .query(&format!("{OUTLET} WHERE ($1::TEXT IS NULL OR code = $1) ORDER BY region, code"), &[&code])
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(outlet).collect())
}

const EVALUATION: &str = "SELECT id, kind, subject, ticket_id, agent, scorecard, version, period, day_from, day_to,
    score, body, reviewer, request_key, request_fp, created_at FROM quality_evaluations";

fn evaluation(r: &tokio_postgres::Row) -> Evaluation {
    Evaluation {
        id: r.get(0),
        kind: EvaluationKind::parse(r.get(1)).unwrap_or(EvaluationKind::Calibration),
        subject: r.get(2),
        ticket: r.get::<_, Option<i64>>(3).map(TicketId),
        agent: r.get::<_, Option<i64>>(4).map(UserId),
        scorecard: r.get(5),
        version: r.get(6),
        period: r.get(7),
        day_from: r.get(8),
        day_to: r.get(9),
        score: r.get(10),
        body: r.get(11),
        reviewer: UserId(r.get(12)),
        request: match (r.get::<_, Option<String>>(13), r.get::<_, Option<String>>(14)) {
            (Some(k), Some(f)) => Some((k, f)),
            _ => None,
        },
        created_at: r.get(15),
    }
}

pub async fn add_evaluation(c: &impl GenericClient, e: Evaluation) -> StoreResult<Evaluation> {
    let id: i64 = c
        .query_one(
            "INSERT INTO quality_evaluations (kind, subject, ticket_id, agent, scorecard, version, period, day_from,
                day_to, score, body, reviewer, request_key, request_fp, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
            &[
                &e.kind.code(),
                &e.subject,
                &e.ticket.map(|t| t.0),
                &e.agent.map(|a| a.0),
                &e.scorecard,
                &e.version,
                &e.period,
                &e.day_from,
                &e.day_to,
                &e.score,
                &e.body,
                &e.reviewer.0,
                &e.request.as_ref().map(|r| r.0.clone()),
                &e.request.as_ref().map(|r| r.1.clone()),
                &e.created_at,
            ],
        )
        .await
        .map_err(pg)?
        .get(0);
    Ok(Evaluation { id, ..e })
}

pub async fn by_request(c: &impl GenericClient, key: &str) -> StoreResult<Option<Evaluation>> {
    let row = c.query_opt(&format!("{EVALUATION} WHERE request_key = $1"), &[&key]).await.map_err(pg)?;
    Ok(row.as_ref().map(evaluation))
}

pub async fn evaluations(
    c: &impl GenericClient,
    f: &EvaluationFilter,
    id: Option<i64>,
) -> StoreResult<Vec<Evaluation>> {
    let mut cond = vec!["TRUE".to_string()];
    let mut args: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut arg = |cond: &mut Vec<String>, sql: &str, v: Box<dyn ToSql + Sync + Send>| {
        args.push(v);
        cond.push(sql.replace('?', &format!("${}", args.len())));
    };
    if let Some(id) = id {
        arg(&mut cond, "id = ?", Box::new(id));
    }
    if let Some(k) = f.kind {
        arg(&mut cond, "kind = ?", Box::new(k.code()));
    }
    if let Some((from, to)) = f.within {
        arg(&mut cond, "day_from >= ?", Box::new(from));
        arg(&mut cond, "day_to <= ?", Box::new(to));
    }
    if let Some(s) = &f.subject {
        arg(&mut cond, "subject = ?", Box::new(s.clone()));
    }
    if let Some(a) = f.agent {
        arg(&mut cond, "agent = ?", Box::new(a.0));
    }
    if let Some(t) = f.ticket {
        arg(&mut cond, "ticket_id = ?", Box::new(t.0));
    }
    if let Some(at) = f.created_from {
        arg(&mut cond, "created_at >= ?", Box::new(at));
    }
    let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect();
    let rows = c.query(&format!("{EVALUATION} WHERE {} ORDER BY id", cond.join(" AND ")), &refs).await.map_err(pg)?;
    Ok(rows.iter().map(evaluation).collect())
}

pub async fn save_grading(c: &impl GenericClient, g: Grading) -> StoreResult<()> {
    c.execute(
        "INSERT INTO quality_gradings (period, body, graded_by, graded_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (period) DO UPDATE SET body = excluded.body, graded_by = excluded.graded_by, graded_at = excluded.graded_at",
        &[&g.period, &g.body, &g.graded_by.0, &g.graded_at],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub async fn grading(c: &impl GenericClient, period: &str) -> StoreResult<Option<Grading>> {
    let row = c
        .query_opt("SELECT period, body, graded_by, graded_at FROM quality_gradings WHERE period = $1", &[&period])
        .await
        .map_err(pg)?;
    Ok(row.map(|r| Grading { period: r.get(0), body: r.get(1), graded_by: UserId(r.get(2)), graded_at: r.get(3) }))
}

pub async fn report_rectification(c: &impl GenericClient, r: RectificationReport) -> StoreResult<()> {
    c.execute(
        "INSERT INTO store_rectifications (inspection_id, store_code, note, reported_by, reported_at) VALUES ($1, $2, $3, $4, $5)",
        &[&r.inspection, &r.store, &r.note, &r.reported_by.0, &r.reported_at],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub async fn rectification_reports(
    c: &impl GenericClient,
    store: Option<String>,
) -> StoreResult<Vec<RectificationReport>> {
    let rows = c
        .query(
            "SELECT inspection_id, store_code, note, reported_by, reported_at FROM store_rectifications
             WHERE $1::TEXT IS NULL OR store_code = $1 ORDER BY inspection_id",
            &[&store],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| RectificationReport {
            inspection: r.get(0),
            store: r.get(1),
            note: r.get(2),
            reported_by: UserId(r.get(3)),
            reported_at: r.get(4),
        })
        .collect())
}

pub async fn add_innovation(c: &impl GenericClient, i: Innovation) -> StoreResult<Innovation> {
    let id: i64 = c
        .query_one(
            "INSERT INTO quality_innovations (agent, day, title, points, recorded_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&i.agent.0, &i.day, &i.title, &i.points, &i.recorded_by.0, &i.created_at],
        )
        .await
        .map_err(pg)?
        .get(0);
    Ok(Innovation { id, ..i })
}

pub async fn innovations(
    c: &impl GenericClient,
    from: NaiveDate,
    to: NaiveDate,
    agent: Option<UserId>,
) -> StoreResult<Vec<Innovation>> {
    let rows = c
        .query(
            "SELECT id, agent, day, title, points, recorded_by, created_at FROM quality_innovations
             WHERE day >= $1 AND day <= $2 AND ($3::BIGINT = 0 OR agent = $3) ORDER BY day, id",
            &[&from, &to, &agent.map_or(0, |a| a.0)],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| Innovation {
            id: r.get(0),
            agent: UserId(r.get(1)),
            day: r.get(2),
            title: r.get(3),
            points: r.get(4),
            recorded_by: UserId(r.get(5)),
            created_at: r.get(6),
        })
        .collect())
}

const VIOLATION: &str = "SELECT id, agent, kind, points, ticket_id, evaluation_id, description, state, appeal_until,
    due_at, appealed_at, recorded_by, created_at, updated_at, version FROM quality_violations";

fn violation(r: &tokio_postgres::Row) -> Violation {
    Violation {
        id: r.get(0),
        agent: UserId(r.get(1)),
        kind: r.get(2),
        points: r.get(3),
        ticket: r.get::<_, Option<i64>>(4).map(TicketId),
        evaluation: r.get(5),
        description: r.get(6),
        state: r.get(7),
        appeal_until: r.get(8),
        due_at: r.get(9),
        appealed_at: r.get(10),
        recorded_by: UserId(r.get(11)),
        created_at: r.get(12),
        updated_at: r.get(13),
        version: r.get(14),
    }
}

async fn add_event(c: &impl GenericClient, violation: i64, e: &ViolationEvent) -> StoreResult<()> {
    c.execute(
        "INSERT INTO quality_violation_events (violation_id, action, actor, note, state, at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&violation, &e.action, &e.actor.0, &e.note, &e.state, &e.at],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// One transaction: the record and its first event.
pub async fn add_violation(
    client: &mut deadpool_postgres::Client,
    v: Violation,
    e: ViolationEvent,
) -> StoreResult<Violation> {
    let tx = client.transaction().await.map_err(pg)?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO quality_violations (agent, kind, points, ticket_id, evaluation_id, description, state,
                appeal_until, due_at, appealed_at, recorded_by, created_at, updated_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
            &[
                &v.agent.0,
                &v.kind,
                &v.points,
                &v.ticket.map(|t| t.0),
                &v.evaluation,
                &v.description,
                &v.state,
                &v.appeal_until,
                &v.due_at,
                &v.appealed_at,
                &v.recorded_by.0,
                &v.created_at,
                &v.updated_at,
                &v.version,
            ],
        )
        .await
        .map_err(pg)?
        .get(0);
    add_event(&tx, id, &e).await?;
    tx.commit().await.map_err(pg)?;
    Ok(Violation { id, ..v })
}

pub async fn violations(c: &impl GenericClient, f: &ViolationFilter, id: Option<i64>) -> StoreResult<Vec<Violation>> {
    let (from, to) = f.created.unzip();
    let rows = c
        .query(
            &format!(
                "{VIOLATION} WHERE ($1::BIGINT = 0 OR id = $1) AND ($2::BIGINT = 0 OR agent = $2)
                 AND ($3::TEXT = '' OR state = $3)
                 AND ($4::TIMESTAMPTZ IS NULL OR (created_at >= $4 AND created_at < $5)) ORDER BY id DESC"
            ),
            &[&id.unwrap_or(0), &f.agent.map_or(0, |a| a.0), &f.state.clone().unwrap_or_default(), &from, &to],
        )
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(violation).collect())
}

pub async fn violation_events(c: &impl GenericClient, id: i64) -> StoreResult<Vec<ViolationEvent>> {
    let rows = c
        .query(
            "SELECT id, violation_id, action, actor, note, state, at FROM quality_violation_events
             WHERE violation_id = $1 ORDER BY id",
            &[&id],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| ViolationEvent {
            id: r.get(0),
            violation: r.get(1),
            action: r.get(2),
            actor: UserId(r.get(3)),
            note: r.get(4),
            state: r.get(5),
            at: r.get(6),
        })
        .collect())
}

/// One transaction: the step and its event, over the version read.
pub async fn step_violation(
    client: &mut deadpool_postgres::Client,
    v: Violation,
    e: ViolationEvent,
) -> StoreResult<bool> {
    let tx = client.transaction().await.map_err(pg)?;
    let n = tx
        .execute(
            "UPDATE quality_violations SET points = $3, state = $4, due_at = $5, appealed_at = $6, updated_at = $7,
                version = version + 1
             WHERE id = $1 AND version = $2",
            &[&v.id, &v.version, &v.points, &v.state, &v.due_at, &v.appealed_at, &v.updated_at],
        )
        .await
        .map_err(pg)?;
    if n == 0 {
        return Ok(false);
    }
    add_event(&tx, v.id, &e).await?;
    tx.commit().await.map_err(pg)?;
    Ok(true)
}

pub async fn add_training(c: &impl GenericClient, t: Training) -> StoreResult<Training> {
    let id: i64 = c
        .query_one(
            "INSERT INTO staff_training (user_id, course, day, hours, result, certificate, recorded_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            &[&t.user.0, &t.course, &t.day, &t.hours, &t.result, &t.certificate, &t.recorded_by.0, &t.created_at],
        )
        .await
        .map_err(pg)?
        .get(0);
    Ok(Training { id, ..t })
}

pub async fn trainings(c: &impl GenericClient, user: UserId) -> StoreResult<Vec<Training>> {
    let rows = c
        .query(
            "SELECT id, user_id, course, day, hours, result, certificate, recorded_by, created_at FROM staff_training
             WHERE user_id = $1 ORDER BY day DESC, id DESC",
            &[&user.0],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| Training {
            id: r.get(0),
            user: UserId(r.get(1)),
            course: r.get(2),
            day: r.get(3),
            hours: r.get(4),
            result: r.get(5),
            certificate: r.get(6),
            recorded_by: UserId(r.get(7)),
            created_at: r.get(8),
        })
        .collect())
}

/// The store capabilities kept in this file: QualityStore.
mod capability {
    use crate::*;
    use chrono::NaiveDate;
    use kefu_store::{
        Evaluation, EvaluationFilter, Grading, Innovation, Outlet, QualityStore, ScorecardVersion, Training, Violation,
        ViolationEvent, ViolationFilter,
    };

    impl QualityStore for PgStore {
        async fn add_training(&self, t: Training) -> StoreResult<Training> {
            quality::add_training(&self.client().await?, t).await
        }
        async fn trainings(&self, user: UserId) -> StoreResult<Vec<Training>> {
            quality::trainings(&self.client().await?, user).await
        }
        async fn add_violation(&self, v: Violation, e: ViolationEvent) -> StoreResult<Violation> {
            quality::add_violation(&mut self.client().await?, v, e).await
        }
        async fn violation(&self, id: i64) -> StoreResult<Option<Violation>> {
            Ok(quality::violations(&self.client().await?, &ViolationFilter::default(), Some(id)).await?.pop())
        }
        async fn violations(&self, f: ViolationFilter) -> StoreResult<Vec<Violation>> {
            quality::violations(&self.client().await?, &f, None).await
        }
        async fn violation_events(&self, id: i64) -> StoreResult<Vec<ViolationEvent>> {
            quality::violation_events(&self.client().await?, id).await
        }
        async fn step_violation(&self, v: Violation, e: ViolationEvent) -> StoreResult<bool> {
            quality::step_violation(&mut self.client().await?, v, e).await
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
            quality::add_card(&self.client().await?, v).await
        }
        async fn scorecards(&self) -> StoreResult<Vec<ScorecardVersion>> {
            quality::cards(&self.client().await?).await
        }
        async fn scorecard(&self, key: String, version: Option<i64>) -> StoreResult<Option<ScorecardVersion>> {
            quality::card_version(&self.client().await?, &key, version).await
        }
        async fn create_outlet(&self, o: Outlet) -> StoreResult<Outlet> {
            quality::add_outlet(&self.client().await?, o).await
        }
        async fn outlets(&self) -> StoreResult<Vec<Outlet>> {
            quality::outlets(&self.client().await?, None).await
        }
        async fn outlet(&self, code: String) -> StoreResult<Option<Outlet>> {
            Ok(quality::outlets(&self.client().await?, Some(&code)).await?.pop())
        }
        async fn add_evaluation(&self, e: Evaluation) -> StoreResult<Evaluation> {
            quality::add_evaluation(&self.client().await?, e).await
        }
        async fn evaluation(&self, id: i64) -> StoreResult<Option<Evaluation>> {
            Ok(quality::evaluations(&self.client().await?, &EvaluationFilter::default(), Some(id)).await?.pop())
        }
        async fn evaluation_by_request(&self, key: String) -> StoreResult<Option<Evaluation>> {
            quality::by_request(&self.client().await?, &key).await
        }
        async fn evaluations(&self, f: EvaluationFilter) -> StoreResult<Vec<Evaluation>> {
            quality::evaluations(&self.client().await?, &f, None).await
        }
        async fn save_grading(&self, g: Grading) -> StoreResult<()> {
            quality::save_grading(&self.client().await?, g).await
        }
        async fn grading(&self, period: String) -> StoreResult<Option<Grading>> {
            quality::grading(&self.client().await?, &period).await
        }
        async fn add_innovation(&self, i: Innovation) -> StoreResult<Innovation> {
            quality::add_innovation(&self.client().await?, i).await
        }
        async fn report_rectification(&self, r: RectificationReport) -> StoreResult<()> {
            quality::report_rectification(&self.client().await?, r).await
        }
        async fn rectification_reports(&self, store: Option<String>) -> StoreResult<Vec<RectificationReport>> {
            quality::rectification_reports(&self.client().await?, store).await
        }
        async fn innovations(
            &self,
            from: NaiveDate,
            to: NaiveDate,
            agent: Option<UserId>,
        ) -> StoreResult<Vec<Innovation>> {
            quality::innovations(&self.client().await?, from, to, agent).await
        }
    }
}
