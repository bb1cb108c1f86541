//! `kefu org …` and `kefu user set`: the organisation from the command line
//! through the same service calls as the HTTP API.

use anyhow::Result;
use clap::Subcommand;
use kefu_server::Kefu;
use kefu_store::prelude::*;
use serde_json::{Map, Value, json};

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Add a department, e.g. `kefu org dept-add technical --name 技术部`.
    DeptAdd {
        code: String,
        #[arg(long)]
        name: String,
    },
    /// Add a team to a department, optionally with its lead.
    TeamAdd {
        code: String,
        /// Department code
        #[arg(long)]
        dept: String,
        #[arg(long)]
        name: String,
        /// The lead's username
        #[arg(long)]
        lead: Option<String>,
    },
    /// Set or clear (`--lead none`) a team's lead.
    TeamLead {
        code: String,
        #[arg(long)]
        lead: String,
    },
    /// Departments, teams and staff with their profiles.
    List,
}

/// The options of `kefu user set`; absent options keep their value, `none`
/// resets team, tier and capacity.
#[derive(clap::Args)]
pub struct ProfileArgs {
    pub username: String,
    /// Team code, or `none`
    #[arg(long)]
    pub team: Option<String>,
    /// 1, 2, 3, or `none` (the role's tier)
    #[arg(long)]
    pub tier: Option<String>,
    /// Ticket types handled, comma-separated (empty: any)
    #[arg(long)]
    pub types: Option<String>,
    /// Business lines, comma-separated (empty: any)
    #[arg(long)]
    pub lines: Option<String>,
    /// Regions served, comma-separated (empty: any)
    #[arg(long)]
    pub regions: Option<String>,
    /// Open tickets at most, or `none` (the policy's default)
    #[arg(long)]
    pub capacity: Option<String>,
    #[arg(long)]
    pub on_duty: Option<bool>,
}

fn list(csv: &str) -> Value {
    json!(csv.split(',').map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>())
}

fn number_or_none(v: &str) -> Value {
    match v {
        "none" => Value::Null,
        n => n.parse::<i64>().map_or_else(|_| json!(n), |n| json!(n)),
    }
}

pub async fn set_profile<S: Store>(kefu: &Kefu<S>, a: ProfileArgs) -> Result<()> {
    let mut body = Map::new();
    if let Some(t) = &a.team {
        body.insert("team".into(), if t == "none" { Value::Null } else { json!(t) });
    }
    if let Some(t) = &a.tier {
        body.insert("tier".into(), number_or_none(t));
    }
    if let Some(c) = &a.capacity {
        body.insert("capacity".into(), number_or_none(c));
    }
    if let Some(d) = a.on_duty {
        body.insert("on_duty".into(), json!(d));
    }
    if a.types.is_some() || a.lines.is_some() || a.regions.is_some() {
        let current = kefu.store.user_by_username(&a.username).await?.map(|u| u.profile.skills).unwrap_or_default();
        let skills = json!({
            "types": a.types.as_deref().map_or_else(|| json!(current.types), list),
            "business_lines": a.lines.as_deref().map_or_else(|| json!(current.business_lines), list),
            "regions": a.regions.as_deref().map_or_else(|| json!(current.regions), list),
        });
        body.insert("skills".into(), skills);
    }
    let u = kefu.set_profile(&a.username, &body, None).await.map_err(crate::explain)?;
    println!("{} {}", u.username, serde_json::to_string(&u.profile)?);
    Ok(())
}

pub async fn run<S: Store>(kefu: &Kefu<S>, command: OrgCommand) -> Result<()> {
    match command {
        OrgCommand::DeptAdd { code, name } => {
            let d = kefu.create_department(Some(&code), Some(&name)).await.map_err(crate::explain)?;
            println!("department {} {} (id {})", d.code, d.name, d.id);
        }
        OrgCommand::TeamAdd { code, dept, name, lead } => {
            let t = kefu
                .create_team(Some(&dept), Some(&code), Some(&name), lead.as_deref())
                .await
                .map_err(crate::explain)?;
            println!("team {} {} (id {}, department {})", t.code, t.name, t.id, t.department);
        }
        OrgCommand::TeamLead { code, lead } => {
            let mut body = Map::new();
            body.insert("lead".into(), if lead == "none" { Value::Null } else { json!(lead) });
            let t = kefu.update_team(&code, &body).await.map_err(crate::explain)?;
            println!("team {} lead {:?}", t.code, t.lead);
        }
        OrgCommand::List => {
            let org = kefu.org().await.map_err(crate::explain)?;
            for d in &org.departments {
                println!("部门 department {} {}", d.code, d.name);
                for t in org.teams.iter().filter(|t| t.department == d.id) {
                    let lead = t.lead.map(|l| org.username(l)).unwrap_or_else(|| "-".into());
                    println!("  班组 team {} {} (lead {lead})", t.code, t.name);
                }
            }
            for u in org.users.iter().filter(|u| u.active) {
                let m = org.membership(u);
                let team = m.team.and_then(|t| org.team(t)).map_or("-", |t| t.code.as_str());
                println!(
                    "  {} {} L{} team {team} capacity {} {} skills {}",
                    u.username,
                    u.role.as_str(),
                    m.tier.map_or("-".into(), |t| t.to_string()),
                    u.profile.capacity.map_or("default".into(), |c| c.to_string()),
                    if u.profile.on_duty { "on duty" } else { "off duty" },
                    serde_json::to_string(&u.profile.skills)?,
                );
            }
        }
    }
    Ok(())
}
