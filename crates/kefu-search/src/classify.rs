//! A multinomial naive Bayes classifier over what a ticket says:
//! jieba words and character bigrams of its text, plus any extra features
//! the caller knows (`level:gold`, `type:fault`, `channel:sms`). Plain
//! Rust, trained in milliseconds from the operator's own tickets; returns
//! every label with its probability, best first, for the caller to show
//! the top ones or abstain below its threshold.

use crate::lexicon::{Lexicon, normalize};
use std::collections::HashMap;

/// One labelled example.
pub struct Example<'a> {
    pub text: &'a str,
    pub extra: &'a [String],
    pub label: &'a str,
}

/// Serialisable: the node that trains publishes it for the others.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct NaiveBayes {
    labels: Vec<String>,
    /// log P(label)
    priors: Vec<f64>,
    /// feature → count per label
    counts: HashMap<String, Vec<f64>>,
    /// Total feature count per label.
    totals: Vec<f64>,
    examples: usize,
}

/// Additive smoothing of feature counts.
const ALPHA: f64 = 0.3;

/// The features of a text: jieba words (search mode) and character bigrams.
pub fn features(lexicon: &Lexicon, text: &str, extra: &[String]) -> Vec<String> {
    let norm = normalize(text);
    let mut out: Vec<String> = lexicon.words(&norm).into_iter().map(|w| format!("w:{w}")).collect();
    let chars: Vec<char> = norm.chars().filter(|c| c.is_alphanumeric()).collect();
    out.extend(chars.windows(2).map(|p| format!("b:{}{}", p[0], p[1])));
    out.extend(extra.iter().map(|e| format!("x:{e}")));
    out
}

impl NaiveBayes {
    pub fn train(lexicon: &Lexicon, examples: &[Example]) -> NaiveBayes {
        let mut labels: Vec<String> = examples.iter().map(|e| e.label.to_string()).collect();
        labels.sort();
        labels.dedup();
        let n = labels.len();
        let mut m = NaiveBayes {
            counts: HashMap::new(),
            totals: vec![0.0; n],
            priors: vec![0.0; n],
            examples: examples.len(),
            labels,
        };
        let mut per_label = vec![0usize; n];
        for e in examples {
            let Ok(i) = m.labels.binary_search_by(|l| l.as_str().cmp(e.label)) else { continue };
            per_label[i] += 1;
            for f in features(lexicon, e.text, e.extra) {
                m.counts.entry(f).or_insert_with(|| vec![0.0; n])[i] += 1.0;
                m.totals[i] += 1.0;
            }
        }
        let total = examples.len().max(1) as f64;
        m.priors = per_label.iter().map(|c| ((*c as f64 + 1.0) / (total + n as f64)).ln()).collect();
        m
    }

    /// How many examples it learnt from.
    pub fn examples(&self) -> usize {
        self.examples
    }

    /// Every label with its probability, best first.
    pub fn predict(&self, lexicon: &Lexicon, text: &str, extra: &[String]) -> Vec<(String, f64)> {
        self.predict_tempered(lexicon, text, extra, 1.0)
    }

    /// `predict` with the log scores divided by `temperature` first: the
    /// order (and so the accuracy) is the same, the probabilities softer.
    /// Naive Bayes counts overlapping evidence (a word and its character
    /// bigrams) as independent, so its raw probabilities are too sure; a
    /// temperature fitted on held-out examples makes them mean what they say.
    pub fn predict_tempered(
        &self,
        lexicon: &Lexicon,
        text: &str,
        extra: &[String],
        temperature: f64,
    ) -> Vec<(String, f64)> {
        if self.labels.is_empty() {
            return Vec::new();
        }
        let vocab = self.counts.len() as f64;
        let mut scores = self.priors.clone();
        for f in features(lexicon, text, extra) {
            // A feature never seen says nothing about any label.
            let Some(c) = self.counts.get(&f) else { continue };
            for (i, s) in scores.iter_mut().enumerate() {
                *s += ((c[i] + ALPHA) / (self.totals[i] + ALPHA * vocab)).ln();
            }
        }
        let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let t = temperature.max(1e-6);
        let exp: Vec<f64> = scores.iter().map(|s| ((s - top) / t).exp()).collect();
        let sum: f64 = exp.iter().sum();
        let mut out: Vec<(String, f64)> = self.labels.iter().cloned().zip(exp.iter().map(|e| e / sum)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out
    }
}
