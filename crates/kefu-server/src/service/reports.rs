//! Figures over the record for supervisors: handling per person and per
//! team over a period, as `kefu_domain::figures` defines them; and
//! the metric dictionary, as a supervisor reads it.

use super::*;
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use kefu_domain::figures::Handling;
use kefu_domain::{TeamId, UserId};
use kefu_store::*;

/// One row of the figures: a person or a team, named, with what to filter
/// the ticket list by to see the tickets the row counts.
#[derive(Debug, Clone)]
pub struct FigureRow {
    pub name: String,
    /// `resolved_by=…` or `resolved_team=…`; None for work nobody is named for.
    pub filter: Option<(&'static str, String)>,
    pub figures: Handling,
}

impl<S: Store> Kefu<S> {
    /// Per person (most resolutions first) and per team (each person's
    /// current team; those in none under "no team").
    pub async fn handling_figures(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<FigureRow>, Vec<FigureRow>), ApiError> {
        let rows = self.store.handling(from, to).await?;
        let org = self.org().await?;
        let mut people = Vec::new();
        let mut teams: Vec<(Option<TeamId>, Handling)> = Vec::new();
        for (user, figures) in rows {
            let u = user.and_then(|id| org.user(id));
            let team = u.and_then(|u| u.profile.team);
            match teams.iter_mut().find(|(t, _)| *t == team) {
                Some((_, sum)) => sum.add(&figures),
                None => teams.push((team, figures)),
            }
            people.push(FigureRow {
                name: person_name(user, u),
                filter: u.map(|u| ("resolved_by", u.username.clone())),
                figures,
            });
        }
        people.sort_by(|a, b| b.figures.handled.cmp(&a.figures.handled).then(a.name.cmp(&b.name)));
        let mut teams: Vec<FigureRow> = teams
            .into_iter()
            .map(|(id, figures)| {
                let t = id.and_then(|id| org.team(id));
                FigureRow {
                    name: t.map_or_else(|| "—".to_string(), |t| t.name.clone()),
                    filter: t.map(|t| ("resolved_team", t.code.clone())),
                    figures,
                }
            })
            .collect();
        teams.sort_by(|a, b| b.figures.handled.cmp(&a.figures.handled).then(a.name.cmp(&b.name)));
        Ok((people, teams))
    }
}

fn person_name(id: Option<UserId>, u: Option<&User>) -> String {
    match (id, u) {
        (_, Some(u)) => format!("{} ({})", u.display_name, u.username),
        (Some(id), None) => format!("#{id}"),
        (None, None) => "kefu".to_string(),
    }
}

/// One entry of the metric dictionary as the API serves it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MetricItem {
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    /// `hours`, `percent`, `score`, `points` or `count`.
    #[schema(value_type = String)]
    pub unit: kefu_domain::metrics::Unit,
    pub unit_zh: String,
    pub definition_zh: String,
    pub definition_en: String,
    /// The target in the metric's unit (a share as a fraction), when the policy sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub target: Option<kefu_domain::metrics::Target>,
    /// `created`, `resolved` or `now`: the day a ticket counts on.
    #[schema(value_type = String)]
    pub period: kefu_domain::metrics::Period,
    /// How it is computed (`kind` and its events, facts, pauses, calendar).
    #[schema(value_type = Object)]
    pub formula: kefu_domain::metrics::Formula,
    /// Which tickets count.
    #[schema(value_type = Object)]
    pub counts: kefu_domain::metrics::Counts,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MetricList {
    pub items: Vec<MetricItem>,
}

impl<S: Store> Kefu<S> {
    /// The metric dictionary; the on-time rate also once per deadline kind
    /// of the policy (`on_time_rate.<kind>`).
    pub fn metric_dictionary(&self) -> MetricList {
        use kefu_domain::metrics::Formula;
        let policy = &self.core.policy;
        let mut items = Vec::new();
        for m in &self.core.settings.metrics.metrics {
            let item = MetricItem {
                key: m.key.clone(),
                name_zh: m.name_zh.clone(),
                name_en: m.name_en.clone(),
                unit: m.unit,
                unit_zh: m.unit.label_zh().to_string(),
                definition_zh: m.definition_zh.clone(),
                definition_en: m.definition_en.clone(),
                target: m.target.as_deref().and_then(|t| policy.target(t)),
                period: m.period,
                formula: m.formula.clone(),
                counts: m.counts,
            };
            items.push(item.clone());
            if !matches!(m.formula, Formula::OnTime) {
                continue;
            }
            for (kind, zh) in policy.sla.kinds() {
                let en = kefu_domain::sla::label_en(&policy.sla, kind);
                items.push(MetricItem {
                    key: format!("{}.{kind}", m.key),
                    name_zh: format!("{}（{zh}）", m.name_zh),
                    name_en: format!("{} ({en})", m.name_en),
                    definition_zh: format!("{}本项只计{zh}。", m.definition_zh),
                    definition_en: format!("{} This one counts the {en} deadline only.", m.definition_en),
                    ..item.clone()
                });
            }
        }
        MetricList { items }
    }
}
