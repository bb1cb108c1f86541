//! What the search knows of the language: jieba with the telecom words
//! added, the synonym groups, and the normalisation both the index and the
//! query apply (full-width forms to ASCII, ASCII to lower case), so that
//! `ＬＯＳ灯`, `los灯` and `LOS灯` are one word.

use serde::Deserialize;
use std::collections::HashSet;
use std::sync::Arc;

const SHIPPED: &str = include_str!("../lexicon/telecom.toml");

/// Entries of a lexicon file (the shipped one, or an administrator's).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Entries {
    #[serde(default)]
    pub words: Vec<String>,
    #[serde(default)]
    pub synonyms: Vec<Vec<String>>,
}

impl Entries {
    pub fn shipped() -> Entries {
        toml::from_str(SHIPPED).expect("the shipped lexicon is valid TOML")
    }
}

/// The segmenter and the synonym groups, shared by every index and query.
#[derive(Clone)]
pub struct Lexicon {
    jieba: Arc<jieba_rs::Jieba>,
    groups: Arc<Vec<Vec<String>>>,
    terms: Arc<Terms>,
}

/// The lexicon's own words and synonym members (two characters or more),
/// which the index keeps as terms wherever they occur in a text, however
/// jieba cuts it there: a query naming one is then one term, and a word
/// of several such terms one flat disjunction that tantivy ranks with
/// block-max WAND instead of a phrase of common characters.
#[derive(Default)]
struct Terms {
    set: HashSet<String>,
    /// Characters a term starts with: most places of a text start none.
    first: HashSet<char>,
    longest: usize,
}

impl Terms {
    fn new<'a>(all: impl Iterator<Item = &'a String>) -> Terms {
        let mut t = Terms::default();
        for term in all {
            let n = term.chars().count();
            if n < 2 || !is_content(term) {
                continue;
            }
            t.longest = t.longest.max(n);
            t.first.extend(term.chars().next());
            t.set.insert(term.clone());
        }
        t
    }
}

impl Lexicon {
    /// The shipped entries and `extra` (an administrator's) on top.
    pub fn new(extra: &Entries) -> Lexicon {
        let shipped = Entries::shipped();
        let words: Vec<String> =
            shipped.words.iter().chain(&extra.words).map(|w| normalize(w.trim())).filter(|w| !w.is_empty()).collect();
        let mut jieba = jieba_rs::Jieba::new();
        for w in &words {
            // A high frequency keeps the word whole against the general dictionary.
            jieba.add_word(w, Some(50_000), None);
        }
        let groups: Vec<Vec<String>> = shipped
            .synonyms
            .iter()
            .chain(&extra.synonyms)
            .map(|g| {
                let mut g: Vec<String> = g.iter().map(|m| normalize(m.trim())).filter(|m| !m.is_empty()).collect();
                g.dedup();
                g
            })
            .filter(|g| g.len() > 1)
            .collect();
        let terms = Terms::new(words.iter().chain(groups.iter().flatten()));
        Lexicon { jieba: Arc::new(jieba), groups: Arc::new(groups), terms: Arc::new(terms) }
    }

    /// The shipped entries alone, loaded once per process (the dictionary
    /// takes a moment to load) and shared.
    pub fn shipped() -> Lexicon {
        static SHIPPED: std::sync::OnceLock<Lexicon> = std::sync::OnceLock::new();
        SHIPPED.get_or_init(|| Lexicon::new(&Entries::default())).clone()
    }

    /// Words of a normalised text, in search mode (a long word and its parts).
    pub fn words<'a>(&self, text: &'a str) -> Vec<&'a str> {
        self.jieba.cut_for_search(text, true).into_iter().map(|t| t.word).filter(|w| is_content(w)).collect()
    }

    /// Whether the index keeps `word` (normalised) as a term wherever it
    /// occurs (see `terms_in`).
    pub fn is_term(&self, word: &str) -> bool {
        self.terms.set.contains(word)
    }

    /// Every occurrence of a lexicon term in a normalised text, overlapping
    /// ones included, in order.
    pub fn terms_in<'a>(&self, text: &'a str) -> Vec<&'a str> {
        let t = &self.terms;
        let mut out = Vec::new();
        if t.set.is_empty() {
            return out;
        }
        for (i, c) in text.char_indices() {
            if !t.first.contains(&c) {
                continue;
            }
            let mut ends = text[i..].char_indices().skip(1).map(|(j, _)| i + j).chain([text.len()]);
            // Ends after the 2nd .. longest-th character.
            let _ = ends.next();
            for end in ends.take(t.longest - 1) {
                let piece = &text[i..end];
                if t.set.contains(piece) {
                    out.push(piece);
                }
            }
        }
        out
    }

    /// Words of a normalised text as jieba cuts it (no overlapping parts),
    /// content words only.
    pub fn cut<'a>(&self, text: &'a str) -> Vec<&'a str> {
        self.jieba.cut(text, true).into_iter().map(|t| t.word).filter(|w| is_content(w)).collect()
    }

    /// The text with each member of a synonym group replaced by the group's
    /// first member (the longest member found at a place wins), so that two
    /// wordings of one meaning compare as equal words.
    pub fn canonical(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'outer: while let Some(c) = rest.chars().next() {
            let mut best: Option<(&str, &str)> = None;
            for group in self.groups.iter() {
                for m in group.iter() {
                    if rest.starts_with(m.as_str()) && best.is_none_or(|(b, _)| m.len() > b.len()) {
                        best = Some((m.as_str(), group[0].as_str()));
                    }
                }
            }
            if let Some((found, head)) = best {
                out.push_str(head);
                // Keep a word boundary: the head must not fuse with what follows.
                out.push(' ');
                rest = &rest[found.len()..];
                continue 'outer;
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }

    /// The word and what the synonym groups make of it: for each group a
    /// member of which occurs in the word (the longest one), the word with
    /// that member replaced by each other member.
    pub fn expand(&self, word: &str) -> Vec<String> {
        let mut out = vec![word.to_string()];
        for group in self.groups.iter() {
            let Some(found) = group.iter().filter(|m| word.contains(m.as_str())).max_by_key(|m| m.chars().count())
            else {
                continue;
            };
            for other in group.iter().filter(|m| *m != found) {
                let alt = word.replacen(found.as_str(), other, 1);
                if !out.contains(&alt) {
                    out.push(alt);
                }
            }
        }
        out
    }
}

/// Full-width ASCII forms and the ideographic space to ASCII, ASCII
/// letters to lower case; every other character as it is (one char for
/// one char, so positions stay comparable).
pub fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A token worth indexing: it has a letter, digit or ideograph.
pub fn is_content(word: &str) -> bool {
    word.chars().any(|c| c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telecom_words_stay_whole() {
        let lx = Lexicon::shipped();
        let words = lx.words("我要办理携号转网，光猫LOS灯亮红灯");
        assert!(words.contains(&"携号转网"), "{words:?}");
        assert!(words.contains(&"光猫"), "{words:?}");
        assert!(!words.contains(&"，"), "punctuation is not a word: {words:?}");
    }

    #[test]
    fn synonyms_expand_the_part_of_a_word_they_name() {
        let lx = Lexicon::shipped();
        let alts = lx.expand("家里网断了");
        assert!(alts.contains(&"家里无法上网".to_string()), "{alts:?}");
        assert!(alts.contains(&"家里上不了网".to_string()), "{alts:?}");
        assert_eq!(lx.expand("资费标准"), vec!["资费标准".to_string()]);
    }

    #[test]
    fn administrators_add_words_and_groups() {
        let extra = Entries {
            words: vec!["畅享套餐".into()], synonyms: vec![vec!["畅享套餐".into(), "畅享".into()]]
        };
        let lx = Lexicon::new(&extra);
        assert!(lx.words("办理畅享套餐").contains(&"畅享套餐"));
        assert!(lx.expand("畅享").contains(&"畅享套餐".to_string()));
    }

    #[test]
    fn lexicon_terms_are_found_wherever_they_occur() {
        let lx = Lexicon::shipped();
        // jieba may cut 宽带网断了 as 宽带网/断了; the term 网断了 is there all the same.
        let found = lx.terms_in("家里宽带网断了，wifi也没网");
        for t in ["宽带", "网断了", "wifi", "没网"] {
            assert!(found.contains(&t), "{t}: {found:?}");
        }
        assert!(lx.terms_in("今天天气很好").is_empty());
        assert!(lx.terms_in("").is_empty());
        assert!(lx.is_term("网断了") && lx.is_term("携号转网") && !lx.is_term("网"));
    }

    #[test]
    fn full_width_and_case_are_one() {
        assert_eq!(normalize("ＬＯＳ灯　Wi-Fi"), "los灯 wi-fi");
    }
}
