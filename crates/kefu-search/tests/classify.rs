//! Suggestion accuracy on a held-out split of the operator's history
//! (`seed/training/tickets.jsonl`, 700 labelled tickets): every fifth
//! ticket is held out, the rest train. The floors are set just under what
//! the model measures, so a change that makes suggestions worse fails.

use kefu_search::{Example, Lexicon, NaiveBayes};
use std::path::PathBuf;

struct Row {
    text: String,
    ticket_type: String,
    priority: String,
    level: String,
    channel: String,
}

fn rows() -> Vec<Row> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../seed/training/tickets.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
            Row {
                text: format!("{} {}", s("title"), s("description")),
                ticket_type: s("type"),
                priority: s("priority"),
                level: s("customer_level"),
                channel: s("channel"),
            }
        })
        .collect()
}

fn split() -> (Vec<Row>, Vec<Row>) {
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, r) in rows().into_iter().enumerate() {
        if i % 5 == 4 { test.push(r) } else { train.push(r) }
    }
    (train, test)
}

fn accuracy(
    model: &NaiveBayes,
    lx: &Lexicon,
    test: &[Row],
    extra: impl Fn(&Row) -> Vec<String>,
    label: impl Fn(&Row) -> &str,
) -> (f64, f64) {
    let (mut top1, mut top3) = (0, 0);
    for r in test {
        let p = model.predict(lx, &r.text, &extra(r));
        if p.first().is_some_and(|(l, _)| l == label(r)) {
            top1 += 1;
        }
        if p.iter().take(3).any(|(l, _)| l == label(r)) {
            top3 += 1;
        }
    }
    (top1 as f64 / test.len() as f64, top3 as f64 / test.len() as f64)
}

#[test]
fn the_type_is_learnt_from_the_operators_tickets() {
    let lx = Lexicon::shipped();
    let (train, test) = split();
    let ex: Vec<Example> = train.iter().map(|r| Example { text: &r.text, extra: &[], label: &r.ticket_type }).collect();
    let model = NaiveBayes::train(&lx, &ex);
    let (top1, top3) = accuracy(&model, &lx, &test, |_| Vec::new(), |r| &r.ticket_type);
    println!("type: top-1 {:.1}% top-3 {:.1}% on {} held out", top1 * 100.0, top3 * 100.0, test.len());
    assert!(top1 >= 0.87, "type top-1 {top1:.3}");
    assert!(top3 >= 0.98, "type top-3 {top3:.3}");
}

#[test]
fn the_priority_is_learnt_with_type_and_customer_level() {
    let lx = Lexicon::shipped();
    let (train, test) = split();
    let extra = |r: &Row| {
        vec![format!("type:{}", r.ticket_type), format!("level:{}", r.level), format!("channel:{}", r.channel)]
    };
    let extras: Vec<Vec<String>> = train.iter().map(extra).collect();
    let ex: Vec<Example> =
        train.iter().zip(&extras).map(|(r, x)| Example { text: &r.text, extra: x, label: &r.priority }).collect();
    let model = NaiveBayes::train(&lx, &ex);
    let (top1, _) = accuracy(&model, &lx, &test, extra, |r| &r.priority);
    println!("priority: top-1 {:.1}% on {} held out", top1 * 100.0, test.len());
    assert!(top1 >= 0.77, "priority top-1 {top1:.3}");
}
