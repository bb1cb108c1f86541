//! Chinese search regression set: what a person expects the search box and
//! the bot's matching to find, over the shipped knowledge base (the 60
//! articles of `seed/kb`) and a few ticket-like texts.

use kefu_search::{Doc, Hit, Lexicon, Mode, SearchIndex};
use std::path::PathBuf;

fn kb_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../seed/kb")
}

/// An article as a document: title, similar questions and tags as `extra`.
fn article(path: &std::path::Path) -> Doc {
    let text = std::fs::read_to_string(path).unwrap();
    let rest = text.strip_prefix("+++\n").unwrap();
    let (front, body) = rest.split_once("\n+++\n").unwrap();
    let meta: toml::Table = toml::from_str(front).unwrap();
    let list = |k: &str| {
        meta.get(k)
            .and_then(|v| v.as_array())
            .map_or(String::new(), |a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("\n"))
    };
    Doc {
        key: meta["code"].as_str().unwrap().to_string(),
        title: meta["title"].as_str().unwrap().to_string(),
        body: body.to_string(),
        extra: format!("{}\n{}", list("similar"), list("tags")),
    }
}

fn tickets() -> Vec<Doc> {
    let t = |key: &str, title: &str, body: &str| Doc {
        key: key.into(),
        title: title.into(),
        body: body.into(),
        extra: String::new(),
    };
    vec![
        t("T1", "宽带故障", "客户反映光猫LOS灯红色闪烁，宽带无法上网"),
        t("T2", "退订视频彩铃", "客户要求退订视频彩铃业务，称未主动订购"),
        t("T3", "退订流量包", "客户要求退订流量加油包"),
        t("T4", "咨询5G套餐", "客户咨询5G套餐资费，联系电话13812345678，身份证11010519491231002X"),
        t("T5", "手机信号差", "小区室内手机信号弱，经常无服务"),
    ]
}

fn index() -> SearchIndex {
    let idx = SearchIndex::open(None, Lexicon::shipped()).unwrap();
    let mut docs: Vec<Doc> = std::fs::read_dir(kb_dir()).unwrap().map(|e| article(&e.unwrap().path())).collect();
    docs.extend(tickets());
    idx.put(&docs).unwrap();
    idx
}

fn keys(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.key.as_str()).collect()
}

fn find(idx: &SearchIndex, q: &str) -> Vec<Hit> {
    idx.search(q, Mode::AllWords, 20).unwrap()
}

#[test]
fn the_knowledge_base_is_all_there() {
    assert_eq!(index().len(), 65);
}

#[test]
fn one_character_finds_the_words_it_is_part_of() {
    let idx = index();
    let hits = find(&idx, "故");
    assert!(keys(&hits).contains(&"T1"), "{:?}", keys(&hits));
}

#[test]
fn every_word_typed_must_match() {
    let idx = index();
    let hits = find(&idx, "退订 视频");
    let tickets: Vec<&str> = keys(&hits).into_iter().filter(|k| k.starts_with('T')).collect();
    assert_eq!(tickets, ["T2"], "{:?}", keys(&hits));
    assert!(!keys(&find(&idx, "退订 流量")).contains(&"T2"));
}

#[test]
fn telecom_words_rank_their_article_first() {
    let idx = index();
    for (q, want) in [
        ("携号转网", "KB-020"),
        ("停机保号", "KB-018"),
        ("光猫LOS灯", "KB-002"),
        ("副卡", "KB-014"),
        ("违约金", "KB-015"),
        ("国际漫游", "KB-052"),
    ] {
        let hits = find(&idx, q);
        assert_eq!(hits.first().map(|h| h.key.as_str()), Some(want), "{q}: {:?}", keys(&hits));
    }
}

#[test]
fn synonyms_find_the_other_words_for_it() {
    let idx = index();
    // Nobody wrote 网断了; the article says 无法上网 and the ticket 宽带无法上网.
    let hits = find(&idx, "网断了");
    assert!(keys(&hits).contains(&"T1"), "{:?}", keys(&hits));
    assert!(keys(&hits).contains(&"KB-001"), "{:?}", keys(&hits));
    let hits = find(&idx, "带号转网");
    assert_eq!(hits.first().map(|h| h.key.as_str()), Some("KB-020"), "{:?}", keys(&hits));
}

#[test]
fn full_width_case_and_number_fragments() {
    let idx = index();
    assert!(keys(&find(&idx, "ＬＯＳ")).contains(&"T1"));
    assert!(keys(&find(&idx, "los")).contains(&"KB-002"));
    assert!(keys(&find(&idx, "5g")).contains(&"T4"));
    assert_eq!(find(&idx, "kb-001").first().map(|h| h.key.as_str()), Some("KB-001"), "a code finds its article");
}

#[test]
fn personal_data_is_not_searchable() {
    let idx = index();
    for q in ["13812345678", "1381234", "11010519491231002X", "5678"] {
        assert!(!keys(&find(&idx, q)).contains(&"T4"), "{q} must not find the ticket holding it");
    }
    let hits = find(&idx, "5G套餐");
    let t4 = hits.iter().find(|h| h.key == "T4").expect("the words around it are");
    assert!(!t4.snippet.contains("13812345678"), "{}", t4.snippet);
}

#[test]
fn snippets_show_and_mark_the_match() {
    let idx = index();
    let hits = find(&idx, "视频彩铃");
    let t2 = hits.iter().find(|h| h.key == "T2").unwrap();
    assert!(!t2.highlights.is_empty());
    let (a, b) = t2.highlights[0];
    assert_eq!(&t2.snippet[a..b], "视频彩铃");
}

#[test]
fn a_sentence_finds_the_article_that_answers_it() {
    let idx = index();
    for (q, want) in [
        ("我家宽带从昨天开始就上不了网了", "KB-001"),
        ("我想把号码转到别的运营商去", "KB-020"),
        ("手机丢了怎么办", "KB-056"),
        ("怎么查话费还剩多少", "KB-024"),
    ] {
        let hits = idx.search(q, Mode::Similar, 5).unwrap();
        assert!(keys(&hits).contains(&want), "{q}: {:?}", keys(&hits));
    }
}

#[test]
fn an_index_on_disk_is_found_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let idx = SearchIndex::open(Some(dir.path()), Lexicon::shipped()).unwrap();
        idx.put(&tickets()).unwrap();
        idx.delete(&["T5".to_string()]).unwrap();
    }
    let again = SearchIndex::open(Some(dir.path()), Lexicon::shipped()).unwrap();
    assert_eq!(again.len(), 4);
    assert!(keys(&again.search("视频彩铃", Mode::AllWords, 5).unwrap()).contains(&"T2"));
    // Where a change feed stood is committed with the documents.
    again.apply(&[], &["T4".to_string()], Some("rev:7")).unwrap();
    drop(again);
    let again = SearchIndex::open(Some(dir.path()), Lexicon::shipped()).unwrap();
    assert_eq!((again.len(), again.mark().unwrap().as_deref()), (3, Some("rev:7")));
    // A document put again replaces the old one.
    again.put(&[Doc { key: "T2".into(), title: "改了".into(), ..Default::default() }]).unwrap();
    assert_eq!(again.len(), 3);
    assert!(!keys(&again.search("视频彩铃", Mode::AllWords, 5).unwrap()).contains(&"T2"));
}

/// Ranking one word as a flat disjunction (block-max WAND) finds the same
/// documents in the same order, with the same scores, as the general query,
/// and counts what matches up to the cap.
#[test]
fn a_flat_ranking_agrees_with_the_general_query() {
    let index = SearchIndex::open(None, Lexicon::shipped()).unwrap();
    let docs: Vec<Doc> = (0..300u64)
        .map(|i| Doc {
            key: i.to_string(),
            title: ["宽带故障", "光猫红灯", "退订彩铃", "话费多扣"][i as usize % 4].repeat(1 + i as usize % 3),
            body: format!(
                "第{i}号 {}",
                ["家里宽带上不了网", "故障报修", "携号转网", "副卡办理", "网断了"][i as usize % 5]
            ),
            extra: String::new(),
        })
        .collect();
    index.put(&docs).unwrap();
    for q in ["宽带", "故", "光猫", "携号转网", "副卡"] {
        let general = index.search(q, Mode::AllWords, 1000).unwrap();
        let (flat, total) = index.rank_counted(q, Mode::AllWords, 10, 1000).unwrap();
        assert_eq!(total, general.len(), "{q}");
        for ((k, s), h) in flat.iter().zip(&general) {
            assert!((s - h.score).abs() < 1e-3 * h.score.max(1.0), "{q}: {k} {s} vs {} {}", h.key, h.score);
        }
        // Ties may order differently: compare the scores' sequence, then the set at a clear cut.
        assert_eq!(flat.len(), general.len().min(10), "{q}");
        let (_, capped) = index.rank_counted(q, Mode::AllWords, 10, 20).unwrap();
        assert_eq!(capped, general.len().min(20), "{q}: counted up to the cap");
    }
}
