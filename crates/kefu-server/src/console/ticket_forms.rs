//! The action forms of the ticket page: one per action the viewer may take
//! now, with the fields that action needs (as data; the template draws them).

use super::Lang;
use super::layout::Opt;
use crate::AppState;
use kefu_domain::Role;
use kefu_store::Store;
use serde_json::Value;

/// One control of an action form.
pub struct Control {
    pub kind: Kind,
    pub label: String,
    pub name: &'static str,
    pub required: bool,
    /// The `type` of an input (`text`, `email`, `number`).
    pub input_type: &'static str,
    pub placeholder: &'static str,
    pub range: Option<(i32, i32)>,
    pub options: Vec<Opt>,
    /// For a grouped select: the groups (label, options) after `options`.
    pub groups: Vec<(String, Vec<Opt>)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Input,
    Area,
    Select,
    /// Radio buttons, none chosen: a judgement the person must make.
    Radio,
}

impl Control {
    fn new(kind: Kind, name: &'static str, label: &str) -> Control {
        Control {
            kind,
            label: label.to_string(),
            name,
            required: false,
            input_type: "text",
            placeholder: "",
            range: None,
            options: Vec::new(),
            groups: Vec::new(),
        }
    }

    fn text(name: &'static str, label: &str) -> Control {
        Control { required: true, ..Control::new(Kind::Input, name, label) }
    }

    fn optional(name: &'static str, label: &str) -> Control {
        Control::new(Kind::Input, name, label)
    }

    fn area(name: &'static str, label: &str) -> Control {
        Control { required: true, ..Control::new(Kind::Area, name, label) }
    }

    fn choose(name: &'static str, label: &str, opts: &[(&str, &str)]) -> Control {
        let options = opts.iter().map(|(v, l)| Opt::new(v, l, "")).collect();
        Control { options, ..Control::new(Kind::Select, name, label) }
    }

    /// A judgement (a verdict, a priority, a rating): nothing is chosen
    /// until the person chooses; `required` unless it may stay blank.
    fn judge(name: &'static str, label: &str, blank: &str, opts: &[(&str, &str)], required: bool) -> Control {
        let options = std::iter::once(("", blank)).chain(opts.iter().copied()).map(|(v, l)| Opt::new(v, l, "x"));
        Control { options: options.collect(), required, ..Control::new(Kind::Select, name, label) }
    }

    fn yes_no(name: &'static str, label: &str, yes: &str, no: &str) -> Control {
        let options = vec![Opt::new("true", yes, ""), Opt::new("false", no, "")];
        Control { options, required: true, ..Control::new(Kind::Radio, name, label) }
    }
}

/// One action's form.
pub struct ActionForm {
    pub action: String,
    pub label: String,
    pub warn: bool,
    pub controls: Vec<Control>,
    /// The field the service refused when this action was last tried (its
    /// name and label), and why.
    pub error: Option<(String, String, String)>,
}

/// The forms of the actions `v` (a ticket view) allows now.
pub async fn action_forms<S: Store>(
    app: &AppState<S>,
    lang: Lang,
    v: &Value,
    error: &Option<(String, Option<String>, String)>,
    repeats_of: Vec<Opt>,
) -> Vec<ActionForm> {
    let mut org = Choices::load(app, lang).await;
    org.open_tickets = repeats_of;
    let tier = v["tier"].as_u64().and_then(|t| u8::try_from(t).ok()).unwrap_or(1);
    let mut out = Vec::new();
    for a in v["allowed_actions"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let error = match error {
            Some((action, Some(field), msg)) if action == a => {
                Some((field.clone(), super::layout::field_label(lang, field), msg.clone()))
            }
            _ => None,
        };
        out.push(ActionForm {
            action: a.to_string(),
            label: super::ticket::action_label(lang, a),
            warn: matches!(a, "withdraw" | "reject" | "appeal" | "merge"),
            controls: controls(lang, a, &org, tier),
            error,
        });
    }
    out
}

/// Whom work may go to: active staff other than inspectors and admins
/// (with their tier), teams and departments.
pub(super) struct Choices {
    staff: Vec<(Opt, Option<u8>)>,
    teams: Vec<Opt>,
    departments: Vec<Opt>,
    /// The customer's other open tickets, which a repeat report may join.
    open_tickets: Vec<Opt>,
}

impl Choices {
    pub(super) async fn load<S: Store>(app: &AppState<S>, lang: Lang) -> Choices {
        let Ok(org) = app.kefu.org().await else {
            return Choices { staff: Vec::new(), teams: Vec::new(), departments: Vec::new(), open_tickets: Vec::new() };
        };
        let staff = org
            .users
            .iter()
            .filter(|u| u.active && !matches!(u.role, Role::Inspector | Role::Admin))
            .map(|u| {
                let role = lang.t(u.role.label_zh(), u.role.as_str());
                let label = format!("{} {} ({role})", u.display_name, u.username);
                (Opt { value: u.username.clone(), label, selected: false }, org.membership(u).tier)
            })
            .collect();
        let opt = |value: String, label: &str| Opt { value, label: label.to_string(), selected: false };
        Choices {
            staff,
            teams: org.teams.iter().map(|t| opt(format!("team:{}", t.code), &t.name)).collect(),
            departments: org.departments.iter().map(|d| opt(format!("department:{}", d.code), &d.name)).collect(),
            open_tickets: Vec::new(),
        }
    }

    pub(super) fn people(&self) -> Vec<Opt> {
        self.staff.iter().map(|(o, _)| o.clone()).collect()
    }
}

fn people(name: &'static str, label: &str, staff: &[Opt], automatic: Option<&str>) -> Control {
    let blank = automatic.map(|a| Opt { value: String::new(), label: a.to_string(), selected: false });
    let everyone = staff.iter().map(|o| Opt { value: o.value.clone(), label: o.label.clone(), selected: false });
    Control { options: blank.into_iter().chain(everyone).collect(), ..Control::new(Kind::Select, name, label) }
}

/// Where a transfer may go: a person, a team or a department.
fn receivers(lang: Lang, org: &Choices) -> Control {
    let l = |zh, en| lang.t(zh, en);
    let groups = vec![
        (l("人员", "People").to_string(), org.people()),
        (l("班组（由班组长或组员接收）", "Teams").to_string(), org.teams.clone()),
        (l("部门", "Departments").to_string(), org.departments.clone()),
    ];
    let options = vec![Opt::new("", l("请选择", "Choose"), "x")];
    Control { options, groups, required: true, ..Control::new(Kind::Select, "to", l("转派给", "To")) }
}

/// Where an escalation may go: a higher tier, the supervisor (督办), or a
/// person at a higher tier.
fn escalations(lang: Lang, org: &Choices, tier: u8) -> Control {
    let l = |zh, en| lang.t(zh, en);
    let tiers: Vec<Opt> = (tier.saturating_add(1)..=3)
        .map(|t| Opt::new(&t.to_string(), &format!("L{t} {}", l("处理层", "tier")), ""))
        .collect();
    let people: Vec<Opt> = org
        .staff
        .iter()
        .filter(|(_, t)| t.is_some_and(|t| t > tier))
        .map(|(o, _)| Opt { value: format!("user:{}", o.value), label: o.label.clone(), selected: false })
        .collect();
    let mut groups = vec![(l("更高层级", "A higher tier").to_string(), tiers)];
    groups.push((
        l("主管", "Supervisor").to_string(),
        vec![Opt::new("supervisor", l("主管督办", "to the supervisor"), "")],
    ));
    if !people.is_empty() {
        groups.push((l("更高层级的人员", "A person at a higher tier").to_string(), people));
    }
    let options = vec![Opt::new("", l("请选择", "Choose"), "x")];
    Control { options, groups, required: true, ..Control::new(Kind::Select, "escalate_to", l("升级到", "Up to")) }
}

/// Where a repeat report may be merged: one of the customer's open
/// tickets the viewer sees, or a number typed when there is none to offer.
fn merge_into(lang: Lang, org: &Choices) -> Control {
    let l = |zh, en| lang.t(zh, en);
    let label = l("合并到（该客户处理中的工单）", "Into (the customer's open ticket)");
    if org.open_tickets.is_empty() {
        return Control { placeholder: "GD2026…", ..Control::text("into", label) };
    }
    let options = std::iter::once(Opt::new("", l("请选择", "Choose"), "x")).chain(org.open_tickets.iter().cloned());
    Control { options: options.collect(), required: true, ..Control::new(Kind::Select, "into", label) }
}

fn controls(lang: Lang, action: &str, org: &Choices, tier: u8) -> Vec<Control> {
    let l = |zh, en| lang.t(zh, en);
    let staff = &org.people();
    let reason = || Control::text("reason", l("原因", "Reason"));
    let auto = Some(l("按规则自动", "automatic"));
    match action {
        "dispatch" => vec![people("assignee", l("处理人", "Handler"), staff, auto)],
        "redispatch" => vec![people("assignee", l("改派给", "To"), staff, auto), reason()],
        "transfer" => vec![
            receivers(lang, org),
            reason(),
            Control::choose(
                "mode",
                l("方式", "Mode"),
                &[("manual", l("人工", "manual")), ("phone", l("电话", "phone")), ("system", l("系统", "system"))],
            ),
        ],
        "escalate" => vec![escalations(lang, org, tier), reason()],
        "merge" => vec![merge_into(lang, org), Control::optional("reason", l("说明", "Note"))],
        "suspend" | "reject_transfer" | "reject" | "appeal" | "withdraw" => vec![reason()],
        "resolve" => vec![Control::area("result", l("处理结果", "Result"))],
        "approve" => vec![Control::optional("comment", l("意见", "Comment"))],
        "notify_result" => vec![
            Control::choose(
                "method",
                l("方式", "Method"),
                &[
                    ("sms", l("短信", "SMS")),
                    ("phone", l("电话", "phone")),
                    ("email", l("电子邮件", "e-mail")),
                    ("online", l("线上", "online")),
                    ("letter", l("信函", "letter")),
                ],
            ),
            Control {
                input_type: "email",
                placeholder: "name@example.com",
                ..Control::optional("email", l("邮箱（电子邮件方式）", "E-mail (for e-mail)"))
            },
        ],
        "return_visit" => vec![
            Control::choose(
                "method",
                l("方式", "Method"),
                &[("phone", l("电话", "phone")), ("sms", l("短信", "SMS")), ("online", l("线上", "online"))],
            ),
            Control::yes_no(
                "reached",
                l("是否联系到客户", "Reached the customer?"),
                l("已联系到", "yes"),
                l("未联系到", "no"),
            ),
            Control::judge(
                "satisfaction",
                l("满意度（联系到时填写）", "Satisfaction (when reached)"),
                l("请选择", "Choose"),
                &[("5", "5"), ("4", "4"), ("3", "3"), ("2", "2"), ("1", "1")],
                false,
            ),
            Control { input_type: "number", range: Some((0, 10)), ..Control::optional("nps", "NPS 0–10") },
            Control::optional("comment", l("备注", "Comment")),
        ],
        "review" => vec![
            Control::judge(
                "passed",
                l("复核结论", "Verdict"),
                l("请选择", "Choose"),
                &[("true", l("通过", "pass")), ("false", l("退回", "return"))],
                true,
            ),
            Control::optional("comment", l("意见", "Comment")),
        ],
        "set_priority" => vec![
            Control::judge(
                "priority",
                l("优先级", "Priority"),
                l("请选择", "Choose"),
                &kefu_domain::Priority::ALL
                    .iter()
                    .map(|p| (p.as_str(), lang.t(p.label_zh(), p.as_str())))
                    .collect::<Vec<_>>(),
                true,
            ),
            reason(),
        ],
        _ => Vec::new(),
    }
}
