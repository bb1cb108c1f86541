//! One conformance suite for every store backend. Each backend crate calls
//! `conformance_tests!(fresh_store_expression)` in its tests, which expands
//! to one `#[tokio::test]` per capability, each on a fresh database. One
//! file per capability (as the store traits); the helpers they share are here.

use crate::*;
use chrono::{DateTime, Duration, Utc};
use kefu_domain::action::{ActionRequest, TransferChange, decide};
use kefu_domain::audit::verify_chain;
use kefu_domain::flow::{Actor, FlowSet};
use kefu_domain::intake::{CustomerInput, IntakeRequest};
use kefu_domain::priority::PriorityPolicy;
use kefu_domain::{Priority, Role, TicketId, TicketType};
use serde_json::{Value, json};

mod accounts;
mod attachments;
mod bot;
mod events;
mod export;
mod feed;
mod inbound;
mod incidents;
mod inventory;
mod jobs;
mod kb;
mod kpi;
mod macros;
mod models;
mod org;
mod outbox;
mod privacy;
mod quality;
mod report_exports;
mod reports;
mod tickets;

pub use accounts::*;
pub use attachments::*;
pub use bot::*;
pub use events::*;
pub use export::*;
pub use feed::*;
pub use inbound::*;
pub use incidents::*;
pub use inventory::*;
pub use jobs::*;
pub use kb::*;
pub use kpi::*;
pub use macros::*;
pub use models::*;
pub use org::*;
pub use outbox::*;
pub use privacy::*;
pub use quality::*;
pub use report_exports::*;
pub use reports::*;
pub use tickets::*;

pub fn t0() -> DateTime<Utc> {
    // 23:30 in Shanghai: the next hour crosses the Shanghai date line.
    "2026-11-22T15:30:00Z".parse().unwrap()
}

pub async fn staff<S: Store>(s: &S, username: &str, role: Role) -> Actor {
    let u = s
        .create_user(NewUser {
            username: username.into(),
            display_name: format!("{username} 名"),
            role,
            password_hash: "x".into(),
            now: t0(),
        })
        .await
        .unwrap();
    Actor::new(u.id, u.username, role)
}

pub fn intake(phone: &str, title: &str) -> kefu_domain::ticket::NewTicket {
    IntakeRequest {
        channel: Some("phone".into()),
        ticket_type: Some("fault".into()),
        title: Some(title.into()),
        description: Some("宽带无法上网，光猫LOS灯红色闪烁".into()),
        customer: Some(CustomerInput { name: Some("李四".into()), phone: Some(phone.into()), ..Default::default() }),
        ..Default::default()
    }
    .parse(&PriorityPolicy { default: Priority::Normal, rules: vec![] })
    .unwrap()
}

pub(crate) fn render_number() -> Render {
    Box::new(|t| json!({"number": t.number, "status": t.status}))
}

pub async fn create<S: Store>(s: &S, actor: &Actor, phone: &str, at: DateTime<Utc>, idem: Option<&str>) -> Written {
    s.create_ticket(CreateTicket {
        ticket: intake(phone, "宽带断网"),
        actor: actor.clone(),
        initial_state: "accepted".into(),
        now: at,
        idempotency: idem.map(|k| IdempotencyKey {
            user: actor.id,
            key: k.into(),
            scope: "POST /t".into(),
            fingerprint: "f".into(),
        }),
        follow_up: None,
        messages: None,
        render: render_number(),
    })
    .await
    .unwrap()
}

pub(crate) fn ticket_of(w: &Written) -> Ticket {
    match w {
        Written::New { ticket, .. } => (**ticket).clone(),
        Written::Replayed { .. } => panic!("expected a new ticket"),
    }
}

/// Runs an action through the real flow rules, as the service does.
pub async fn act<S: Store>(
    s: &S,
    actor: &Actor,
    id: TicketId,
    body: Value,
    target: Option<&Actor>,
    idem: Option<&str>,
) -> StoreResult<Written> {
    let req = ActionRequest::parse(body.as_object().unwrap()).unwrap();
    let staff_ref = target.map(|a| {
        kefu_domain::action::Target::Staff(kefu_domain::action::StaffRef {
            id: a.id,
            username: a.username.clone(),
            role: a.role,
            active: true,
            org: a.org.clone(),
        })
    });
    let who = actor.clone();
    let now = t0() + Duration::minutes(5);
    s.mutate_ticket(MutateTicket {
        ticket: id,
        actor: actor.clone(),
        now,
        idempotency: idem.map(|k| IdempotencyKey {
            user: actor.id,
            key: k.into(),
            scope: "POST /t".into(),
            fingerprint: "f".into(),
        }),
        decide: Box::new(move |t| {
            let flows = FlowSet::defaults();
            let d = decide(flows.get(t.ticket_type), t, &who, &req, staff_ref.as_ref(), now)?;
            Ok(Mutation { transfer: d.transfer, ..Mutation::new(d.ticket, d.action.as_str(), d.data) })
        }),
        render: render_number(),
        status: 200,
    })
    .await
}

/// A change decided by `decide`, at t0, as `actor`.
pub(crate) async fn change<S: Store>(s: &S, actor: &Actor, id: TicketId, decide: Decide) -> StoreResult<Written> {
    let op = MutateTicket {
        ticket: id,
        actor: actor.clone(),
        now: t0(),
        idempotency: None,
        decide,
        render: render_number(),
        status: 200,
    };
    s.mutate_ticket(op).await
}

/// An agent, an engineer and one fresh ticket registered by the agent.
pub(crate) async fn agent_engineer_ticket<S: Store>(s: &S) -> (Actor, Actor, Ticket) {
    let a = staff(s, "agent1", Role::Agent).await;
    let e = staff(s, "eng1", Role::Engineer).await;
    let t = ticket_of(&create(s, &a, "13800000001", t0(), None).await);
    (a, e, t)
}

/// Expands to one test per capability for a backend. `$make` is an
/// expression yielding `(fresh empty store, guard)`; the guard cleans the
/// database up when the test ends.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            usernames_are_unique, sessions_round_trip, numbers_follow_the_shanghai_day,
            customers_are_found_again_by_phone, idempotency_key_replays_the_first_result,
            concurrent_intake_never_repeats_a_number, actions_chain_their_events,
            refused_actions_change_nothing, action_idempotency_replays, transfers_are_recorded,
            comments_are_events_too, list_filters_and_pages, audit_streams_every_chain,
            a_job_runs_on_one_node_and_moves_when_it_dies, expired_sessions_are_purged,
            a_stopping_node_releases_its_leases, health_reports_the_oldest_waiting_work,
            access_log_appends_and_lists_newest_first, wrong_passwords_lock_an_account,
            sensitive_fields_are_encrypted_at_rest, plaintext_customers_are_encrypted_in_batches,
            customers_without_tickets_can_be_deleted, retention_finds_and_purges_only_what_is_due,
            organisation_round_trips, loads_count_open_tickets_and_capacity_is_rechecked,
            notices_are_written_with_their_change, a_follow_up_commits_with_the_registration_or_not_at_all,
            outbox_messages_are_claimed_once_and_tracked, visits_follow_the_ticket_and_are_counted,
            keyset_pages_follow_the_newest_first_order,
            account_changes_end_sessions_and_addresses_are_remembered, lists_show_only_what_the_caller_may_see,
            pages_under_need_to_know_are_slices_of_the_whole_list,
            macros_are_shared_or_their_owners, a_linked_change_commits_with_the_first_or_not_at_all,
            handling_figures_count_each_resolution_once_for_who_resolved_it,
            articles_keep_every_version_and_feed_every_change,
            the_feed_follows_every_change_and_filters_hits,
            conversations_save_only_over_what_was_read, misses_queue_until_an_editor_resolves_them,
            a_published_model_replaces_the_last_with_a_new_revision,
            kpi_batches_apply_once_and_cells_sum_by_grain, backlog_counts_open_tickets_by_age_and_holder,
            exports_are_claimed_once_built_in_parts_and_taken_over_when_abandoned,
            a_scheduled_report_runs_once_with_its_emails,
            quality_records_keep_versions_and_filter_by_period, violations_step_over_the_version_read,
            stores_list_their_tickets_and_keep_one_report_per_task,
            incidents_chain_their_changes_and_count_their_children, each_customer_gets_a_notice_once,
            security_incidents_keep_their_own_register_and_chain,
            services_change_with_their_ticket_and_keep_a_history,
            bss_jobs_are_claimed_once_and_leave_with_their_order,
            files_join_a_ticket_with_its_change_and_leave_with_it,
            cursors_move_on_and_addresses_find_their_customer,
            every_change_leaves_an_outbox_row_with_it, deliveries_keep_their_line_and_failing_endpoints_stop);
    };
    (@each $make:expr; $($name:ident),+) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn export_then_import_is_lossless() {
            let (a, _guard_a) = $make;
            let (b, _guard_b) = $make;
            $crate::conformance::export_then_import_is_lossless(a, b).await;
        }
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $make;
                $crate::conformance::$name(store).await;
            }
        )+
    };
}
