//! Suggestions for a new ticket: its type, priority and where it
//! goes, and similar tickets, from what the operator's own history teaches.
//! Two naive Bayes models (kefu-search) learn from the shipped history
//! (`seed/training/tickets.jsonl`) and the store's tickets; the priority
//! model also sees what the policy's rules say, so the rules and the
//! history together decide. Each node trains its models on first use and
//! again when the store has grown by `suggest.retrain_after` tickets; the
//! held-out accuracy (every fifth example) is kept with the model.

use super::*;
use crate::error::ApiError;
use kefu_domain::flow::Actor;
use kefu_domain::{Channel, FieldError, Priority, TicketType};
use kefu_search::{Example, Lexicon, Mode, NaiveBayes};
use kefu_store::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const HISTORY: &str = include_str!("../../../../seed/training/tickets.jsonl");

/// One labelled ticket.
#[derive(Debug, Clone)]
struct Labelled {
    text: String,
    ticket_type: String,
    priority: String,
    level: String,
    channel: String,
}

/// Per-label held-out accuracy.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LabelScore {
    pub held_out: usize,
    pub correct: usize,
    pub accuracy: f64,
}

/// What the models learnt from and how well they do on what they did not see.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ModelReport {
    pub trained_at: Option<chrono::DateTime<chrono::Utc>>,
    pub examples: usize,
    pub from_history: usize,
    pub from_store: usize,
    pub type_accuracy: f64,
    pub type_top3_accuracy: f64,
    pub priority_accuracy: f64,
    /// Type accuracy per true type.
    pub per_type: BTreeMap<String, LabelScore>,
    /// The temperatures fitted on the held-out examples (see
    /// `NaiveBayes::predict_tempered`), for the type and the priority.
    pub type_temperature: f64,
    pub priority_temperature: f64,
    /// The published revision this node uses (0: trained here, not published).
    #[serde(default)]
    pub revision: i64,
}

pub struct Models {
    types: NaiveBayes,
    priorities: NaiveBayes,
    type_t: f64,
    priority_t: f64,
    pub report: ModelReport,
    /// Store tickets when trained.
    store_count: i64,
    /// The published revision it was loaded from (0: trained here, unpublished).
    rev: i64,
    /// When this node last asked the store for a newer revision.
    checked: std::sync::Mutex<std::time::Instant>,
}

/// The models as published in the store (`ModelStore`, name `suggest`).
#[derive(Serialize, serde::Deserialize)]
struct Published {
    types: NaiveBayes,
    priorities: NaiveBayes,
    type_t: f64,
    priority_t: f64,
    report: ModelReport,
}

const MODEL_NAME: &str = "suggest";

/// How often a node asks the store whether a newer model was published
/// (one indexed row: cheap, but not once per keystroke of the form).
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// What the intake form has typed so far.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestRequest {
    pub title: Option<String>,
    pub description: Option<String>,
    pub channel: Option<String>,
    pub customer: Option<SuggestCustomer>,
}

#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestCustomer {
    pub level: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Guess {
    /// None: not confident enough to suggest (below the policy's threshold).
    pub value: Option<String>,
    pub label_zh: Option<String>,
    pub confidence: f64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Department {
    /// The department code of the dispatch rule the ticket would follow.
    pub value: Option<String>,
    pub team: Option<String>,
    pub tier: Option<u8>,
    pub rule: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Similar {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    #[serde(rename = "type")]
    pub ticket_type: Guess,
    /// The three likeliest types, best first.
    pub types: Vec<Guess>,
    pub priority: Guess,
    /// Where the priority came from: `model` (rules and history), `rule`.
    pub priority_source: String,
    pub department: Department,
    pub similar: Vec<Similar>,
}

fn history() -> Vec<Labelled> {
    HISTORY
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            Labelled {
                text: format!("{}\n{}", s("title"), s("description")),
                ticket_type: s("type"),
                priority: s("priority"),
                level: s("customer_level"),
                channel: s("channel"),
            }
        })
        .collect()
}

/// What the priority model sees beside the text: type, level, channel
/// and the priority the policy's rules give.
fn priority_extra(policy: &kefu_domain::priority::PriorityPolicy, r: &Labelled) -> Vec<String> {
    let rule = TicketType::parse(&r.ticket_type, "type")
        .map(|t| {
            let (title, description) = r.text.split_once('\n').unwrap_or((&r.text, ""));
            policy.derive(t, title, description, Some(&r.level)).as_str()
        })
        .unwrap_or("none");
    let facts = [
        format!("type:{}", r.ticket_type),
        format!("level:{}", r.level),
        format!("type-level:{}-{}", r.ticket_type, r.level),
        format!("channel:{}", r.channel),
        format!("rule:{rule}"),
    ];
    // Each fact counts as much as several words: otherwise a long text
    // outvotes what the type, the level and the rules say.
    facts.iter().flat_map(|f| std::iter::repeat_n(f.clone(), FACT_WEIGHT)).collect()
}

const FACT_WEIGHT: usize = 4;

fn train(policy: &kefu_domain::priority::PriorityPolicy, lx: &Lexicon, rows: &[Labelled]) -> (NaiveBayes, NaiveBayes) {
    let extras: Vec<Vec<String>> = rows.iter().map(|r| priority_extra(policy, r)).collect();
    let types: Vec<Example> =
        rows.iter().map(|r| Example { text: &r.text, extra: &[], label: &r.ticket_type }).collect();
    let prios: Vec<Example> =
        rows.iter().zip(&extras).map(|(r, x)| Example { text: &r.text, extra: x, label: &r.priority }).collect();
    (NaiveBayes::train(lx, &types), NaiveBayes::train(lx, &prios))
}

/// Trains on four fifths, measures on the rest, then trains on everything.
fn build(policy: &kefu_domain::priority::PriorityPolicy, rows: Vec<Labelled>, from_history: usize) -> Models {
    let lx = Lexicon::shipped();
    let (mut fit, mut held) = (Vec::new(), Vec::new());
    for (i, r) in rows.iter().enumerate() {
        if i % 5 == 4 { held.push(r.clone()) } else { fit.push(r.clone()) }
    }
    let (types, prios) = train(policy, &lx, &fit);
    let mut report =
        ModelReport { examples: rows.len(), from_history, from_store: rows.len() - from_history, ..Default::default() };
    let (mut top1, mut top3, mut prio) = (0, 0, 0);
    for r in &held {
        let p = types.predict(&lx, &r.text, &[]);
        let score = report.per_type.entry(r.ticket_type.clone()).or_default();
        score.held_out += 1;
        if p.first().is_some_and(|(l, _)| *l == r.ticket_type) {
            top1 += 1;
            score.correct += 1;
        }
        if p.iter().take(3).any(|(l, _)| *l == r.ticket_type) {
            top3 += 1;
        }
        let q = prios.predict(&lx, &r.text, &priority_extra(policy, r));
        if q.first().is_some_and(|(l, _)| *l == r.priority) {
            prio += 1;
        }
    }
    for s in report.per_type.values_mut() {
        s.accuracy = s.correct as f64 / s.held_out.max(1) as f64;
    }
    let type_t = fit_temperature(&held, |r, t| (types.predict_tempered(&lx, &r.text, &[], t), r.ticket_type.as_str()));
    let priority_t = fit_temperature(&held, |r, t| {
        (prios.predict_tempered(&lx, &r.text, &priority_extra(policy, r), t), r.priority.as_str())
    });
    (report.type_temperature, report.priority_temperature) = (type_t, priority_t);
    let n = held.len().max(1) as f64;
    (report.type_accuracy, report.type_top3_accuracy, report.priority_accuracy) =
        (top1 as f64 / n, top3 as f64 / n, prio as f64 / n);
    let (types, priorities) = train(policy, &lx, &rows);
    Models {
        types,
        priorities,
        type_t,
        priority_t,
        report,
        store_count: 0,
        rev: 0,
        checked: std::sync::Mutex::new(std::time::Instant::now()),
    }
}

/// The temperature under which the held-out examples' true labels are
/// likeliest (least mean negative log-likelihood), from a fixed grid.
fn fit_temperature(held: &[Labelled], predict: impl Fn(&Labelled, f64) -> (Vec<(String, f64)>, &str)) -> f64 {
    let grid = [1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0];
    let loss = |t: f64| -> f64 {
        held.iter()
            .map(|r| {
                let (p, truth) = predict(r, t);
                let q = p.iter().find(|(l, _)| l == truth).map_or(0.0, |(_, q)| *q);
                -q.max(1e-12).ln()
            })
            .sum::<f64>()
    };
    if held.is_empty() {
        return 1.0;
    }
    grid.into_iter().map(|t| (t, loss(t))).min_by(|a, b| a.1.total_cmp(&b.1)).map_or(1.0, |(t, _)| t)
}

fn guess(label: Option<&(String, f64)>, min: f64, zh: impl Fn(&str) -> Option<String>) -> Guess {
    match label {
        Some((l, c)) if *c >= min => Guess { value: Some(l.clone()), label_zh: zh(l), confidence: *c },
        Some((_, c)) => Guess { value: None, label_zh: None, confidence: *c },
        None => Guess { value: None, label_zh: None, confidence: 0.0 },
    }
}

fn type_zh(l: &str) -> Option<String> {
    TicketType::parse(l, "type").ok().map(|t| t.label_zh().to_string())
}

fn priority_zh(l: &str) -> Option<String> {
    Priority::parse(l, "priority").ok().map(|p| p.label_zh().to_string())
}

impl<S: Store> Kefu<S> {
    /// The models: the newest published in the store (checked at most once
    /// a minute), or — before any was published — trained here once.
    pub async fn suggest_models(&self) -> Result<Arc<Models>, ApiError> {
        let current = self.core.suggest.read().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(m) = &current {
            let mut checked = m.checked.lock().unwrap_or_else(|p| p.into_inner());
            if checked.elapsed() < CHECK_EVERY {
                return Ok(m.clone());
            }
            *checked = std::time::Instant::now();
        }
        let published = self.store.model_rev(MODEL_NAME.into()).await?;
        match (current, published) {
            (Some(m), Some((rev, _))) if rev <= m.rev => Ok(m),
            (_, Some(_)) => match self.load_published().await {
                Ok(Some(m)) => Ok(m),
                Ok(None) => self.train_locally().await,
                Err(e) => {
                    // A model this version cannot read (an older format): train here.
                    tracing::warn!(error = %e, "the published suggestion model could not be loaded");
                    self.train_locally().await
                }
            },
            (Some(m), None) => Ok(m),
            (None, None) => self.train_locally().await,
        }
    }

    async fn load_published(&self) -> Result<Option<Arc<Models>>, ApiError> {
        let Some(stored) = self.store.model(MODEL_NAME.into()).await? else { return Ok(None) };
        let (rev, store_count) = (stored.rev, stored.store_count);
        let p: Published = tokio::task::spawn_blocking(move || serde_json::from_str(&stored.doc))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(format!("published suggestion model: {e}")))?;
        let m = Arc::new(Models {
            types: p.types,
            priorities: p.priorities,
            type_t: p.type_t,
            priority_t: p.priority_t,
            report: ModelReport { revision: rev, ..p.report },
            store_count,
            rev,
            checked: std::sync::Mutex::new(std::time::Instant::now()),
        });
        *self.core.suggest.write().unwrap_or_else(|p| p.into_inner()) = Some(m.clone());
        Ok(Some(m))
    }

    async fn train_locally(&self) -> Result<Arc<Models>, ApiError> {
        let m = Arc::new(self.train().await?);
        *self.core.suggest.write().unwrap_or_else(|p| p.into_inner()) = Some(m.clone());
        Ok(m)
    }

    /// The training job (on the node holding its lease): trains when the
    /// store has grown by `retrain_after` tickets since the published
    /// model (or none is published) and publishes for every node. Returns
    /// whether it trained.
    pub async fn train_if_due(&self) -> Result<bool, ApiError> {
        let every = i64::from(self.core.policy.suggest.retrain_after.max(1));
        let due = match self.store.model_rev(MODEL_NAME.into()).await? {
            None => true,
            Some((_, trained_at_count)) => self.store.ticket_count().await? - trained_at_count >= every,
        };
        if due {
            self.train_suggestions().await?;
        }
        Ok(due)
    }

    /// Trains from the history and the store's newest tickets now, and
    /// publishes the result for every node.
    pub async fn train_suggestions(&self) -> Result<Arc<Models>, ApiError> {
        let mut m = self.train().await?;
        let p = Published {
            types: m.types.clone(),
            priorities: m.priorities.clone(),
            type_t: m.type_t,
            priority_t: m.priority_t,
            report: m.report.clone(),
        };
        let doc = tokio::task::spawn_blocking(move || serde_json::to_string(&p))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let at = m.report.trained_at.unwrap_or_else(|| self.now());
        m.rev = self.store.put_model(MODEL_NAME.into(), doc, m.store_count, at).await?;
        m.report.revision = m.rev;
        let m = Arc::new(m);
        *self.core.suggest.write().unwrap_or_else(|p| p.into_inner()) = Some(m.clone());
        Ok(m)
    }

    /// Trains from the history and the store's newest tickets.
    async fn train(&self) -> Result<Models, ApiError> {
        let count = self.store.ticket_count().await?;
        let mut rows = history();
        let from_history = rows.len();
        let max = self.core.policy.suggest.max_examples as usize;
        let mut page = 1;
        while rows.len() - from_history < max {
            let f = TicketFilter { page, per_page: 500, ..Default::default() };
            let got = self.store.list_tickets(f).await?;
            rows.extend(got.items.iter().map(|t| Labelled {
                text: format!("{}\n{}", t.title, t.description),
                ticket_type: t.ticket_type.as_str().into(),
                priority: t.priority.as_str().into(),
                level: t.customer.level.clone().unwrap_or_else(|| "normal".into()),
                channel: t.channel.as_str().into(),
            }));
            if got.items.len() < 500 {
                break;
            }
            page += 1;
        }
        let policy = self.core.policy.priority.clone();
        let now = self.now();
        let mut models = tokio::task::spawn_blocking(move || build(&policy, rows, from_history))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        models.store_count = count;
        models.report.trained_at = Some(now);
        Ok(models)
    }

    pub async fn suggest(&self, actor: &Actor, req: &SuggestRequest) -> Result<Suggestion, ApiError> {
        let title = kefu_domain::validate::optional_free_text(req.title.as_deref(), "title", 200)?.unwrap_or_default();
        let description = kefu_domain::validate::optional_free_text(req.description.as_deref(), "description", 4000)?
            .unwrap_or_default();
        if title.trim().is_empty() && description.trim().is_empty() {
            return Err(FieldError::new("title", "give a title or a description", "请填写标题或问题描述").into());
        }
        let channel = req.channel.as_deref().map(|c| Channel::parse(c, "channel")).transpose()?;
        let level = req.customer.as_ref().and_then(|c| c.level.clone()).unwrap_or_else(|| "normal".into());
        let level = kefu_domain::validate::required_text(Some(&level), "customer.level", 32)?;
        let models = self.suggest_models().await?;
        let lx = Lexicon::shipped();
        let text = format!("{title}\n{description}");
        let sp = &self.core.policy.suggest;
        let types = models.types.predict_tempered(&lx, &text, &[], models.type_t);
        let ticket_type = guess(types.first(), sp.type_min_confidence, type_zh);
        let top3 = types.iter().take(3).map(|t| guess(Some(t), 0.0, type_zh)).collect();
        // Priority: the rules and the history for the likeliest type.
        let best_type = types.first().and_then(|(l, _)| TicketType::parse(l, "type").ok());
        let row = Labelled {
            text: text.clone(),
            ticket_type: best_type.map_or("", |t| t.as_str()).into(),
            priority: String::new(),
            level: level.clone(),
            channel: channel.map_or("phone", |c| c.as_str()).into(),
        };
        let prios = models.priorities.predict_tempered(
            &lx,
            &text,
            &priority_extra(&self.core.policy.priority, &row),
            models.priority_t,
        );
        let (priority, source) = match prios.first() {
            Some((p, c)) if *c >= sp.priority_min_confidence => {
                (guess(Some(&(p.clone(), *c)), 0.0, priority_zh), "model")
            }
            _ => {
                let rule = best_type.map_or(self.core.policy.priority.default, |t| {
                    self.core.policy.priority.derive(t, &title, &description, Some(&level))
                });
                let c = prios.iter().find(|(l, _)| l == rule.as_str()).map_or(0.0, |(_, c)| *c);
                (guess(Some(&(rule.as_str().to_string(), c)), 0.0, priority_zh), "rule")
            }
        };
        let department = self.department_for(best_type, &priority, &level);
        let similar = self.similar_tickets(actor, &text, sp.similar).await?;
        Ok(Suggestion { ticket_type, types: top3, priority, priority_source: source.into(), department, similar })
    }

    /// The dispatch rule a ticket like this would follow (rules that need
    /// a region or business line are left for the registration to decide).
    fn department_for(&self, ticket_type: Option<TicketType>, priority: &Guess, level: &str) -> Department {
        let none = Department { value: None, team: None, tier: None, rule: None };
        let Some(t) = ticket_type else { return none };
        let p = priority.value.as_deref().and_then(|p| Priority::parse(p, "priority").ok());
        let rule = self.core.policy.dispatch.rules.iter().find(|r| {
            (r.types.is_empty() || r.types.contains(&t))
                && (r.priorities.is_empty() || p.is_some_and(|p| r.priorities.contains(&p)))
                && (r.customer_levels.is_empty() || r.customer_levels.iter().any(|l| l.eq_ignore_ascii_case(level)))
                && r.regions.is_empty()
                && r.business_lines.is_empty()
        });
        match rule {
            Some(r) => Department {
                value: r.department.clone(),
                team: r.team.clone(),
                tier: r.tier,
                rule: Some(r.name.clone()),
            },
            None => none,
        }
    }

    /// Tickets the caller may see that read most like `text`.
    async fn similar_tickets(&self, actor: &Actor, text: &str, limit: u32) -> Result<Vec<Similar>, ApiError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let index = self.ticket_index_fresh().await?;
        let q: String = text.chars().take(300).collect();
        let hits = tokio::task::spawn_blocking(move || index.rank(&q, Mode::Similar, 50))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(super::kb::search_error)?;
        let visible = TicketFilter { visible: self.visibility(actor), ..Default::default() };
        let best: Vec<(kefu_domain::TicketId, f32)> =
            self.passing_hits(hits, &visible).await?.into_iter().take(limit as usize).collect();
        let want: Vec<kefu_domain::TicketId> = best.iter().map(|(id, _)| *id).collect();
        let tickets: HashMap<kefu_domain::TicketId, kefu_domain::ticket::Ticket> =
            self.tickets_in_order(&want).await?.into_iter().map(|t| (t.id, t)).collect();
        Ok(best
            .into_iter()
            .filter_map(|(id, score)| {
                tickets.get(&id).map(|t| Similar { id: id.0, number: t.number.clone(), title: t.title.clone(), score })
            })
            .collect())
    }
}
