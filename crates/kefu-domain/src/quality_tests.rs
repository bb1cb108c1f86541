//! The scoring rules, exhaustively: N/A, red lines, bonus and deduction
//! caps, completeness, reasons, ranges, version pinning by value.

use super::*;
use crate::policy::Policy;

fn card() -> Scorecard {
    toml::from_str(
        r#"
key = "t"
name_zh = "测试表"
name_en = "Test"
usage = "review"
[[sections]]
key = "s"
name_zh = "标准"
name_en = "Standard"
kind = "standard"
items = [
  { key = "a", name_zh = "甲", name_en = "A", points = 40 },
  { key = "b", name_zh = "乙", name_en = "B", points = 40, na = true },
  { key = "c", name_zh = "丙", name_en = "C", points = 20, reason_required = true, root_causes = ["知识不足", "态度"] },
]
[[sections]]
key = "plus"
name_zh = "加分"
name_en = "Bonus"
kind = "bonus"
cap = 5
items = [
  { key = "p1", name_zh = "加1", name_en = "P1", points = 4 },
  { key = "p2", name_zh = "加2", name_en = "P2", points = 3 },
]
[[sections]]
key = "minus"
name_zh = "扣分"
name_en = "Deduction"
kind = "deduction"
cap = 10
items = [
  { key = "d1", name_zh = "扣1", name_en = "D1", points = 8, reason_required = true },
  { key = "d2", name_zh = "扣2", name_en = "D2", points = 8 },
]
[[sections]]
key = "red"
name_zh = "致命"
name_en = "Red line"
kind = "red_line"
items = [
  { key = "r", name_zh = "泄露信息", name_en = "Leak", points = 1, na = true },
]
"#,
    )
    .unwrap()
}

fn pts(item: &str, p: f64) -> Rating {
    Rating { item: item.into(), answer: Answer::Points(p), reason: None, root_cause: None }
}

fn na(item: &str) -> Rating {
    Rating { item: item.into(), answer: Answer::Na, reason: None, root_cause: None }
}

fn why(mut r: Rating, reason: &str) -> Rating {
    r.reason = Some(reason.into());
    r
}

fn full() -> Vec<Rating> {
    vec![pts("a", 40.0), pts("b", 40.0), pts("c", 20.0), pts("r", 1.0)]
}

fn scored(r: &[Rating]) -> Scored {
    score(&card(), r, 100.0).unwrap()
}

fn refused(r: &[Rating]) -> FieldError {
    score(&card(), r, 100.0).unwrap_err()
}

#[test]
fn full_marks_and_weighted_mean() {
    assert_eq!(scored(&full()).score, 100.0);
    let mut r = full();
    r[0] = pts("a", 30.0);
    assert_eq!(scored(&r).score, 90.0, "points are the weights: 90 of 100");
    r[2] = why(pts("c", 5.0), "答复有误");
    assert_eq!(scored(&r).score, 75.0);
    assert!(scored(&r).items.iter().find(|i| i.item == "c").unwrap().lost);
}

#[test]
fn na_items_drop_out_of_the_mean() {
    let mut r = full();
    r[1] = na("b");
    r[0] = pts("a", 30.0);
    // 30 + 20 of 60 rated points.
    let s = scored(&r);
    assert_eq!(s.score, 83.33);
    assert_eq!(s.items.iter().find(|i| i.item == "b").unwrap().points, None);
    // An item that does not allow N/A refuses it.
    let e = refused(&[na("a"), pts("b", 40.0), pts("c", 20.0), pts("r", 1.0)]);
    assert_eq!(e.field, "items[0].points");
}

#[test]
fn every_standard_item_na_scores_the_ceiling() {
    let c: Scorecard = toml::from_str(
        r#"key = "n"
name_zh = "全不适用"
name_en = "All N/A"
usage = "store"
[[sections]]
key = "s"
name_zh = "标准"
name_en = "S"
kind = "standard"
items = [{ key = "x", name_zh = "甲", name_en = "X", points = 10, na = true }]"#,
    )
    .unwrap();
    assert_eq!(score(&c, &[na("x")], 100.0).unwrap().score, 100.0);
}

#[test]
fn a_failed_red_line_makes_the_review_zero() {
    let mut r = full();
    r[3] = why(pts("r", 0.0), "电话中报出客户身份证号");
    r.push(pts("p1", 4.0));
    let s = scored(&r);
    assert_eq!(s.score, 0.0);
    assert_eq!(s.red_lines_failed, vec!["r".to_string()]);
    assert_eq!(s.base, 100.0, "the parts are kept for the record");
    // A red line fails with a reason, always.
    r[3] = pts("r", 0.0);
    assert_eq!(refused(&r).field, "items[3].reason");
    // Pass or fail only.
    r[3] = pts("r", 0.5);
    assert_eq!(refused(&r).field, "items[3].points");
    // N/A where allowed: passes.
    r[3] = na("r");
    assert_eq!(scored(&r).score, 100.0);
}

#[test]
fn bonus_is_capped_per_section_and_the_score_at_the_ceiling() {
    let mut r = full();
    r[0] = pts("a", 30.0);
    r.push(pts("p1", 4.0));
    r.push(pts("p2", 3.0));
    let s = scored(&r);
    assert_eq!(s.bonus, 5.0, "4 + 3 capped at 5");
    assert_eq!(s.score, 95.0);
    let mut r = full();
    r.push(pts("p1", 4.0));
    assert_eq!(scored(&r).score, 100.0, "never above the ceiling");
}

#[test]
fn deductions_take_points_capped_and_need_their_reasons() {
    let mut r = full();
    r.push(pts("d2", 8.0));
    assert_eq!(scored(&r).score, 92.0);
    r.push(why(pts("d1", -8.0), "投诉查实"));
    let s = scored(&r);
    assert_eq!(s.deduction, 10.0, "8 + 8 capped at 10; −8 means 8 taken");
    assert_eq!(s.score, 90.0);
    r.pop();
    r.push(pts("d1", 3.0));
    assert_eq!(refused(&r).field, "items[5].reason");
    // Never below zero.
    let mut low = vec![pts("a", 0.0), pts("b", 0.0), why(pts("c", 0.0), "错"), pts("r", 1.0)];
    low.push(pts("d2", 8.0));
    assert_eq!(scored(&low).score, 0.0);
}

#[test]
fn a_review_is_complete_and_rates_each_item_once() {
    let e = refused(&[pts("a", 40.0), pts("b", 40.0), pts("r", 1.0)]);
    assert_eq!(e.field, "items");
    assert!(e.message.contains("'c'"));
    let e = refused(&[pts("a", 40.0), pts("b", 40.0), pts("c", 20.0)]);
    assert!(e.message.contains("'r'"), "red lines are answered too");
    let mut r = full();
    r.push(pts("a", 40.0));
    assert_eq!(refused(&r).field, "items[4].item");
    let mut r = full();
    r.push(pts("zz", 1.0));
    assert_eq!(refused(&r).field, "items[4].item");
    // Bonus and deduction items may be left out.
    assert_eq!(scored(&full()).bonus, 0.0);
}

#[test]
fn points_in_range_and_in_hundredths() {
    for bad in [-1.0, 40.5, f64::NAN, f64::INFINITY, 12.345] {
        let mut r = full();
        r[0] = pts("a", bad);
        assert_eq!(refused(&r).field, "items[0].points", "{bad}");
    }
    let mut r = full();
    r[0] = pts("a", 39.5);
    assert_eq!(scored(&r).score, 99.5);
}

#[test]
fn reasons_and_root_causes() {
    let mut r = full();
    r[2] = pts("c", 10.0);
    assert_eq!(refused(&r).field, "items[2].reason", "lost points need a reason here");
    r[2] = why(pts("c", 10.0), "   ");
    assert_eq!(refused(&r).field, "items[2].reason", "blank is no reason");
    r[2] = Rating { root_cause: Some("态度".into()), ..why(pts("c", 10.0), "语气生硬") };
    assert_eq!(scored(&r).items[2].root_cause.as_deref(), Some("态度"));
    r[2].root_cause = Some("别的".into());
    assert_eq!(refused(&r).field, "items[2].root_cause");
    r[2] = why(pts("c", 10.0), &"长".repeat(REASON_MAX + 1));
    assert_eq!(refused(&r).field, "items[2].reason");
    // An item without reason_required loses points silently.
    let mut r = full();
    r[0] = pts("a", 0.0);
    assert_eq!(scored(&r).score, 60.0);
}

#[test]
fn a_kept_version_scores_the_same_after_the_card_changes() {
    let v1 = card();
    let mut v2 = card();
    v2.sections[0].items[0].points = 80.0;
    let r = vec![pts("a", 20.0), pts("b", 40.0), pts("c", 20.0), pts("r", 1.0)];
    assert_eq!(score(&v1, &r, 100.0).unwrap().score, 80.0);
    assert_eq!(score(&v2, &r, 100.0).unwrap().score, 57.14);
}

#[test]
fn shipped_cards_are_valid_and_standard_items_sum_to_100() {
    let cards = Scorecard::shipped();
    assert_eq!(cards.len(), 3);
    for c in &cards {
        c.check().unwrap_or_else(|e| panic!("{}: {e:?}", c.key));
        assert_eq!(c.standard_points(), 100.0, "{}", c.key);
        let answers: Vec<Rating> = c
            .items()
            .filter(|(s, _)| matches!(s.kind, SectionKind::Standard | SectionKind::RedLine))
            .map(|(_, i)| pts(&i.key, i.points))
            .collect();
        assert_eq!(score(c, &answers, 100.0).unwrap().score, 100.0);
    }
    assert!(cards.iter().any(|c| c.usage == Usage::Review));
    assert!(cards.iter().any(|c| c.usage == Usage::Store));
    assert!(cards.iter().any(|c| c.usage == Usage::Mystery));
}

#[test]
fn a_written_card_is_checked() {
    let mut c = card();
    c.sections[0].items[1].key = "a".into();
    assert_eq!(c.check().unwrap_err().field, "sections[0].items[1]");
    let mut c = card();
    c.sections[0].items[0].points = 0.0;
    assert_eq!(c.check().unwrap_err().field, "sections[0].items[0].points");
    let mut c = card();
    c.key = "Bad Key".into();
    assert_eq!(c.check().unwrap_err().field, "key");
    let mut c = card();
    c.sections.retain(|s| s.kind != SectionKind::Standard);
    assert_eq!(c.check().unwrap_err().field, "sections");
    let mut c = card();
    c.sections[1].cap = Some(-1.0);
    assert_eq!(c.check().unwrap_err().field, "sections[1].cap");
}

#[test]
fn cycles() {
    let m = Cycle::parse("2026-11", "period").unwrap();
    assert_eq!(m.to_string(), "2026-11");
    assert_eq!(
        m.days(),
        (NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap())
    );
    let q = Cycle::parse("２０２６-q4", "period").unwrap();
    assert_eq!(q.to_string(), "2026-Q4");
    assert_eq!(q.days().1, NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
    assert!(q.covers(m));
    assert!(!m.covers(q));
    assert_eq!(q.containing(NaiveDate::from_ymd_opt(2027, 2, 3).unwrap()).to_string(), "2027-Q1");
    assert_eq!(Cycle::parse("2024-02", "p").unwrap().days().1, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
    for bad in ["2026", "2026-13", "2026-Q5", "2026-00", "abc", "", "2026-1-1", "99999-01"] {
        assert_eq!(Cycle::parse(bad, "period").unwrap_err().field, "period", "{bad}");
    }
}

#[test]
fn the_shipped_policy_carries_the_quality_defaults() {
    let q = Policy::defaults().quality;
    assert_eq!(q, QualityPolicy::default());
}

#[test]
fn a_card_round_trips_through_its_toml() {
    for c in Scorecard::shipped() {
        assert_eq!(Scorecard::from_toml(&c.to_toml()).unwrap(), c, "{}", c.key);
    }
    let e = Scorecard::from_toml("key = \"x\"\nname_zh = 3\n").unwrap_err();
    assert_eq!(e.field, "card");
    assert!(e.message_zh.starts_with("第 2 行"), "{e:?}");
    let mut c = card();
    c.sections[0].items[0].points = -1.0;
    assert_eq!(Scorecard::from_toml(&c.to_toml()).unwrap_err().field, "sections[0].items[0].points");
}
