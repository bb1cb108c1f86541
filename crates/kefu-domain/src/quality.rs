//! Scorecards: one engine for ticket and call reviews,
//! store inspections and mystery shopping. A scorecard is data (shipped
//! files in `scorecards/`, edited versions in the store); a review keeps
//! the version it used, so a score stays comparable after the card changes.
//!
//! The score is the weighted mean of the rated standard items (an item's
//! points are its weight; N/A items drop out), scaled to the ceiling
//! (100), plus bonus points and minus deductions, each section capped, and
//! zero whenever a red-line (致命项) item fails — the rule of the QA tools
//! the operator compared (Zendesk QA, MaestroQA, Amazon Connect).

use crate::FieldError;
use crate::validate::optional_free_text;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

const SHIPPED: [&str; 3] = [
    include_str!("../scorecards/ticket_review.toml"),
    include_str!("../scorecards/store_inspection.toml"),
    include_str!("../scorecards/mystery_shopping.toml"),
];

/// A reason given for lost points, at most this many characters.
pub const REASON_MAX: usize = 500;

/// The quality policy (`[quality]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityPolicy {
    /// The most a review or inspection scores (满分).
    pub ceiling: f64,
    pub grades: crate::grading::GradePolicy,
    pub assessment: crate::assessment::AssessmentPolicy,
    pub violations: crate::violations::ViolationPolicy,
    pub sampling: crate::sampling::SamplingPolicy,
}

impl Default for QualityPolicy {
    fn default() -> Self {
        QualityPolicy {
            ceiling: 100.0,
            grades: Default::default(),
            assessment: Default::default(),
            violations: Default::default(),
            sampling: Default::default(),
        }
    }
}

impl QualityPolicy {
    pub fn check(&self) -> Result<(), String> {
        if !(self.ceiling.is_finite() && self.ceiling > 0.0) {
            return Err("[quality] ceiling must be > 0".into());
        }
        self.grades.check()?;
        self.violations.check()?;
        self.assessment.check()
    }
}

/// What a scorecard is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    /// A ticket's or a call's handling (质检).
    Review,
    /// A store's inspection (营业厅检查).
    Store,
    /// A mystery shopper's visit to a store (神秘顾客).
    Mystery,
}

impl Usage {
    pub fn code(self) -> &'static str {
        match self {
            Usage::Review => "review",
            Usage::Store => "store",
            Usage::Mystery => "mystery",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Usage::Review => ("工单/通话质检", "Ticket and call review"),
            Usage::Store => ("营业厅检查", "Store inspection"),
            Usage::Mystery => ("神秘顾客暗访", "Mystery shopping"),
        }
    }

    /// Whether the card grades a store (an inspection) or a person (a review).
    pub fn for_stores(self) -> bool {
        matches!(self, Usage::Store | Usage::Mystery)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKind {
    /// Rated items whose weighted mean is the base score.
    Standard,
    /// Points added for what goes beyond the standard (加分项).
    Bonus,
    /// Points taken away (扣分项).
    Deduction,
    /// Pass or fail; one failure makes the whole review 0 (致命项).
    RedLine,
}

impl SectionKind {
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            SectionKind::Standard => ("标准项", "Standard"),
            SectionKind::Bonus => ("加分项", "Bonus"),
            SectionKind::Deduction => ("扣分项", "Deduction"),
            SectionKind::RedLine => ("致命项", "Red line"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    /// Full points: the item's weight in a standard section, the most it
    /// adds or takes in a bonus or deduction section, the points a red-line
    /// item must get to pass.
    pub points: f64,
    /// Whether "not applicable" is an answer.
    #[serde(default)]
    pub na: bool,
    /// Whether lost points (or any deduction) need a reason.
    #[serde(default)]
    pub reason_required: bool,
    /// Root causes a reviewer picks from when points are lost.
    #[serde(default)]
    pub root_causes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    pub kind: SectionKind,
    /// The most a bonus or deduction section moves the score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<f64>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scorecard {
    pub key: String,
    pub name_zh: String,
    pub name_en: String,
    pub usage: Usage,
    pub sections: Vec<Section>,
}

impl Scorecard {
    /// The shipped scorecards.
    pub fn shipped() -> Vec<Scorecard> {
        SHIPPED.iter().map(|t| toml::from_str::<Scorecard>(t).expect("a shipped scorecard parses")).collect()
    }

    pub fn items(&self) -> impl Iterator<Item = (&Section, &Item)> {
        self.sections.iter().flat_map(|s| s.items.iter().map(move |i| (s, i)))
    }

    pub fn item(&self, key: &str) -> Option<(&Section, &Item)> {
        self.items().find(|(_, i)| i.key == key)
    }

    /// The most the standard items can earn.
    pub fn standard_points(&self) -> f64 {
        self.items().filter(|(s, _)| s.kind == SectionKind::Standard).map(|(_, i)| i.points).sum()
    }

    /// The card as TOML, the shape of the shipped files, for editing.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// A card written as TOML (the console's editor), with the line of a
    /// syntax error; checked as any written card.
    pub fn from_toml(text: &str) -> Result<Scorecard, FieldError> {
        let card: Scorecard = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| text[..s.start.min(text.len())].lines().count().max(1));
            FieldError::new("card", format!("line {line}: {}", e.message()), format!("第 {line} 行：{}", e.message()))
        })?;
        card.check()?;
        Ok(card)
    }

    /// A card an inspector wrote is checked before it is kept.
    pub fn check(&self) -> Result<(), FieldError> {
        let bad = |field: &str, en: String, zh: String| Err(FieldError::new(field, en, zh));
        if !is_key(&self.key) {
            return bad(
                "key",
                "a key of a-z, 0-9 and _ (up to 40)".into(),
                "编码只能由小写字母、数字和下划线组成（不超过40字符）".into(),
            );
        }
        for (f, v) in [("name_zh", &self.name_zh), ("name_en", &self.name_en)] {
            if v.trim().is_empty() || v.chars().count() > 100 {
                return bad(f, format!("{f} must be 1–100 characters"), format!("{f} 须为1至100个字符"));
            }
        }
        let mut keys = BTreeSet::new();
        for (si, s) in self.sections.iter().enumerate() {
            if s.items.is_empty() {
                return bad(
                    &format!("sections[{si}].items"),
                    "a section needs items".into(),
                    "每个分区至少一个评分项".into(),
                );
            }
            if s.cap.is_some_and(|c| !(c.is_finite() && c >= 0.0)) {
                return bad(
                    &format!("sections[{si}].cap"),
                    "a cap is a number ≥ 0".into(),
                    "上限须为不小于0的数".into(),
                );
            }
            for (ii, i) in s.items.iter().enumerate() {
                let field = format!("sections[{si}].items[{ii}]");
                if !is_key(&i.key) || !keys.insert(i.key.as_str()) {
                    return bad(
                        &field,
                        format!("item key '{}' is not a unique key", i.key),
                        format!("评分项编码“{}”无效或重复", i.key),
                    );
                }
                if !(i.points.is_finite() && i.points > 0.0 && i.points <= 1000.0) {
                    return bad(
                        &format!("{field}.points"),
                        "points are a number in (0, 1000]".into(),
                        "分值须大于0且不超过1000".into(),
                    );
                }
                if i.name_zh.trim().is_empty() || i.name_zh.chars().count() > 200 {
                    return bad(
                        &format!("{field}.name_zh"),
                        "name_zh must be 1–200 characters".into(),
                        "名称须为1至200个字符".into(),
                    );
                }
            }
        }
        if self.standard_points() <= 0.0 {
            return bad(
                "sections",
                "a scorecard needs a standard section".into(),
                "评分表至少需要一个标准项分区".into(),
            );
        }
        Ok(())
    }
}

fn is_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 40 && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// One answer of a review: points earned (a standard or red-line item),
/// added (bonus) or taken (deduction), or not applicable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    Points(f64),
    Na,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rating {
    pub item: String,
    pub answer: Answer,
    pub reason: Option<String>,
    pub root_cause: Option<String>,
}

/// How one item was scored, kept with the review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemScore {
    pub item: String,
    pub section: SectionKind,
    /// Null for N/A.
    pub points: Option<f64>,
    pub max: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<String>,
    /// Lost points (standard), a deduction, or a failed red line.
    pub lost: bool,
}

/// A review's score and how it was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The final score (two decimals).
    pub score: f64,
    /// The weighted mean of the rated standard items, scaled to the ceiling.
    pub base: f64,
    pub bonus: f64,
    pub deduction: f64,
    /// The red-line items that failed (the score is 0 when any did).
    pub red_lines_failed: Vec<String>,
    pub items: Vec<ItemScore>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Scores `ratings` on `card`. Every standard and red-line item must be
/// answered (a review is complete or not kept); bonus and deduction items
/// left out count nothing. `ceiling` is the most a score can be (100).
pub fn score(card: &Scorecard, ratings: &[Rating], ceiling: f64) -> Result<Scored, FieldError> {
    let mut seen = BTreeSet::new();
    let mut items = Vec::with_capacity(ratings.len());
    for (n, r) in ratings.iter().enumerate() {
        let field = format!("items[{n}]");
        let Some((section, item)) = card.item(&r.item) else {
            return Err(FieldError::new(
                format!("{field}.item"),
                format!("the scorecard '{}' has no item '{}'", card.key, r.item),
                format!("评分表“{}”中没有评分项“{}”", card.name_zh, r.item),
            ));
        };
        if !seen.insert(item.key.as_str()) {
            return Err(FieldError::new(
                format!("{field}.item"),
                format!("item '{}' is rated twice", item.key),
                format!("评分项“{}”重复评分", item.name_zh),
            ));
        }
        items.push(item_score(section.kind, item, r, &field)?);
    }
    if let Some((_, missing)) = card
        .items()
        .find(|(s, i)| matches!(s.kind, SectionKind::Standard | SectionKind::RedLine) && !seen.contains(i.key.as_str()))
    {
        return Err(FieldError::new(
            "items",
            format!("item '{}' is not rated (every standard and red-line item needs an answer)", missing.key),
            format!("评分项“{}”未评分（标准项和致命项均须评分）", missing.name_zh),
        ));
    }
    Ok(total(card, items, ceiling))
}

fn item_score(kind: SectionKind, item: &Item, r: &Rating, field: &str) -> Result<ItemScore, FieldError> {
    let reason = optional_free_text(r.reason.as_deref(), &format!("{field}.reason"), REASON_MAX)?;
    let root_cause = r.root_cause.as_ref().map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    if let Some(c) = &root_cause
        && !item.root_causes.iter().any(|k| k == c)
    {
        return Err(FieldError::new(
            format!("{field}.root_cause"),
            format!("'{c}' is not a root cause of item '{}' ({})", item.key, item.root_causes.join(", ")),
            format!("“{c}”不是评分项“{}”的问题根因", item.name_zh),
        ));
    }
    let points = match r.answer {
        Answer::Na if item.na => None,
        Answer::Na => {
            return Err(FieldError::new(
                format!("{field}.points"),
                format!("item '{}' may not be N/A", item.key),
                format!("评分项“{}”不可选“不适用”", item.name_zh),
            ));
        }
        Answer::Points(p) => Some(points_of(kind, item, p, field)?),
    };
    let lost = match (kind, points) {
        (_, None) => false,
        (SectionKind::Standard | SectionKind::RedLine, Some(p)) => p < item.points,
        (SectionKind::Deduction, Some(p)) => p > 0.0,
        (SectionKind::Bonus, Some(_)) => false,
    };
    let needs_reason = lost && (item.reason_required || kind == SectionKind::RedLine);
    if needs_reason && reason.is_none() {
        return Err(FieldError::new(
            format!("{field}.reason"),
            format!("item '{}' lost points: give the reason", item.key),
            format!("评分项“{}”扣分，须填写原因", item.name_zh),
        ));
    }
    Ok(ItemScore { item: item.key.clone(), section: kind, points, max: item.points, reason, root_cause, lost })
}

/// The points of an answer, in range. A deduction may be written as a
/// negative number (−3) or as the points taken (3); both mean the same.
fn points_of(kind: SectionKind, item: &Item, p: f64, field: &str) -> Result<f64, FieldError> {
    let p = if kind == SectionKind::Deduction { p.abs() } else { p };
    let whole_steps = (p * 100.0 - (p * 100.0).round()).abs() < 1e-6;
    if !(p.is_finite() && (0.0..=item.points).contains(&p) && whole_steps) {
        return Err(FieldError::new(
            format!("{field}.points"),
            format!("points of item '{}' are 0 to {} (or \"na\")", item.key, item.points),
            format!("评分项“{}”的分值须在0至{}之间", item.name_zh, item.points),
        ));
    }
    if kind == SectionKind::RedLine && p != 0.0 && p != item.points {
        return Err(FieldError::new(
            format!("{field}.points"),
            format!("red-line item '{}' passes ({}) or fails (0)", item.key, item.points),
            format!("致命项“{}”只能通过（{}分）或不通过（0分）", item.name_zh, item.points),
        ));
    }
    Ok(p)
}

fn total(card: &Scorecard, items: Vec<ItemScore>, ceiling: f64) -> Scored {
    let (mut earned, mut possible) = (0.0, 0.0);
    for i in items.iter().filter(|i| i.section == SectionKind::Standard) {
        if let Some(p) = i.points {
            earned += p;
            possible += i.max;
        }
    }
    // Every standard item N/A: nothing to fall short of.
    let base = if possible > 0.0 { earned / possible * ceiling } else { ceiling };
    let section_sum = |kind: SectionKind| -> f64 {
        card.sections
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| {
                let sum: f64 =
                    items.iter().filter(|i| s.items.iter().any(|k| k.key == i.item)).filter_map(|i| i.points).sum();
                s.cap.map_or(sum, |c| sum.min(c))
            })
            .sum()
    };
    let (bonus, deduction) = (section_sum(SectionKind::Bonus), section_sum(SectionKind::Deduction));
    let red_lines_failed: Vec<String> =
        items.iter().filter(|i| i.section == SectionKind::RedLine && i.lost).map(|i| i.item.clone()).collect();
    let score = if red_lines_failed.is_empty() { (base + bonus - deduction).clamp(0.0, ceiling) } else { 0.0 };
    Scored {
        score: round2(score),
        base: round2(base),
        bonus: round2(bonus),
        deduction: round2(deduction),
        red_lines_failed,
        items,
    }
}

/// An assessment cycle: a calendar month (`2026-11`) or quarter (`2026-Q4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cycle {
    Month { year: i32, month: u32 },
    Quarter { year: i32, quarter: u32 },
}

impl Cycle {
    pub fn parse(raw: &str, field: &str) -> Result<Cycle, FieldError> {
        let folded = crate::validate::fold_width(raw.trim()).to_ascii_uppercase();
        let bad = || {
            FieldError::new(
                field,
                format!("'{raw}' is not a month (2026-11) or a quarter (2026-Q4)"),
                format!("“{raw}”不是有效的月份（如 2026-11）或季度（如 2026-Q4）"),
            )
        };
        let (y, rest) = folded.split_once('-').ok_or_else(bad)?;
        let year: i32 = y.parse().ok().filter(|y| (2000..=2100).contains(y)).ok_or_else(bad)?;
        if let Some(q) = rest.strip_prefix('Q') {
            let quarter: u32 = q.parse().ok().filter(|q| (1..=4).contains(q)).ok_or_else(bad)?;
            return Ok(Cycle::Quarter { year, quarter });
        }
        let month: u32 = rest.parse().ok().filter(|m| (1..=12).contains(m)).ok_or_else(bad)?;
        Ok(Cycle::Month { year, month })
    }

    /// The calendar month a day falls in.
    pub fn month_of(day: NaiveDate) -> Cycle {
        Cycle::Month { year: day.year(), month: day.month() }
    }

    /// The first and last day (both inclusive).
    pub fn days(self) -> (NaiveDate, NaiveDate) {
        let (year, first, months) = match self {
            Cycle::Month { year, month } => (year, month, 1),
            Cycle::Quarter { year, quarter } => (year, quarter * 3 - 2, 3),
        };
        let from = NaiveDate::from_ymd_opt(year, first, 1).expect("a valid month");
        let after = from.checked_add_months(chrono::Months::new(months)).expect("in range");
        (from, after.pred_opt().expect("in range"))
    }

    /// The cycle a day falls in, at the same length as `self`.
    pub fn containing(self, day: NaiveDate) -> Cycle {
        match self {
            Cycle::Month { .. } => Cycle::month_of(day),
            Cycle::Quarter { .. } => Cycle::Quarter { year: day.year(), quarter: day.month0() / 3 + 1 },
        }
    }

    /// Whether every day of `inner` lies in `self`.
    pub fn covers(self, inner: Cycle) -> bool {
        let ((a, b), (c, d)) = (self.days(), inner.days());
        a <= c && d <= b
    }
}

impl std::fmt::Display for Cycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cycle::Month { year, month } => write!(f, "{year}-{month:02}"),
            Cycle::Quarter { year, quarter } => write!(f, "{year}-Q{quarter}"),
        }
    }
}

#[cfg(test)]
#[path = "quality_tests.rs"]
mod tests;
