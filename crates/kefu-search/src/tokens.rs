//! The two analyses of every text field. `words`: jieba in search mode
//! over the normalised text (ranking by words, a word's parts findable),
//! plus every lexicon term the text contains wherever jieba cut it.
//! `chars`: each ideograph alone and each run of ASCII letters and digits,
//! in order, so that any piece of a text — one character (`故` in `故障`),
//! a word jieba cut differently, a number fragment — is found as a phrase.

use crate::lexicon::{Lexicon, is_content, normalize};
use std::collections::HashMap;
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

pub const WORDS: &str = "kefu_words";
pub const CHARS: &str = "kefu_chars";

/// Changes whenever the analysis of texts changes: an index built by
/// another analysis is rebuilt (the server names index directories by it).
pub const ANALYSIS: u32 = 2;

/// Tokens of a text, computed at once (texts are short: titles, bodies).
pub struct Tokens {
    tokens: Vec<Token>,
    at: usize,
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        self.at += 1;
        self.at <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.at - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.at - 1]
    }
}

fn token(text: String, position: usize, from: usize, to: usize) -> Token {
    Token { offset_from: from, offset_to: to, position, text, position_length: 1 }
}

#[derive(Clone)]
pub struct WordTokenizer(pub Lexicon);

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = Tokens;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        let norm = normalize(text);
        let words = self.0.words(&norm);
        // Lexicon terms jieba did not yield (as often as they occur) are
        // added: a term is then in the index wherever it is in the text.
        let mut cut: HashMap<&str, usize> = HashMap::new();
        for w in &words {
            *cut.entry(w).or_default() += 1;
        }
        let mut extra = Vec::new();
        for t in self.0.terms_in(&norm) {
            match cut.get_mut(t) {
                Some(n) if *n > 0 => *n -= 1,
                _ => extra.push(t),
            }
        }
        let tokens = words.into_iter().chain(extra).enumerate().map(|(i, w)| token(w.to_string(), i, 0, 0)).collect();
        Tokens { tokens, at: 0 }
    }
}

#[derive(Clone)]
pub struct CharTokenizer;

impl Tokenizer for CharTokenizer {
    type TokenStream<'a> = Tokens;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        Tokens { tokens: chars(text).into_iter().enumerate().map(|(i, t)| token(t, i, 0, 0)).collect(), at: 0 }
    }
}

/// The `chars` analysis of a text: ideographs one by one, ASCII letter and
/// digit runs whole (lower case), other characters dropped.
pub fn chars(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    for c in normalize(text).chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            out.push(std::mem::take(&mut run));
        }
        if c.is_alphanumeric() {
            out.push(c.to_string());
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out.retain(|t| is_content(t));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let mut t = WordTokenizer(Lexicon::shipped());
        let mut stream = t.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    #[test]
    fn words_hold_each_lexicon_term_as_often_as_it_occurs() {
        let w = words("宽带网断了，宽带还是网断了");
        assert_eq!(w.iter().filter(|t| *t == "网断了").count(), 2, "{w:?}");
        assert_eq!(w.iter().filter(|t| *t == "宽带").count(), 2, "{w:?}");
    }

    #[test]
    fn chars_are_ideographs_and_ascii_runs() {
        assert_eq!(chars("光猫LOS灯，5G套餐！"), ["光", "猫", "los", "灯", "5g", "套", "餐"]);
        assert!(chars("，。！ ").is_empty());
    }
}
