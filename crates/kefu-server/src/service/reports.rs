//! Figures over the record for supervisors: handling per person and per
//! team over a period, as `kefu_domain::figures` defines them.

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
