//! The ticket service: what the HTTP API, the demo loader and the benchmark
//! all call. It parses requests with the domain, resolves the people a
//! request names, and hands the store a decision closure that applies the
//! flow rules inside the write transaction.

use crate::auth::{PasswordCost, check_password_policy, new_token, token_hash, verify_password};
use crate::directory::{Directory, UserSummary};
use crate::error::ApiError;
use crate::view::ticket_view;
use chrono::{DateTime, Duration, Utc};
use kefu_domain::action::{ActionKind, ActionRequest, Target, Wanted, decide};
use kefu_domain::clock::Clock;
use kefu_domain::flow::{Actor, FlowSet};
use kefu_domain::intake::{IntakeRequest, limits};
use kefu_domain::policy::Policy;
use kefu_domain::ticket::{Ticket, looks_like_number};
use kefu_domain::validate::required_text;
use kefu_domain::{DomainError, FieldError, Role, TicketId, UserId};
use kefu_store::*;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Settings the service takes from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub token_ttl: Duration,
    pub password_cost: PasswordCost,
    /// Channels, retries and claims of customer messages.
    pub delivery: crate::delivery::DeliveryConfig,
    /// Where customers reach kefu: the base of the links in messages.
    pub public_url: String,
    /// Signs customer links; shared by every node.
    pub link_key: crate::links::LinkKey,
    /// Message texts (shipped, or the operator's copies).
    pub templates: kefu_domain::templates::Templates,
    /// The bearer token of the metrics scraper; without one, only
    /// administrators read `/metrics`.
    pub metrics_token: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_ttl: Duration::hours(12),
            password_cost: PasswordCost::default(),
            delivery: Default::default(),
            public_url: "http://127.0.0.1:8080".into(),
            link_key: crate::links::LinkKey::random(),
            templates: kefu_domain::templates::Templates::defaults(),
            metrics_token: None,
        }
    }
}

/// Everything but the store: rules, clock, caches. Shared with the render
/// closures that run inside store transactions.
pub struct Core {
    pub flows: FlowSet,
    pub policy: Policy,
    pub clock: Arc<dyn Clock>,
    pub directory: Directory,
    pub login_limiter: crate::auth::LoginLimiter,
    pub login_pairs: crate::auth::PairThrottle,
    /// Portal look-ups (number + phone) per address.
    pub portal_limiter: crate::auth::LoginLimiter,
    pub settings: Settings,
    /// The working-day calendar; the shipped years unless `with_calendar`.
    pub calendar: kefu_domain::calendar::Calendar,
    /// Staff, teams and departments, cached briefly.
    pub org: crate::org::OrgCache,
    /// The adapters that deliver customer messages.
    pub channels: crate::delivery::Channels,
}

pub struct Kefu<S> {
    pub store: S,
    pub core: Arc<Core>,
}

impl<S: Clone> Clone for Kefu<S> {
    fn clone(&self) -> Self {
        Kefu { store: self.store.clone(), core: self.core.clone() }
    }
}

/// An `Idempotency-Key` as a request carries it: the key, the route it was
/// sent to (`METHOD /path`) and a fingerprint of the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idem {
    pub key: String,
    pub scope: String,
    pub fingerprint: String,
}

/// The body of a successful login.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserSummary,
}

impl<S: Store> Kefu<S> {
    pub async fn new(
        store: S,
        flows: FlowSet,
        policy: Policy,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Result<Self, ApiError> {
        let directory = Directory::default();
        for u in store.list_users().await? {
            directory.remember(&u);
        }
        crate::delivery::install_tls_provider();
        let channels = crate::delivery::Channels::from_config(&settings.delivery).map_err(ApiError::Internal)?;
        let core = Core {
            channels,
            flows,
            policy,
            clock,
            directory,
            login_limiter: Default::default(),
            login_pairs: Default::default(),
            portal_limiter: Default::default(),
            settings,
            calendar: kefu_domain::calendar::Calendar::defaults(),
            org: Default::default(),
        };
        Ok(Kefu { store, core: Arc::new(core) })
    }

    /// Replaces the calendar (operator-added years). Call before the service
    /// is shared.
    pub fn with_calendar(mut self, calendar: kefu_domain::calendar::Calendar) -> Self {
        match Arc::get_mut(&mut self.core) {
            Some(core) => core.calendar = calendar,
            None => tracing::error!("with_calendar called on a shared service; calendar unchanged"),
        }
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.core.clock.now()
    }

    // --- staff ---

    pub async fn add_user(
        &self,
        username: &str,
        role: Role,
        name: Option<&str>,
        password: &str,
    ) -> Result<UserSummary, ApiError> {
        let username = required_text(Some(username), "username", 64)?;
        if !valid_username(&username) {
            return Err(FieldError::new(
                "username",
                "a username uses letters, digits, '_', '-' and '.' only",
                "用户名只能包含字母、数字、下划线、连字符和点",
            )
            .into());
        }
        check_password_policy(password)?;
        let cost = self.core.settings.password_cost;
        let pw = password.to_string();
        let hash = tokio::task::spawn_blocking(move || cost.hash(&pw))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        let display_name = name.map_or_else(|| username.clone(), str::to_string);
        let user = self
            .store
            .create_user(NewUser { username, display_name, role, password_hash: hash, now: self.now() })
            .await?;
        self.core.directory.remember(&user);
        Ok((&user).into())
    }

    pub async fn set_password(&self, username: &str, password: &str) -> Result<(), ApiError> {
        check_password_policy(password)?;
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or(ApiError::NotFound { what: "user", what_zh: "用户" })?;
        let cost = self.core.settings.password_cost;
        let pw = password.to_string();
        let hash = tokio::task::spawn_blocking(move || cost.hash(&pw))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        Ok(self.store.set_password(user.id, hash).await?)
    }

    /// Changes a staff member's role or disables/enables the account; the
    /// account's sessions end on every node.
    pub async fn set_account(
        &self,
        username: &str,
        role: Option<Role>,
        active: Option<bool>,
    ) -> Result<UserSummary, ApiError> {
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or(ApiError::NotFound { what: "user", what_zh: "用户" })?;
        let user = self.store.set_account(user.id, role, active).await?;
        self.core.directory.remember(&user);
        self.forget_org();
        Ok((&user).into())
    }

    /// Checks a password. Every refusal is the same 401, whether the
    /// account is unknown, the password wrong or the attempt throttled, so
    /// nobody learns who exists or who is being attacked. Throttles (policy
    /// `[security]`): per address for any accounts; per (account, address)
    /// with doubling waits; per account from anywhere, which guards the
    /// account so that only addresses it logged in from may try — an
    /// attacker elsewhere cannot lock the real user out.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<LoginResponse, ApiError> {
        const BAD: ApiError =
            ApiError::Unauthorized { message: "wrong username or password", message_zh: "用户名或密码错误" };
        let now = self.now();
        let security = &self.core.policy.security;
        let ip = client.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let throttled = !self.core.login_limiter.allow(ip, now, security.login_attempts_per_minute)
            || !self.core.login_pairs.allows(username, ip, now);
        // A name no account can have is not looked up (nor sent to the database).
        let user = match valid_username(username) {
            true => self.store.user_by_username(username).await?,
            false => None,
        };
        let addr = ip.to_string();
        let guarded = match user.as_ref() {
            Some(u) if u.locked_until.is_some_and(|t| t > now) => {
                !self.store.known_login_address(u.id, addr.clone()).await?
            }
            _ => false,
        };
        // Verify even when the answer is already no, so that timing does
        // not tell an unknown account or a throttled one from a wrong password.
        let hash = user.as_ref().map_or_else(|| DUMMY_HASH.to_string(), |u| u.password_hash.clone());
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&pw, &hash))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if throttled || guarded {
            return Err(BAD);
        }
        let known = user.as_ref().map(|u| u.id);
        let Some(user) = user.filter(|u| u.active && ok) else {
            self.core.login_pairs.failed(username, ip, now, security);
            if let Some(id) = known.filter(|_| !ok) {
                let lock = Duration::minutes(i64::from(security.lockout_minutes));
                if self.store.record_login_failure(id, now, security.max_failed_logins, lock).await?.is_some() {
                    tracing::warn!(user = %id, "account guarded after repeated wrong passwords");
                }
            }
            return Err(BAD);
        };
        self.core.login_pairs.succeeded(username, ip);
        if user.failed_logins > 0 || user.locked_until.is_some() {
            self.store.reset_login_failures(user.id).await?;
        }
        self.store.remember_login_address(user.id, addr, now).await?;
        let token = new_token()?;
        let expires_at = now + self.core.settings.token_ttl;
        self.store
            .create_session(Session { token_hash: token_hash(&token), user_id: user.id, created_at: now, expires_at })
            .await?;
        self.core.directory.remember(&user);
        Ok(LoginResponse { token, expires_at, user: (&user).into() })
    }

    pub async fn logout(&self, hash: &str) -> Result<(), ApiError> {
        Ok(self.store.delete_session(hash).await?)
    }

    /// A staff member named by username or numeric id.
    pub async fn find_staff(&self, name: &str, field: &str) -> Result<UserSummary, ApiError> {
        let unknown = || FieldError::new(field, format!("unknown user '{name}'"), format!("用户“{name}”不存在"));
        if let Some(u) = self.core.directory.by_username(name) {
            return Ok(u);
        }
        let user = match name.parse::<i64>() {
            Ok(id) => self.store.user_by_id(UserId(id)).await?,
            // A name no account can have is not sent to the database.
            Err(_) if valid_username(name) => self.store.user_by_username(name).await?,
            Err(_) => None,
        };
        let user = user.ok_or_else(unknown)?;
        self.core.directory.remember(&user);
        Ok((&user).into())
    }

    // --- tickets ---

    fn renderer(&self, viewer: &Actor) -> Render {
        let core = self.core.clone();
        let viewer = viewer.clone();
        Box::new(move |t: &Ticket| {
            serde_json::to_value(ticket_view(
                t,
                &viewer,
                &core.flows,
                &core.directory,
                &core.policy.privacy,
                core.clock.now(),
            ))
            .unwrap_or(Value::Null)
        })
    }

    fn idem(actor: &Actor, key: Option<Idem>) -> Option<IdempotencyKey> {
        key.map(|k| IdempotencyKey { user: actor.id, key: k.key, scope: k.scope, fingerprint: k.fingerprint })
    }

    pub async fn create_ticket(
        &self,
        actor: &Actor,
        req: &IntakeRequest,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let mut ticket = req.parse(&self.core.policy.priority)?;
        let initial_state = self.core.flows.get(ticket.ticket_type).initial.clone();
        let now = self.now();
        ticket.deadlines = kefu_domain::sla::on_create(
            &self.core.policy.sla,
            &self.core.calendar,
            ticket.ticket_type,
            ticket.priority,
            now,
        )
        .map_err(DomainError::from)?;
        ticket.next_alert_at = kefu_domain::sla::next_alert(&self.core.policy.sla, &ticket.deadlines);
        let follow_up = match self.core.policy.dispatch.on_create {
            true => Some(self.dispatch_on_create(&provisional(&ticket, &initial_state, actor, now)).await?),
            false => None,
        };
        let written = self
            .store
            .create_ticket(CreateTicket {
                ticket,
                actor: actor.clone(),
                initial_state,
                now,
                idempotency: Self::idem(actor, idempotency),
                follow_up,
                render: self.renderer(actor),
                messages: crate::customer_loop::receipt(self.core.clone()),
            })
            .await?;
        let Written::New { ticket, .. } = &written else { return Ok(written) };
        if !self.core.policy.dispatch.on_create || ticket.assignee.is_some() || ticket.unassignable {
            return Ok(written);
        }
        // The chosen handler filled up meanwhile (the store refused the
        // follow-up): registered anyway; dispatch again, next candidates first.
        match self.auto_dispatch(ticket).await {
            Ok(t) => Ok(Written::New { body: self.view(&t, actor), ticket: Box::new(t) }),
            Err(e) => {
                tracing::warn!(ticket = %ticket.id, error = %e, "automatic dispatch failed; the ticket stays unassigned");
                Ok(written)
            }
        }
    }

    /// Resolves a path segment that is either a numeric id or a ticket number.
    pub async fn ticket_id(&self, key: &str) -> Result<TicketId, ApiError> {
        Ok(self.ticket(key).await?.id)
    }

    pub async fn ticket(&self, key: &str) -> Result<Ticket, ApiError> {
        let not_found = ApiError::NotFound { what: "ticket", what_zh: "工单" };
        let key = if looks_like_number(key) {
            TicketKey::Number(key.to_string())
        } else {
            TicketKey::Id(TicketId(key.parse().map_err(|_| not_found)?))
        };
        self.store.ticket(key).await?.ok_or(ApiError::NotFound { what: "ticket", what_zh: "工单" })
    }

    pub fn view(&self, t: &Ticket, viewer: &Actor) -> Value {
        (self.renderer(viewer))(t)
    }

    pub async fn act(
        &self,
        actor: &Actor,
        key: &str,
        body: &Map<String, Value>,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let request = ActionRequest::parse(body)?;
        let current = self.ticket_for(actor, key, true).await?;
        self.act_on(actor, &current, request, idempotency).await
    }

    /// `act` on a ticket already read.
    async fn act_on(
        &self,
        actor: &Actor,
        current: &Ticket,
        request: ActionRequest,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let mut passed_over: Vec<UserId> = Vec::new();
        loop {
            let resolved = self.resolve(&request, current, &passed_over).await?;
            // Nobody to dispatch to: say so without a write, once the
            // caller is known to be allowed to dispatch at all.
            if let Some(Target::Queue { .. }) = resolved.target
                && matches!(request.kind, ActionKind::Dispatch | ActionKind::Redispatch)
            {
                self.core.flows.get(current.ticket_type).rule_for(current, actor, request.kind)?;
                return Err(ApiError::NoCandidate { tier: current.tier });
            }
            let chosen = resolved.capacity.as_ref().map(|c| c.user);
            match self.act_resolved(actor, current.id, request.clone(), resolved, idempotency.clone()).await {
                // Someone else's dispatch filled the chosen handler: next best.
                Err(ApiError::CapacityFull { .. }) if passed_over.len() < 3 && chosen.is_some() => {
                    passed_over.extend(chosen);
                }
                other => return other,
            }
        }
    }

    /// Turns what a request names into a target: a person, team or
    /// department, or for automatic dispatch the best candidate (with a
    /// capacity check for the store) or the queue.
    async fn resolve(&self, request: &ActionRequest, t: &Ticket, passed_over: &[UserId]) -> Result<Resolved, ApiError> {
        let org = self.org().await?;
        let mut out = Resolved { target: None, capacity: None, rule: None, org: org.clone(), delivered: None };
        if request.kind == ActionKind::Archive {
            out.delivered = crate::customer_loop::notice_delivered(self, t).await?;
        }
        // An appeal on a type the policy escalates by tier goes to a handler
        // of that tier (complaints: L3), chosen like any dispatch.
        let appeal_tier = self.core.policy.customer_loop.appeal_tier_for(t.ticket_type);
        let wanted = match (request.kind, appeal_tier) {
            (ActionKind::Appeal, Some(tier)) => Some(Wanted::Auto { tier: Some(tier) }),
            _ => request.wanted(),
        };
        let Some(wanted) = wanted else { return Ok(out) };
        let unknown = |field: &str, key: &str| -> ApiError {
            FieldError::new(field, format!("unknown {field} '{key}'"), format!("{field}“{key}”不存在")).into()
        };
        out.target = Some(match wanted {
            Wanted::User { field, name } => {
                let id = self.find_staff(name, field).await?.id;
                let u = match org.user(id) {
                    Some(u) => u.clone(),
                    None => self.store.user_by_id(id).await?.ok_or_else(|| unknown(field, name))?,
                };
                Target::Staff(org.staff_ref(&u))
            }
            Wanted::Team { field, code } => {
                let team = org.team_by_key(code).ok_or_else(|| unknown(field, code))?;
                Target::Team { id: team.id, department: team.department }
            }
            Wanted::Department { field, code } => {
                Target::Department { id: org.department_by_key(code).ok_or_else(|| unknown(field, code))?.id }
            }
            Wanted::Auto { tier } => {
                let (plan, org) = self.plan(t, tier).await?;
                out.rule = plan.rule.clone();
                match self.pick(&plan, &org, passed_over) {
                    Some((target, capacity)) => {
                        out.capacity = Some(capacity);
                        target
                    }
                    None => Target::Queue { team: plan.queue_team },
                }
            }
        });
        Ok(out)
    }

    /// The best candidate of a plan not passed over, with the capacity the
    /// store re-checks when it writes; None: nobody can take the ticket.
    fn pick(
        &self,
        plan: &kefu_domain::dispatch::Plan,
        org: &crate::org::OrgSnapshot,
        passed_over: &[UserId],
    ) -> Option<(Target, CapacityCheck)> {
        let u = plan.ranked.iter().find(|id| !passed_over.contains(id)).and_then(|id| org.user(*id))?;
        let max = u.profile.capacity.unwrap_or(self.core.policy.dispatch.default_capacity);
        Some((Target::Staff(org.staff_ref(u)), CapacityCheck { user: u.id, username: u.username.clone(), max }))
    }

    async fn act_resolved(
        &self,
        actor: &Actor,
        id: TicketId,
        request: ActionRequest,
        resolved: Resolved,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let decide_fn = self.action_decider(actor, request, resolved);
        self.mutate(actor, id, idempotency, decide_fn, 200).await
    }

    /// The decision of an action, as the store runs it on the locked ticket:
    /// the flow rule, deadlines, derived fields, notices, capacity re-check.
    fn action_decider(&self, actor: &Actor, request: ActionRequest, resolved: Resolved) -> Decide {
        let (core, who, now) = (self.core.clone(), actor.clone(), self.now());
        let Resolved { target, capacity, rule, org, delivered } = resolved;
        Box::new(move |t: &Ticket| {
            let mut d = decide(core.flows.get(t.ticket_type), t, &who, &request, target.as_ref(), now)?;
            let outbox = crate::customer_loop::on_action(&core, t, &mut d, &who, &request, delivered, now)?;
            // Appeals the policy does not send up a tier (or that found
            // nobody free there) go to the supervisors.
            let by_tier = matches!(target, Some(Target::Staff(_)));
            if d.action == ActionKind::Appeal && core.policy.dispatch.supervisor_on_appeal && !by_tier {
                d.ticket.supervised = true;
            }
            kefu_domain::sla::on_action(&core.policy.sla, &core.calendar, t, &mut d.ticket, d.action, now)?;
            settle(&core, &mut d.ticket);
            let mut notices = crate::notices::for_action(&org, &core.settings.templates, t, &d.ticket, d.action, &who);
            if d.action == ActionKind::Appeal {
                notices.extend(crate::customer_loop::appeal_notices(&core, t, &d.ticket, &request));
            }
            let mut data = d.data;
            if let (Some(rule), Value::Object(m)) = (&rule, &mut data) {
                m.insert("dispatch_rule".into(), json!(rule));
                m.insert("automatic".into(), json!(true));
            }
            let changes_assignee = d.ticket.assignee != t.assignee;
            Ok(Mutation {
                transfer: d.transfer,
                notices,
                outbox,
                capacity: capacity.filter(|_| changes_assignee),
                ..Mutation::new(d.ticket, d.action.as_str(), data)
            })
        })
    }

    /// Dispatches a ticket by the rules, as kefu itself; if nobody can take
    /// it, it waits in its team's queue, flagged, and the lead hears of it.
    pub async fn auto_dispatch(&self, t: &Ticket) -> Result<Ticket, ApiError> {
        let system = Actor::new(SYSTEM, "system:dispatch", Role::Admin);
        let allowed = self.core.flows.get(t.ticket_type).allowed_actions(t, &system);
        let body = if allowed.contains(&ActionKind::Dispatch) {
            json!({"action": "dispatch", "mode": "system"})
        } else if allowed.contains(&ActionKind::Redispatch) {
            json!({"action": "redispatch", "mode": "system", "reason": "自动派单 / automatic dispatch"})
        } else {
            return Ok(t.clone());
        };
        let request = ActionRequest::parse(body.as_object().expect("an object"))?;
        match self.act_on(&system, t, request, None).await {
            Ok(w) => written_ticket(w),
            // Nobody free, or everyone chosen filled up meanwhile: it waits.
            Err(ApiError::NoCandidate { .. } | ApiError::CapacityFull { .. }) => self.queue(t).await,
            Err(e) => Err(e),
        }
    }

    /// Puts a ticket nobody can take into its team's queue, flagged.
    async fn queue(&self, t: &Ticket) -> Result<Ticket, ApiError> {
        if t.unassignable {
            return Ok(t.clone());
        }
        let (plan, org) = self.plan(t, None).await?;
        let system = Actor::new(SYSTEM, "system:dispatch", Role::Admin);
        written_ticket(self.mutate(&system, t.id, None, self.queue_decider(plan, org), 200).await?)
    }

    /// Puts the ticket in the plan's team queue, flagged, and tells the lead.
    fn queue_decider(&self, plan: kefu_domain::dispatch::Plan, org: Arc<crate::org::OrgSnapshot>) -> Decide {
        let core = self.core.clone();
        Box::new(move |t: &Ticket| {
            let mut next = Ticket { team: plan.queue_team.or(t.team), unassignable: true, ..t.clone() };
            settle(&core, &mut next);
            let mut out = crate::notices::Notices::new(SYSTEM);
            let n = &t.number;
            out.add(
                org.lead_or_supervisors(next.team),
                "queued",
                &format!("ticket {n}: nobody on duty can take it (L{}); it waits in the queue", plan.tier),
                &format!("工单 {n} 暂无在岗可派人员（L{}），已进入队列等待派单", plan.tier),
            );
            let data = json!({"tier": plan.tier, "dispatch_rule": plan.rule, "team": next.team});
            Ok(Mutation { notices: out.into_vec(), ..Mutation::new(next, "queue", data) })
        })
    }

    /// Automatic dispatch of a ticket being registered, decided now and
    /// written in the registration's transaction: to the best candidate,
    /// or into the queue when nobody is free.
    async fn dispatch_on_create(&self, t: &Ticket) -> Result<FollowUp, ApiError> {
        let system = Actor::new(SYSTEM, "system:dispatch", Role::Admin);
        let (plan, org) = self.plan(t, None).await?;
        let decide = match self.pick(&plan, &org, &[]) {
            Some((target, capacity)) => {
                let resolved = Resolved {
                    target: Some(target),
                    capacity: Some(capacity),
                    rule: plan.rule.clone(),
                    org: org.clone(),
                    delivered: None,
                };
                let body = json!({"action": "dispatch", "mode": "system"});
                let request = ActionRequest::parse(body.as_object().expect("an object"))?;
                self.action_decider(&system, request, resolved)
            }
            None => self.queue_decider(plan, org),
        };
        Ok(FollowUp { actor: system, decide })
    }

    pub async fn comment(
        &self,
        actor: &Actor,
        key: &str,
        body: Option<&str>,
        internal: bool,
        idempotency: Option<Idem>,
    ) -> Result<Written, ApiError> {
        let text = kefu_domain::validate::required_free_text(body, "body", limits::COMMENT)?;
        // An internal note needs to see the ticket; a reply to the customer
        // speaks for its handling and needs to be one of its people.
        let id = self.ticket_for(actor, key, !internal).await?.id;
        let org = self.org().await?;
        let mentions = mentioned(&org, &text);
        let (core, now, who) = (self.core.clone(), self.now(), actor.clone());
        let decide_fn: Decide = Box::new(move |t: &Ticket| {
            if core.flows.get(t.ticket_type).is_final(&t.status) {
                return Err(DomainError::Archived);
            }
            let mut ticket = Ticket { updated_at: now, ..t.clone() };
            settle(&core, &mut ticket);
            let mut notices = crate::notices::Notices::new(who.id);
            let place = if internal { "内部备注" } else { "回复" };
            let vars = [("number", t.number.as_str()), ("by", who.username.as_str()), ("where_zh", place)];
            let notice = core.settings.templates.render("staff_mention", "zh", &vars);
            notices.add(mentions.iter().copied(), "mention", &notice.body_en, &notice.body);
            let data = json!({"internal": internal, "mentions": mentions});
            let comment = Some(NewComment { body: text, internal, mentions: mentions.clone() });
            Ok(Mutation { comment, notices: notices.into_vec(), ..Mutation::new(ticket, "comment", data) })
        });
        self.mutate(actor, id, idempotency, decide_fn, 201).await
    }

    /// An action taken by kefu itself or by a customer's link: no
    /// idempotency key, the ticket as it became.
    pub async fn act_as(&self, actor: &Actor, t: &Ticket, request: ActionRequest) -> Result<Ticket, ApiError> {
        written_ticket(self.act_on(actor, t, request, None).await?)
    }

    /// A change kefu makes by itself, decided by `decide`.
    pub async fn system_change(&self, actor: &Actor, id: TicketId, decide: Decide) -> Result<(), ApiError> {
        self.mutate(actor, id, None, decide, 200).await.map(|_| ())
    }

    async fn mutate(
        &self,
        actor: &Actor,
        id: TicketId,
        idempotency: Option<Idem>,
        decide: Decide,
        status: u16,
    ) -> Result<Written, ApiError> {
        Ok(self
            .store
            .mutate_ticket(MutateTicket {
                ticket: id,
                actor: actor.clone(),
                now: self.now(),
                idempotency: Self::idem(actor, idempotency),
                decide,
                render: self.renderer(actor),
                status,
            })
            .await?)
    }
}

/// What a username may be: 1 to 64 ASCII letters, digits, `_`, `-`, `.`.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// An argon2id hash of a random string, verified against when the username
/// is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$R7dT8KqgRS2U7W4uM1l0mU4P6m8gX0mOQWq6+9YbG1k";

/// What a reveal is about.
pub enum RevealSubject<'a> {
    Ticket(&'a str),
    Customer(kefu_domain::CustomerId),
}

/// A revealed field, as returned to the caller.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Revealed {
    pub field: String,
    pub value: Option<String>,
    /// The access-log entry that records this view.
    pub access_log_id: i64,
}

impl<S: Store> Kefu<S> {
    /// Shows one personal field in full to a role that may reveal it, and
    /// records who, when, what and why in the access log first.
    pub async fn reveal(
        &self,
        actor: &Actor,
        subject: RevealSubject<'_>,
        field: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Revealed, ApiError> {
        use kefu_domain::privacy::{Access, PersonalField};
        let field = PersonalField::parse(field.ok_or_else(|| FieldError::required("field"))?)?;
        let reason = required_text(reason, "reason", 500)?;
        let privacy = &self.core.policy.privacy;
        if !kefu_domain::access::reason_is_real(&reason, &privacy.reveal_reasons, privacy.reveal_reason_min_chars) {
            return Err(FieldError::new(
                "reason",
                format!(
                    "name one of the listed reasons or write the reason out (at least {} characters): {}",
                    privacy.reveal_reason_min_chars,
                    privacy.reveal_reasons.join("; ")
                ),
                format!("请选择规定的查看事由，或写明具体事由（至少 {} 个字）", privacy.reveal_reason_min_chars),
            )
            .into());
        }
        if privacy.access(actor.role, field) == Access::Masked {
            return Err(ApiError::Forbidden {
                reason: format!("role {} may not reveal {}", actor.role.as_str(), field.as_str()),
                reason_zh: format!("当前角色无权查看完整的 {}", field.as_str()),
            });
        }
        let (subject, customer, service_number) = match subject {
            RevealSubject::Ticket(key) => {
                let t = self.visible_ticket(actor, key).await?;
                (format!("ticket:{}", t.number), t.customer, t.service_number)
            }
            RevealSubject::Customer(id) => {
                let c = self
                    .store
                    .customer_by_id(id)
                    .await?
                    .ok_or(ApiError::NotFound { what: "customer", what_zh: "客户" })?;
                // A customer is revealed only to someone one of whose tickets they are.
                let theirs = TicketFilter {
                    customer_phone: Some(c.phone.as_str().into()),
                    visible: self.visibility(actor),
                    page: 1,
                    per_page: 1,
                    ..Default::default()
                };
                if self.store.list_tickets(theirs).await?.total == 0 {
                    return Err(ApiError::NotFound { what: "customer", what_zh: "客户" });
                }
                (format!("customer:{}", id.0), c, None)
            }
        };
        let value = match field {
            PersonalField::Name => Some(customer.name),
            PersonalField::Phone => Some(customer.phone.as_str().to_string()),
            PersonalField::IdNumber => customer.id_number.map(|n| n.as_str().to_string()),
            PersonalField::Address => customer.address,
            PersonalField::ServiceNumber => service_number,
        };
        let who = (Some(actor.id), actor.username.as_str());
        let logged = self.log_access(who, "reveal", subject, Some(field.as_str()), reason).await?;
        Ok(Revealed { field: field.as_str().into(), value, access_log_id: logged.id })
    }
}

impl<S: Store> Kefu<S> {
    /// Every ticket of a customer, whole (no masking), oldest first.
    async fn tickets_of(&self, customer: &kefu_domain::ticket::Customer) -> Result<Vec<Ticket>, ApiError> {
        let mut out = Vec::new();
        for page in 1.. {
            let filter = TicketFilter {
                customer_phone: Some(customer.phone.as_str().into()),
                page,
                per_page: 500,
                ..Default::default()
            };
            let got = self.store.list_tickets(filter).await?;
            let done = got.items.len() < 500;
            out.extend(got.items);
            if done {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }

    async fn customer_or_404(&self, id: kefu_domain::CustomerId) -> Result<kefu_domain::ticket::Customer, ApiError> {
        self.store.customer_by_id(id).await?.ok_or(ApiError::NotFound { what: "customer", what_zh: "客户" })
    }

    /// Appends to the access log, now. `actor` is None for kefu's own jobs
    /// and the command line, which `actor_name` then names.
    pub async fn log_access(
        &self,
        (actor, actor_name): (Option<UserId>, &str),
        action: &str,
        subject: String,
        field: Option<&str>,
        reason: String,
    ) -> Result<AccessEntry, ApiError> {
        let entry = AccessEntry {
            id: 0,
            at: self.now(),
            actor,
            actor_name: actor_name.into(),
            action: action.into(),
            subject,
            field: field.map(str::to_string),
            reason,
        };
        Ok(self.store.append_access(entry).await?)
    }

    /// Everything held about one customer, machine-readable, for the
    /// customer's right of access (PIPL art. 45); recorded in the access log.
    pub async fn export_customer(
        &self,
        actor: &Actor,
        id: kefu_domain::CustomerId,
        reason: Option<&str>,
    ) -> Result<Value, ApiError> {
        let reason = required_text(reason, "reason", 500)?;
        let customer = self.customer_or_404(id).await?;
        let mut tickets = Vec::new();
        for t in self.tickets_of(&customer).await? {
            let (comments, transfers, events) =
                (self.store.comments(t.id).await?, self.store.transfers(t.id).await?, self.store.events(t.id).await?);
            tickets.push(json!({"ticket": t, "comments": comments, "transfers": transfers, "events": events}));
        }
        let logged = self
            .log_access((Some(actor.id), &actor.username), "export", format!("customer:{}", id.0), None, reason)
            .await?;
        Ok(json!({"exported_at": logged.at, "access_log_id": logged.id, "customer": customer, "tickets": tickets}))
    }

    /// Erases a customer on request where retention allows: only
    /// when no ticket of theirs is still kept. Recorded in the access log.
    pub async fn erase_customer(
        &self,
        actor: &Actor,
        id: kefu_domain::CustomerId,
        reason: Option<&str>,
    ) -> Result<Value, ApiError> {
        let reason = required_text(reason, "reason", 500)?;
        let customer = self.customer_or_404(id).await?;
        let tickets = self.tickets_of(&customer).await?;
        if !tickets.is_empty() {
            let retention = &self.core.policy.retention;
            let kept: Option<Vec<DateTime<Utc>>> =
                tickets.iter().map(|t| retention.ticket_kept_until(t.archived_at)).collect();
            // Tickets past their retention are removed by the retention job;
            // until then they still name the customer.
            let until = kept.and_then(|k| k.into_iter().max());
            let past_due = until.is_some_and(|u| u <= self.now());
            return Err(ApiError::Retained { until, past_due });
        }
        self.store.delete_customer(id).await?;
        let logged = self
            .log_access((Some(actor.id), &actor.username), "erase", format!("customer:{}", id.0), None, reason)
            .await?;
        Ok(json!({"erased": true, "access_log_id": logged.id}))
    }
}

impl<S: Store> Kefu<S> {
    /// Raises the SLA alerts due on one ticket (warning, breach, escalation
    /// steps), in the ticket's own write transaction: an audit event lists
    /// each alert and the staff notified, notices go to them, and the
    /// deadlines remember what was raised, so nothing is raised twice — on
    /// any node, across restarts. A breach of a tier's limit escalates the
    /// ticket to the next tier in the same change, and repeated
    /// breaches bring in the supervisor. Returns how many alerts were raised.
    pub async fn raise_sla_alerts(&self, id: TicketId) -> Result<usize, ApiError> {
        let (core, now) = (self.core.clone(), self.now());
        let current = self.ticket(&id.0.to_string()).await?;
        // Peek: will a breach escalate the ticket? Then choose its handler first.
        let mut probe = current.clone();
        let due = kefu_domain::sla::raise_alerts(&core.policy.sla, &mut probe, now);
        let tier = due
            .iter()
            .filter(|a| a.level == "breach")
            .filter_map(|a| core.policy.sla.escalation_for(&a.kind, &current))
            .max();
        let escalation = match tier {
            Some(tier) => {
                let (plan, org) = self.plan(&current, Some(tier)).await?;
                let target = self.pick(&plan, &org, &[]).map_or(Target::Queue { team: plan.queue_team }, |(t, _)| t);
                Some((tier, target))
            }
            None => None,
        };
        let org = self.org().await?;
        let raised = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = raised.clone();
        let decide_fn: Decide = Box::new(move |t: &Ticket| {
            let mut next = t.clone();
            let alerts = kefu_domain::sla::raise_alerts(&core.policy.sla, &mut next, now);
            count.store(alerts.len(), std::sync::atomic::Ordering::Relaxed);
            let watcher = Actor::new(SYSTEM, "system:sla-watcher", Role::Supervisor);
            let mut action = if alerts.is_empty() { "sla_check" } else { "sla_alert" };
            let mut escalated = Value::Null;
            let mut notices = Vec::new();
            if let Some((tier, target)) = &escalation
                && let Some(a) = alerts
                    .iter()
                    .find(|a| a.level == "breach" && core.policy.sla.escalation_for(&a.kind, t) == Some(*tier))
            {
                let reason = format!("{}超时，自动升级 / {} breached: escalated automatically", a.label_zh, a.kind);
                let body = json!({"action": "escalate", "to_tier": tier, "reason": reason});
                let req = ActionRequest::parse(body.as_object().expect("an object"))?;
                match decide(core.flows.get(t.ticket_type), &next, &watcher, &req, Some(target), now) {
                    Ok(mut d) => {
                        let flow_before = next.clone();
                        kefu_domain::sla::on_action(
                            &core.policy.sla,
                            &core.calendar,
                            &flow_before,
                            &mut d.ticket,
                            d.action,
                            now,
                        )?;
                        escalated = json!({"from_tier": t.tier, "to_tier": d.ticket.tier, "reason": reason,
                                           "assignee": d.ticket.assignee.map(|u| org.username(u))});
                        next = d.ticket;
                        action = "escalate";
                    }
                    Err(e) => escalated = json!({"skipped": e.to_string()}),
                }
            }
            let breached = next.deadlines.iter().filter(|d| d.escalations > 0).count() as u32;
            let after = core.policy.dispatch.supervisor_after_breaches;
            if !next.supervised && after > 0 && breached >= after {
                next.supervised = true;
            }
            settle(&core, &mut next);
            if action == "escalate" || next.supervised != t.supervised {
                notices.extend(crate::notices::for_action(
                    &org,
                    &core.settings.templates,
                    t,
                    &next,
                    ActionKind::Escalate,
                    &watcher,
                ));
            }
            let mut alert_notices = crate::notices::Notices::new(SYSTEM);
            crate::notices::for_alerts(&org, &core.settings.templates, &next, &alerts, &mut alert_notices);
            notices.extend(alert_notices.into_vec());
            let listed: Vec<Value> = alerts
                .iter()
                .map(|a| {
                    let notify: Vec<String> =
                        crate::notices::recipients(&org, t, &a.notify).into_iter().map(|u| org.username(u)).collect();
                    json!({"kind": a.kind, "label_zh": a.label_zh, "level": a.level, "step": a.step, "due_at": a.due_at,
                           "notify": notify})
                })
                .collect();
            let breaches: Vec<Breach> = alerts
                .iter()
                .filter(|a| a.level == "breach")
                .map(|a| Breach { kind: a.kind.clone(), due_at: a.due_at, breached_at: now })
                .collect();
            let mut data = json!({"alerts": listed});
            if !escalated.is_null() {
                data["escalation"] = escalated;
            }
            if next.supervised && !t.supervised {
                data["supervised"] = json!({"breaches": breached});
            }
            Ok(Mutation { breaches, notices, ..Mutation::new(next, action, data) })
        });
        let system = Actor::new(SYSTEM, "system:sla-watcher", Role::Admin);
        let op = MutateTicket {
            ticket: id,
            actor: system.clone(),
            now,
            idempotency: None,
            decide: decide_fn,
            render: self.renderer(&system),
            status: 200,
        };
        self.store.mutate_ticket(op).await?;
        Ok(raised.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// The ticket as it will be registered, for dispatch to plan on before
/// the store assigns id, number and customer.
fn provisional(t: &kefu_domain::ticket::NewTicket, state: &str, actor: &Actor, now: DateTime<Utc>) -> Ticket {
    let c = &t.customer;
    let customer = kefu_domain::ticket::Customer {
        id: kefu_domain::CustomerId(0),
        name: c.name.clone(),
        phone: c.phone.clone(),
        id_number: c.id_number.clone(),
        address: c.address.clone(),
        level: c.level.clone(),
    };
    t.clone().into_ticket(TicketId(0), String::new(), customer, state, actor.id, now)
}

/// What `resolve` found for an action.
struct Resolved {
    target: Option<Target>,
    capacity: Option<CapacityCheck>,
    rule: Option<String>,
    org: Arc<crate::org::OrgSnapshot>,
    /// For archive: whether the result notice reached its gateway.
    delivered: Option<bool>,
}

/// Keeps the fields derived from the flow and the deadlines in step with
/// the ticket: whether it weighs on its handler, when the watcher is due.
fn settle(core: &Core, t: &mut Ticket) {
    t.open = core.flows.get(t.ticket_type).is_open(&t.status);
    t.next_alert_at = kefu_domain::sla::next_alert(&core.policy.sla, &t.deadlines);
}

fn written_ticket(w: Written) -> Result<Ticket, ApiError> {
    match w {
        Written::New { ticket, .. } => Ok(*ticket),
        Written::Replayed { .. } => Err(ApiError::Internal("a system change was replayed".into())),
    }
}

/// Active colleagues named `@username` in a text.
fn mentioned(org: &crate::org::OrgSnapshot, text: &str) -> Vec<UserId> {
    let mut out = Vec::new();
    for part in text.split('@').skip(1) {
        let name: String =
            part.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')).collect();
        let name = name.trim_end_matches('.');
        if let Some(u) = org.users.iter().find(|u| u.active && u.username == name)
            && !out.contains(&u.id)
        {
            out.push(u.id);
        }
    }
    out
}
