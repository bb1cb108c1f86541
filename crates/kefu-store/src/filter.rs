//! The list filters of `GET /api/v1/tickets` as SQL clauses over the shared
//! `tickets t` columns, with `?` for each parameter and backend-neutral
//! values; each backend numbers the placeholders and binds the values its
//! own way. The text search clause is the one place the dialects differ.

use crate::TicketFilter;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    Text(String),
    Int(i64),
    Time(DateTime<Utc>),
}

/// How a backend takes a JSON field of the ticket document as text.
pub trait Dialect {
    /// SQL for "the document field `field` contains the parameter `?`".
    fn doc_field_contains(field: &str) -> String;
    /// SQL for "the text column `column` contains the parameter `?`".
    fn column_contains(column: &str) -> String;
    /// `column` as the planner may not look it up by an index: the need-to-
    /// know terms of a due-time queue, so the short due range drives the
    /// query whatever statistics the planner has. PostgreSQL's own
    /// statistics choose well: the column as it is.
    fn unindexed(column: &str) -> String {
        column.to_string()
    }
}

/// The clauses of a filter, ANDed together, each with its parameters.
pub fn clauses<D: Dialect>(f: &TicketFilter) -> Vec<(String, Vec<FilterValue>)> {
    use FilterValue::*;
    let mut out: Vec<(String, Vec<FilterValue>)> = Vec::new();
    let mut add = |sql: &str, v: FilterValue| out.push((sql.to_string(), vec![v]));
    if let Some(v) = &f.status {
        add("t.status = ?", Text(v.clone()));
    }
    if let Some(v) = f.ticket_type {
        add("t.type = ?", Text(v.as_str().into()));
    }
    if let Some(v) = f.priority {
        add("t.priority = ?", Text(v.as_str().into()));
    }
    if let Some(v) = f.channel {
        add("t.channel = ?", Text(v.as_str().into()));
    }
    if let Some(v) = f.assignee {
        add("t.assignee = ?", Int(v.0));
    }
    if let Some(v) = f.first_owner {
        add("t.first_owner = ?", Int(v.0));
    }
    if let Some(v) = &f.customer_phone {
        // The backend passes the phone's blind index here (phones are encrypted).
        add("t.customer_id = (SELECT id FROM customers WHERE phone_idx = ?)", Text(v.clone()));
    }
    if let Some(v) = &f.number {
        add("t.number = ?", Text(v.clone()));
    }
    if let Some(v) = f.created_from {
        add("t.created_at >= ?", Time(v));
    }
    if let Some(v) = f.created_to {
        add("t.created_at <= ?", Time(v));
    }
    if let Some(v) = f.overdue_at {
        add("t.next_due_at < ?", Time(v));
    }
    if let Some(v) = f.due_before {
        add("t.next_due_at < ?", Time(v));
    }
    if let Some(v) = f.team {
        add("t.team_id = ?", Int(v.0));
    }
    if let Some(v) = f.tier {
        add("t.tier = ?", Int(i64::from(v)));
    }
    if let Some(v) = &f.store {
        add("t.store_code = ?", Text(v.clone()));
    }
    if let Some(v) = f.incident {
        add("t.incident_id = ?", Int(v));
    }
    // Literal, not bound: the planner matches it to the partial indexes
    // (`WHERE is_open = 1`) that keep the queues fast.
    match f.open {
        Some(true) => out.push(("t.is_open = 1".into(), Vec::new())),
        Some(false) => out.push(("t.is_open = 0".into(), Vec::new())),
        None => {}
    }
    if f.unassigned {
        out.push(("t.assignee IS NULL AND t.is_open = 1".into(), Vec::new()));
    }
    if !f.awaiting.is_empty() {
        let marks = vec!["?"; f.awaiting.len()].join(", ");
        out.push((format!("t.transfer_key IN ({marks})"), f.awaiting.iter().map(|k| Text(k.clone())).collect()));
    }
    if let Some(v) = f.warning_at {
        out.push(("t.next_warn_at <= ? AND t.next_due_at > ?".into(), vec![Time(v), Time(v)]));
    }
    if let Some(c) = f.after.filter(|_| !f.due_first) {
        // A row-value comparison: both backends walk the (created_at, id)
        // index from the cursor instead of counting past OFFSET rows.
        out.push(("(t.created_at, t.id) < (?, ?)".into(), vec![Time(c.created_at), Int(c.id.0)]));
    }
    if let Some(c) = resolved_clause(f) {
        out.push(c);
    }
    if let Some(v) = &f.visible {
        out.push(visible_clause::<D>(v, due_queue(f)));
    }
    if let Some(ids) = &f.ids {
        if ids.is_empty() {
            out.push(("1 = 0".into(), Vec::new()));
        } else {
            let marks = vec!["?"; ids.len()].join(", ");
            out.push((format!("t.id IN ({marks})"), ids.iter().map(|i| Int(i.0)).collect()));
        }
    }
    if let Some(q) = &f.q {
        // Substring search until the full-text index arrives; the customer's
        // name is searched too (it is not sealed: a name alone identifies no
        // one, and agents look people up by it), so one search box finds both.
        let sql = format!(
            "({} OR {} OR t.customer_id IN (SELECT c.id FROM customers c WHERE {}))",
            D::doc_field_contains("title"),
            D::doc_field_contains("description"),
            D::column_contains("c.name")
        );
        out.push((sql, vec![Text(q.clone()), Text(q.clone()), Text(q.clone())]));
    }
    if let Some(states) = &f.statuses {
        // An empty list matches nothing (a TMF status no kefu state maps to).
        let marks = vec!["?"; states.len().max(1)].join(", ");
        let values =
            if states.is_empty() { vec![Text(String::new())] } else { states.iter().cloned().map(Text).collect() };
        out.push((format!("t.status IN ({marks})"), values));
    }
    out
}

/// Tickets with a resolution matching the resolved_* filters (served by
/// the partial index of resolve events by time).
fn resolved_clause(f: &TicketFilter) -> Option<(String, Vec<FilterValue>)> {
    use FilterValue::*;
    if f.resolved_by.is_none() && f.resolved_team.is_none() && f.resolved_from.is_none() && f.resolved_to.is_none() {
        return None;
    }
    let mut sql = String::from("t.id IN (SELECT e.ticket_id FROM ticket_events e WHERE e.action = 'resolve'");
    let mut params = Vec::new();
    if let Some(u) = f.resolved_by {
        sql.push_str(" AND e.actor = ?");
        params.push(Int(u.0));
    }
    if let Some(team) = f.resolved_team {
        sql.push_str(" AND e.actor IN (SELECT u.id FROM users u WHERE u.team_id = ?)");
        params.push(Int(team.0));
    }
    if let Some(v) = f.resolved_from {
        sql.push_str(" AND e.at >= ?");
        params.push(Time(v));
    }
    if let Some(v) = f.resolved_to {
        sql.push_str(" AND e.at < ?");
        params.push(Time(v));
    }
    sql.push(')');
    Some((sql, params))
}

/// Need to know as one OR of the caller's relations; each term is served
/// by an index (assignee, first owner, team, transfer key, the transfer
/// records by person, the visit projection by state).
fn visible_clause<D: Dialect>(v: &crate::Visible, due: bool) -> (String, Vec<FilterValue>) {
    match visible_terms::<D>(v, due) {
        None => ("1 = 1".into(), Vec::new()),
        Some(terms) if terms.is_empty() => ("1 = 0".into(), Vec::new()),
        Some(terms) => {
            let sql: Vec<&str> = terms.iter().map(|(s, _)| s.as_str()).collect();
            (format!("({})", sql.join(" OR ")), terms.iter().flat_map(|(_, p)| p.iter().cloned()).collect())
        }
    }
}

/// Whether the list is a due-time queue (overdue, due before, warning):
/// a short range of the due index, which should drive it.
fn due_queue(f: &TicketFilter) -> bool {
    f.overdue_at.is_some() || f.due_before.is_some() || f.warning_at.is_some()
}

/// The OR terms of need to know, each with its parameters; None when the
/// caller sees every ticket. `due`: the terms are only checked on the
/// due range's rows, not looked up by their own indexes (without it SQLite
/// walked every ticket an agent registered to count the overdue ones: 22 ms
/// against 2 ms at 12,000 tickets, and growing).
fn visible_terms<D: Dialect>(v: &crate::Visible, due: bool) -> Option<Vec<(String, Vec<FilterValue>)>> {
    use FilterValue::*;
    use kefu_domain::access::Relation as R;
    let col = |c: &str| if due { D::unindexed(&format!("t.{c}")) } else { format!("t.{c}") };
    let mut terms: Vec<(String, Vec<FilterValue>)> = Vec::new();
    let me = Int(v.user.0);
    for r in &v.relations {
        match r {
            R::All => return None,
            R::Assignee => terms.push((format!("{} = ?", col("assignee")), vec![me.clone()])),
            R::FirstOwner => terms.push((format!("{} = ?", col("first_owner")), vec![me.clone()])),
            R::Team => {
                if let Some(team) = v.team {
                    // Literal is_open: the planner takes the team queue's partial index.
                    terms.push((format!("({} = ? AND t.is_open = 1)", col("team_id")), vec![Int(team.0)]));
                }
            }
            R::LedTeam => {
                if !v.leads.is_empty() {
                    let marks = vec!["?"; v.leads.len()].join(", ");
                    let leads = v.leads.iter().map(|t| Int(t.0)).collect();
                    terms.push((format!("{} IN ({marks})", col("team_id")), leads));
                }
            }
            R::Transferred => {
                if !v.transfer_keys.is_empty() {
                    let marks = vec!["?"; v.transfer_keys.len()].join(", ");
                    let keys = v.transfer_keys.iter().map(|k| Text(k.clone())).collect();
                    terms.push((format!("{} IN ({marks})", col("transfer_key")), keys));
                }
                terms.push((
                    format!(
                        "{} IN (SELECT ticket_id FROM transfers WHERE from_user = ? OR to_user = ? OR decided_by = ?)",
                        col("id")
                    ),
                    vec![me.clone(), me.clone(), me.clone()],
                ));
            }
            R::VisitDue => terms.push((
                format!("{} IN (SELECT ticket_id FROM visits WHERE state = 'pending' AND method = 'phone')", col("id")),
                Vec::new(),
            )),
        }
    }
    Some(terms)
}

/// The clauses of one page of a list, `depth` rows deep (offset + page
/// size). Like `clauses`, except that need to know with several relations
/// becomes one clause: the union of each relation's first `depth` tickets
/// in list order under the other filters. Each relation then walks its own
/// index in order and stops, instead of every ticket the caller may see
/// being fetched and sorted for one page (an agent's registered tickets
/// grow without bound: the soak's page-3 list drifted with them). The top
/// `depth` of a union is within the union of each part's top `depth`, so
/// the page is the same.
pub fn page_clauses<D: Dialect>(f: &TicketFilter, depth: u64) -> Vec<(String, Vec<FilterValue>)> {
    let Some(terms) = f.visible.as_ref().and_then(|v| visible_terms::<D>(v, due_queue(f))).filter(|t| t.len() > 1)
    else {
        return clauses::<D>(f);
    };
    let base = clauses::<D>(&TicketFilter { visible: None, ..f.clone() });
    let mut parts = Vec::new();
    let mut params = Vec::new();
    for (i, (term, term_params)) in terms.into_iter().enumerate() {
        let mut cond: Vec<&str> = base.iter().map(|(s, _)| s.as_str()).collect();
        cond.push(&term);
        parts.push(format!(
            "SELECT id FROM (SELECT t.id FROM tickets t WHERE {} ORDER BY {} LIMIT {depth}) AS r{i}",
            cond.join(" AND "),
            order_by(f)
        ));
        params.extend(base.iter().flat_map(|(_, p)| p.iter().cloned()));
        params.extend(term_params);
    }
    vec![(format!("t.id IN ({})", parts.join(" UNION ")), params)]
}

/// The ORDER BY of a list: newest first, or most urgent first (the
/// overdue and warning queues), each served by an index.
pub fn order_by(f: &TicketFilter) -> &'static str {
    if f.due_first { "t.next_due_at ASC, t.id ASC" } else { "t.created_at DESC, t.id DESC" }
}
