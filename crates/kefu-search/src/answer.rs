//! Which knowledge base article answers a customer's question, and how
//! sure that is. The search index ranks articles by BM25, a score
//! with no scale; a first line must also know when *no* article answers
//! ("今天天气怎么样", a narrative about a broken bill), so this matcher
//! compares the question with each article's questions (title and similar
//! questions) word by word:
//!
//! - both texts are normalised and synonyms folded to one member of their
//!   group (上不了网 = 网断了), then cut into words, function words dropped;
//! - each word weighs its rarity across the articles (idf): 宽带 says less
//!   than 光猫, a word no article uses weighs as much as the rarest;
//! - for each stored question, `covered` is the share of its weight the
//!   customer's text contains, `explained` the share of the customer's
//!   weight the question contains; the similarity is their weighted
//!   geometric mean, leaning on `covered` (a customer tells a story around
//!   the question; the stored question is short);
//! - the article's body adds weaker evidence for words its questions lack.
//!
//! The confidence is in 0..=1; the caller's policy says what is enough.

use crate::lexicon::{Lexicon, normalize};
use std::collections::{HashMap, HashSet};

/// An article as the matcher reads it.
pub struct Entry {
    pub key: String,
    /// Title first, then the similar questions.
    pub questions: Vec<String>,
    pub body: String,
}

/// An article that may answer, with how sure the matcher is.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub key: String,
    pub confidence: f32,
    /// The stored question it matched best.
    pub question: String,
}

struct Item {
    key: String,
    questions: Vec<(String, Vec<String>)>,
    body: HashSet<String>,
}

pub struct Matcher {
    lexicon: Lexicon,
    items: Vec<Item>,
    idf: HashMap<String, f32>,
    /// The weight of a word no article uses.
    unknown: f32,
}

/// Words that carry no meaning of their own in a question.
const FUNCTION_WORDS: &[&str] = &[
    "的",
    "了",
    "吗",
    "呢",
    "啊",
    "吧",
    "呀",
    "哦",
    "嘛",
    "么",
    "我",
    "你",
    "您",
    "我们",
    "你们",
    "他",
    "她",
    "它",
    "是",
    "在",
    "有",
    "要",
    "想",
    "能",
    "会",
    "可以",
    "可",
    "怎么",
    "怎么办",
    "怎么样",
    "怎样",
    "如何",
    "什么",
    "为什么",
    "哪",
    "哪里",
    "哪些",
    "请问",
    "一下",
    "这个",
    "那个",
    "就",
    "都",
    "也",
    "还",
    "和",
    "与",
    "或",
    "及",
    "把",
    "被",
    "给",
    "让",
    "请",
    "帮",
    "帮忙",
    "下",
    "个",
    "一个",
    "该",
    "应该",
    "需要",
    "得",
    "地",
    "着",
    "过",
    "现在",
    "这样",
    "那么",
    "是不是",
    "有没有",
    "能不能",
    "可不可以",
    "一直",
    "总是",
    "老是",
    "突然",
    "已经",
    "您好",
    "你好",
    "谢谢",
    "麻烦",
    "哪个",
    "好",
    "一些",
    "这些",
    "那些",
    "时候",
];

impl Matcher {
    pub fn new(lexicon: &Lexicon, entries: &[Entry]) -> Matcher {
        let items: Vec<Item> = entries
            .iter()
            .map(|e| Item {
                key: e.key.clone(),
                questions: e.questions.iter().map(|q| (q.clone(), terms(lexicon, q))).collect(),
                body: terms(lexicon, &e.body).into_iter().collect(),
            })
            .collect();
        let mut df: HashMap<String, f32> = HashMap::new();
        for item in &items {
            let mut seen: HashSet<&str> = item.body.iter().map(String::as_str).collect();
            seen.extend(item.questions.iter().flat_map(|(_, t)| t.iter().map(String::as_str)));
            for t in seen {
                *df.entry(t.to_string()).or_default() += 1.0;
            }
        }
        let n = items.len().max(1) as f32;
        let idf_of = |d: f32| (1.0 + n / d).ln();
        let idf = df.into_iter().map(|(t, d)| (t, idf_of(d))).collect();
        Matcher { lexicon: lexicon.clone(), items, idf, unknown: idf_of(1.0) }
    }

    /// The best `limit` articles for `text`, most confident first (none
    /// with confidence 0).
    pub fn best(&self, text: &str, limit: usize) -> Vec<Answer> {
        let asked = terms(&self.lexicon, text);
        if asked.is_empty() {
            return Vec::new();
        }
        let asked_weight: f32 = asked.iter().map(|t| self.weight(t)).sum();
        let asked_set: HashSet<&str> = asked.iter().map(String::as_str).collect();
        let mut out: Vec<Answer> = self
            .items
            .iter()
            .filter_map(|item| self.score(item, &asked, &asked_set, asked_weight))
            .filter(|a| a.confidence > 0.0)
            .collect();
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then_with(|| a.key.cmp(&b.key)));
        out.truncate(limit);
        out
    }

    /// The words of `text` as the matcher compares them (for the editors'
    /// queue: what a missed question was about), rarest first.
    pub fn keywords(&self, text: &str) -> Vec<String> {
        // Search mode: a long word and its parts (今天天气 → 今天, 天气), so
        // two wordings share the part they have in common.
        let canon = self.lexicon.canonical(&normalize(text));
        let mut t = meaningful(self.lexicon.words(&canon));
        t.sort_by(|a, b| self.weight(b).total_cmp(&self.weight(a)).then_with(|| a.cmp(b)));
        t
    }

    fn weight(&self, term: &str) -> f32 {
        // Numbers (a phone number, an amount) are not what a question is about.
        if term.chars().all(|c| c.is_ascii_digit()) {
            return 0.0;
        }
        self.idf.get(term).copied().unwrap_or(self.unknown)
    }

    fn score(&self, item: &Item, asked: &[String], asked_set: &HashSet<&str>, asked_weight: f32) -> Option<Answer> {
        if asked_weight <= 0.0 {
            return None;
        }
        let mut best: Option<(f32, &str)> = None;
        for (question, words) in &item.questions {
            let own: f32 = words.iter().map(|t| self.weight(t)).sum();
            if own <= 0.0 {
                continue;
            }
            let shared: f32 = words.iter().filter(|t| asked_set.contains(t.as_str())).map(|t| self.weight(t)).sum();
            let (covered, explained) = (shared / own, shared / asked_weight);
            let sim = covered.powf(0.65) * explained.powf(0.35);
            if best.is_none_or(|(b, _)| sim > b) {
                best = Some((sim, question));
            }
        }
        let (sim, question) = best?;
        let in_body: f32 = asked.iter().filter(|t| item.body.contains(t.as_str())).map(|t| self.weight(t)).sum();
        let body = in_body / asked_weight;
        // The body confirms a question match, and alone answers weakly.
        let confidence = (sim + 0.25 * body * (1.0 - sim)).max(0.55 * body * body).min(1.0);
        Some(Answer { key: item.key.clone(), confidence, question: question.to_string() })
    }
}

/// The distinct meaningful words of a text, synonyms folded.
fn terms(lexicon: &Lexicon, text: &str) -> Vec<String> {
    let canon = lexicon.canonical(&normalize(text));
    meaningful(lexicon.cut(&canon))
}

/// The words without function words, each once, in their order.
fn meaningful(words: Vec<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words {
        if !FUNCTION_WORDS.contains(&w) && !out.iter().any(|o| o == w) {
            out.push(w.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher() -> Matcher {
        let entries = [
            ("KB-001", vec!["宽带无法上网怎么办", "家里宽带突然上不了网"], "查看光猫指示灯，重启光猫和路由器。"),
            ("KB-002", vec!["光猫LOS灯亮红灯是什么意思", "光猫红灯闪烁"], "LOS灯红色表示光信号中断。"),
            ("KB-020", vec!["携号转网办理条件", "换运营商能保留号码吗"], "在网满120天，无欠费，可办理携号转网。"),
        ];
        let entries: Vec<Entry> = entries
            .into_iter()
            .map(|(k, q, b)| Entry {
                key: k.into(),
                questions: q.into_iter().map(String::from).collect(),
                body: b.into(),
            })
            .collect();
        Matcher::new(&Lexicon::shipped(), &entries)
    }

    #[test]
    fn other_words_of_the_same_question_match_surely() {
        let m = matcher();
        let a = m.best("我家网断了", 3);
        assert_eq!(a[0].key, "KB-001", "{a:?}");
        assert!(a[0].confidence >= 0.5, "{a:?}");
        let a = m.best("光猫上面有个红灯一直在闪", 3);
        assert_eq!(a[0].key, "KB-002", "{a:?}");
        assert!(a[0].confidence >= 0.5, "{a:?}");
    }

    #[test]
    fn a_question_no_article_is_about_matches_nothing_surely() {
        let m = matcher();
        assert!(m.best("今天天气怎么样", 3).iter().all(|a| a.confidence < 0.2), "{:?}", m.best("今天天气怎么样", 3));
        assert!(m.best("！！！", 3).is_empty());
        assert!(m.best("", 3).is_empty());
    }

    #[test]
    fn numbers_do_not_dilute_a_question() {
        let m = matcher();
        let plain = m.best("宽带上不了网", 1)[0].confidence;
        let with_number = m.best("宽带上不了网 13812345678", 1)[0].confidence;
        assert!((plain - with_number).abs() < 1e-6, "{plain} {with_number}");
    }

    #[test]
    fn keywords_put_rare_words_first() {
        let m = matcher();
        let k = m.keywords("光猫的携号转网");
        assert_eq!(k.first().map(String::as_str), Some("携号转网"), "{k:?}");
    }
}
