//! Store evaluation: stores (营业厅) as records, inspections scored
//! on a store checklist by the one scorecard engine, and a period's
//! grading — each store's score from its inspections, its grade, then the
//! quotas by rank (`kefu_domain::grading`), kept as decided.

use super::quality::{only_fields, opt_str};
use super::*;
use crate::error::ApiError;
use kefu_domain::flow::Actor;
use kefu_domain::grading::{Grade, grade_all};
use kefu_domain::quality::Cycle;
use kefu_store::*;
use serde_json::{Map, Value, json};

/// A store's code, or 422 naming `code`.
fn store_code(raw: Option<&str>) -> Result<String, ApiError> {
    Ok(kefu_domain::validate::store_code(raw.unwrap_or(""), "code")?)
}

pub fn outlet_json(o: &Outlet) -> Value {
    json!({"code": o.code, "name": o.name, "region": o.region, "manager": o.manager, "created_at": o.created_at})
}

/// A grade's code and labels, as `{prefix}`, `{prefix}_label`, `{prefix}_label_en`.
pub fn put_grade(o: &mut Map<String, Value>, prefix: &str, g: Grade) {
    let (zh, en) = g.label();
    o.insert(prefix.to_string(), json!(g.code()));
    o.insert(format!("{prefix}_label"), json!(zh));
    o.insert(format!("{prefix}_label_en"), json!(en));
}

impl<S: Store> Kefu<S> {
    /// `POST /api/v1/stores {code, name, region, manager?}`.
    pub async fn create_outlet(&self, body: &Map<String, Value>) -> Result<Outlet, ApiError> {
        only_fields(body, &["code", "name", "region", "manager"])?;
        let code = store_code(opt_str(body, "code")?)?;
        let name = kefu_domain::validate::required_text(opt_str(body, "name")?, "name", 100)?;
        let region = kefu_domain::validate::required_text(opt_str(body, "region")?, "region", 50)?;
        let manager = kefu_domain::validate::optional_text(opt_str(body, "manager")?, "manager", 50)?;
        let o = Outlet { code, name, region, manager, created_at: self.now() };
        match self.store.create_outlet(o).await {
            Err(StoreError::Conflict { .. }) => Err(ApiError::Conflict { constraint: "outlets_pkey".into() }),
            other => Ok(other?),
        }
    }

    pub async fn outlet(&self, code: &str) -> Result<Outlet, ApiError> {
        let code = store_code(Some(code)).map_err(|_| ApiError::NotFound { what: "store", what_zh: "营业厅" })?;
        self.store.outlet(code).await?.ok_or(ApiError::NotFound { what: "store", what_zh: "营业厅" })
    }

    /// `POST /api/v1/stores/{code}/inspections {scorecard, period, items, notes?}`:
    /// the inspection, its score and its grade before quotas.
    pub async fn inspect(
        &self,
        who: &Actor,
        code: &str,
        body: &Map<String, Value>,
        idem: Option<&Idem>,
    ) -> Result<Evaluation, ApiError> {
        if let Some(e) = self.replayed(who, idem).await? {
            return Ok(e);
        }
        only_fields(body, &["scorecard", "period", "items", "notes"])?;
        let outlet = self.outlet(code).await?;
        let card_key = opt_str(body, "scorecard")?.unwrap_or("store_inspection");
        let cycle = match opt_str(body, "period")? {
            Some(p) => Cycle::parse(p, "period")?,
            None => Cycle::month_of(kefu_domain::time::shanghai_date(self.now())),
        };
        let notes = kefu_domain::validate::optional_free_text(opt_str(body, "notes")?, "notes", 2000)?;
        let (v, scored) = self.score_on(card_key, true, body).await?;
        let grade = self.core.policy.quality.grades.grade(scored.score);
        let record = json!({"scored": scored, "notes": notes, "grade": grade.code(), "store_name": outlet.name});
        let judged = super::quality::Judged {
            kind: EvaluationKind::Inspection,
            subject: outlet.code,
            ticket: None,
            agent: None,
            cycle,
            card: v,
            score: scored.score,
            record,
        };
        self.keep_evaluation(who, judged, idem).await
    }

    /// Grades every store inspected in the period and keeps the result:
    /// `{period, stores, quotas, graded: [...], not_inspected: [...]}`.
    pub async fn grade_stores(&self, who: &Actor, period: &str) -> Result<Value, ApiError> {
        let cycle = Cycle::parse(period, "period")?;
        let policy = &self.core.policy.quality.grades;
        let inspections = self
            .store
            .evaluations(EvaluationFilter {
                kind: Some(EvaluationKind::Inspection),
                within: Some(cycle.days()),
                ..Default::default()
            })
            .await?;
        let outlets = self.store.outlets().await?;
        let mut scores = Vec::new();
        for o in &outlets {
            let mine: Vec<f64> = inspections.iter().filter(|e| e.subject == o.code).map(|e| e.score).collect();
            if let Some(s) = policy.combine(&mine) {
                scores.push((o.code.clone(), s));
            }
        }
        let graded = grade_all(policy, &scores).map_err(|over| {
            let parts: Vec<String> = over.0.iter().map(|(g, n, q)| format!("{} {n} > {q}", g.code())).collect();
            let parts_zh: Vec<String> =
                over.0.iter().map(|(g, n, q)| format!("{}{n}家，名额{q}家", g.label().0)).collect();
            ApiError::from(kefu_domain::FieldError::new(
                "period",
                format!("grades over their quotas ({}); review the inspections first", parts.join(", ")),
                format!("等级超出名额（{}），请先复核检查结果", parts_zh.join("；")),
            ))
        })?;
        let n = graded.len();
        let rows: Vec<Value> = graded
            .iter()
            .map(|g| {
                let o = outlets.iter().find(|o| o.code == g.key);
                let count = inspections.iter().filter(|e| e.subject == g.key).count();
                let mut row = json!({
                    "rank": g.rank, "code": g.key, "name": o.map(|o| o.name.clone()), "region": o.map(|o| o.region.clone()),
                    "score": g.score, "inspections": count, "demoted": g.grade != g.earned,
                });
                if let Some(r) = row.as_object_mut() {
                    put_grade(r, "grade", g.grade);
                    put_grade(r, "earned", g.earned);
                }
                row
            })
            .collect();
        let not_inspected: Vec<&str> =
            outlets.iter().filter(|o| !graded.iter().any(|g| g.key == o.code)).map(|o| o.code.as_str()).collect();
        let counts: Map<String, Value> = Grade::ALL
            .iter()
            .map(|g| (g.code().to_string(), json!(graded.iter().filter(|x| x.grade == *g).count())))
            .collect();
        let out = json!({
            "period": cycle.to_string(), "stores": n,
            "quotas": {"excellent": policy.quota(Grade::Excellent, n), "good": policy.quota(Grade::Good, n)},
            "counts": counts, "graded": rows, "not_inspected": not_inspected,
            "graded_at": self.now(), "graded_by": who.username,
        });
        self.store
            .save_grading(Grading {
                period: cycle.to_string(),
                body: out.to_string(),
                graded_by: who.id,
                graded_at: self.now(),
            })
            .await?;
        Ok(out)
    }

    /// The kept grading of a period.
    pub async fn store_grading(&self, period: &str) -> Result<Option<Value>, ApiError> {
        let cycle = Cycle::parse(period, "period")?;
        Ok(self.store.grading(cycle.to_string()).await?.and_then(|g| serde_json::from_str(&g.body).ok()))
    }

    /// The regional league table: each region's stores graded in a period,
    /// their mean score and grade counts, best first.
    pub async fn store_league(&self, period: &str) -> Result<Vec<Value>, ApiError> {
        let Some(g) = self.store_grading(period).await? else { return Ok(vec![]) };
        let rows = g["graded"].as_array().cloned().unwrap_or_default();
        let mut regions: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
        for r in rows {
            regions.entry(r["region"].as_str().unwrap_or("").to_string()).or_default().push(r);
        }
        let mut out: Vec<Value> = regions
            .into_iter()
            .map(|(region, rows)| {
                let mean = rows.iter().filter_map(|r| r["score"].as_f64()).sum::<f64>() / rows.len() as f64;
                let count = |g: Grade| rows.iter().filter(|r| r["grade"] == g.code()).count();
                json!({"region": region, "stores": rows.len(), "mean": (mean * 100.0).round() / 100.0,
                    "excellent": count(Grade::Excellent), "good": count(Grade::Good),
                    "compliant": count(Grade::Compliant), "failing": count(Grade::Failing)})
            })
            .collect();
        out.sort_by(|a, b| b["mean"].as_f64().unwrap_or(0.0).total_cmp(&a["mean"].as_f64().unwrap_or(0.0)));
        Ok(out)
    }
}
