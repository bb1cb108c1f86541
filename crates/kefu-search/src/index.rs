//! One search index (tickets, or the knowledge base): documents with a key,
//! a title, a body and `extra` text that ranks like the title (an
//! article's similar questions and tags). Personal data never enters it:
//! phone numbers, ID numbers and street numbers are cut out of every text
//! before it is analysed or stored, so they are not searchable.

use crate::lexicon::{Lexicon, normalize};
use crate::tokens::{CHARS, CharTokenizer, WORDS, WordTokenizer, chars};
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index directory: {0}")]
    Directory(String),
}

pub type SearchResult<T> = Result<T, SearchError>;

/// A piece of a document's text and the byte ranges of it that matched.
pub type Snippet = (String, Vec<(usize, usize)>);

/// A document as the caller has it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Doc {
    pub key: String,
    pub title: String,
    pub body: String,
    pub extra: String,
}

/// How a query's words combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A search box: every word typed must match (as a phrase of
    /// characters, or by all its jieba words), synonyms included.
    AllWords,
    /// A sentence someone wrote (the bot, similar tickets): any of its
    /// words may match, the more the better.
    Similar,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub key: String,
    pub score: f32,
    /// Up to ~60 characters of the body (or title) around the first match.
    pub snippet: String,
    /// Byte ranges of `snippet` that matched.
    pub highlights: Vec<(usize, usize)>,
}

struct Fields {
    key: Field,
    num: Field,
    title: Field,
    body: Field,
    /// (words, chars) analyses of title, extra, body, with their weights.
    analysed: [(Field, Field, f32); 3],
}

pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    lexicon: Lexicon,
}

/// Bytes the writer may buffer before it flushes a segment.
const WRITER_MEMORY: usize = 50_000_000;

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let analysed = |name: &str| {
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default().set_tokenizer(name).set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
    };
    let key = b.add_text_field("key", STRING | STORED);
    // A numeric key also as a fast field: a ranking reads it without
    // loading stored documents.
    let num = b.add_u64_field("num", FAST);
    let title = b.add_text_field("title", STORED);
    let body = b.add_text_field("body", STORED);
    let mut pair = |name: &str, weight: f32| {
        (
            b.add_text_field(&format!("{name}_w"), analysed(WORDS)),
            b.add_text_field(&format!("{name}_c"), analysed(CHARS)),
            weight,
        )
    };
    let analysed = [pair("title", 3.0), pair("extra", 2.0), pair("body", 1.0)];
    (b.build(), Fields { key, num, title, body, analysed })
}

impl SearchIndex {
    /// The index in `dir` (created if missing), or in memory without one.
    pub fn open(dir: Option<&Path>, lexicon: Lexicon) -> SearchResult<SearchIndex> {
        let (schema, fields) = schema();
        let index = match dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| SearchError::Directory(format!("{}: {e}", d.display())))?;
                let mmap = tantivy::directory::MmapDirectory::open(d)
                    .map_err(|e| SearchError::Directory(format!("{}: {e}", d.display())))?;
                Index::open_or_create(mmap, schema)?
            }
            None => Index::create_in_ram(schema),
        };
        // Registered at every open: an index opened without its tokenizers
        // would analyse queries differently from what it stored.
        index.tokenizers().register(WORDS, TextAnalyzer::from(WordTokenizer(lexicon.clone())));
        index.tokenizers().register(CHARS, TextAnalyzer::from(CharTokenizer));
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let writer = Mutex::new(index.writer(WRITER_MEMORY)?);
        Ok(SearchIndex { index, reader, writer, fields, lexicon })
    }

    pub fn lexicon(&self) -> &Lexicon {
        &self.lexicon
    }

    /// Adds or replaces documents (by key) and makes them searchable.
    pub fn put(&self, docs: &[Doc]) -> SearchResult<()> {
        self.apply(docs, &[], None)
    }

    pub fn delete(&self, keys: &[String]) -> SearchResult<()> {
        self.apply(&[], keys, None)
    }

    /// Puts `docs`, deletes `keys`, and commits them with `mark` (where a
    /// change feed stands) in the same durable commit: after a crash the
    /// index and its mark agree, and catching up resumes from the mark.
    pub fn apply(&self, docs: &[Doc], keys: &[String], mark: Option<&str>) -> SearchResult<()> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            w.delete_term(Term::from_field_text(self.fields.key, k));
        }
        for d in docs {
            w.delete_term(Term::from_field_text(self.fields.key, &d.key));
            w.add_document(self.document(d))?;
        }
        let mut commit = w.prepare_commit()?;
        if let Some(m) = mark {
            commit.set_payload(m);
        }
        commit.commit()?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    /// Removes every document and the mark (a rebuild follows).
    pub fn clear(&self) -> SearchResult<()> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.delete_all_documents()?;
        let mut commit = w.prepare_commit()?;
        commit.set_payload("");
        commit.commit()?;
        drop(w);
        self.reader.reload()?;
        Ok(())
    }

    /// The mark of the last commit (see `apply`), if any.
    pub fn mark(&self) -> SearchResult<Option<String>> {
        Ok(self.index.load_metas()?.payload.filter(|p| !p.is_empty()))
    }

    /// Documents in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn document(&self, d: &Doc) -> TantivyDocument {
        let f = &self.fields;
        let (title, extra, body) = (impersonal(&d.title), impersonal(&d.extra), impersonal(&d.body));
        let mut doc = TantivyDocument::new();
        doc.add_text(f.key, &d.key);
        if let Ok(n) = d.key.parse::<u64>() {
            doc.add_u64(f.num, n);
        }
        doc.add_text(f.title, &title);
        doc.add_text(f.body, &body);
        for ((w, c, _), text) in f.analysed.iter().zip([&title, &extra, &body]) {
            doc.add_text(*w, text);
            doc.add_text(*c, text);
        }
        doc
    }

    /// The best `limit` documents for `query`, best first.
    pub fn search(&self, query: &str, mode: Mode, limit: usize) -> SearchResult<Vec<Hit>> {
        let terms = self.query_terms(query);
        let Some(q) = self.build(&terms, mode) else { return Ok(Vec::new()) };
        let searcher = self.reader.searcher();
        let top = searcher.search(&q, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let text = |f: Field| doc.get_first(f).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            let (snippet, highlights) = snippet(&text(self.fields.body), &text(self.fields.title), &terms);
            hits.push(Hit { key: text(self.fields.key), score, snippet, highlights });
        }
        Ok(hits)
    }

    /// The numeric keys of the best `limit` documents for `query` with
    /// their scores, best first: no stored document is read (see `snippet`).
    pub fn rank(&self, query: &str, mode: Mode, limit: usize) -> SearchResult<Vec<(u64, f32)>> {
        Ok(self.rank_counted(query, mode, limit, limit)?.0)
    }

    /// The best `k` documents for `query` (numeric keys, scores, best
    /// first) and how many documents match, counted up to `cap`. A query of
    /// one word is one flat disjunction of terms, which tantivy ranks with
    /// block-max WAND (skipping blocks that cannot reach the top `k`); when
    /// one of its terms alone is in `cap` documents the count is known
    /// without visiting them. Otherwise the best `cap` are ranked and counted.
    pub fn rank_counted(
        &self,
        query: &str,
        mode: Mode,
        k: usize,
        cap: usize,
    ) -> SearchResult<(Vec<(u64, f32)>, usize)> {
        let terms = self.query_terms(query);
        let searcher = self.reader.searcher();
        if let Some(flat) = self.flat(&terms) {
            let mut at_least = 0u64;
            for (t, _) in &flat {
                at_least = at_least.max(searcher.doc_freq(t)?);
            }
            let q = Self::any_term(flat);
            if at_least >= cap as u64 {
                return Ok((self.top_keys(&searcher, &*q, k.min(cap))?, cap));
            }
            let mut hits = self.top_keys(&searcher, &*q, cap)?;
            let total = hits.len();
            hits.truncate(k);
            return Ok((hits, total));
        }
        let Some(q) = self.build(&terms, mode) else { return Ok((Vec::new(), 0)) };
        let mut hits = self.top_keys(&searcher, &*q, cap)?;
        let total = hits.len();
        hits.truncate(k);
        Ok((hits, total))
    }

    /// One word whose every alternative is a single term of a field (a
    /// word the dictionary keeps whole, or one character): its terms with
    /// their field weights, the key's exact term first. None otherwise.
    fn flat(&self, terms: &[Vec<String>]) -> Option<Vec<(Term, f32)>> {
        let [alternatives] = terms else { return None };
        let mut out = Vec::new();
        if let Some(word) = alternatives.first() {
            out.push((Term::from_field_text(self.fields.key, &word.to_uppercase()), 10.0));
        }
        out.extend(self.flat_word(alternatives)?);
        Some(out)
    }

    /// The terms (with field weights) of a word whose every alternative is
    /// a single term of a field; None if one is not.
    fn flat_word(&self, alternatives: &[String]) -> Option<Vec<(Term, f32)>> {
        let mut out = Vec::new();
        for alt in alternatives {
            let cs = chars(alt);
            let words = self.words_of(alt);
            let single = match cs.as_slice() {
                [_] => true,
                [] => continue,
                _ => words.len() == 1 && words[0] == normalize(alt),
            };
            if !single {
                return None;
            }
            for (w_field, c_field, weight) in self.fields.analysed {
                if let [one] = cs.as_slice() {
                    out.push((Term::from_field_text(c_field, one), weight));
                }
                for w in &words {
                    out.push((Term::from_field_text(w_field, w), weight));
                }
            }
        }
        Some(out)
    }

    /// A disjunction of weighted terms.
    fn any_term(terms: Vec<(Term, f32)>) -> Box<dyn Query> {
        Box::new(BooleanQuery::new(
            terms
                .into_iter()
                .map(|(t, w)| {
                    let tq: Box<dyn Query> = Box::new(TermQuery::new(t, IndexRecordOption::WithFreqs));
                    (Occur::Should, Box::new(BoostQuery::new(tq, w)) as Box<dyn Query>)
                })
                .collect(),
        ))
    }

    /// The numeric keys and scores of the best `limit` documents of `q`.
    fn top_keys(&self, searcher: &tantivy::Searcher, q: &dyn Query, limit: usize) -> SearchResult<Vec<(u64, f32)>> {
        let top = searcher.search(q, &TopDocs::with_limit(limit.max(1)).order_by_score())?;
        let mut columns = std::collections::HashMap::new();
        let mut out = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let column = match columns.entry(addr.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(searcher.segment_reader(addr.segment_ord).fast_fields().u64("num")?)
                }
            };
            if let Some(n) = column.first(addr.doc_id) {
                out.push((n, score));
            }
        }
        Ok(out)
    }

    /// Where `query` matches the document `key`: a snippet and the byte
    /// ranges of it that matched (None if there is no such document).
    pub fn snippet(&self, query: &str, key: &str) -> SearchResult<Option<Snippet>> {
        let terms = self.query_terms(query);
        let searcher = self.reader.searcher();
        let q = TermQuery::new(Term::from_field_text(self.fields.key, key), IndexRecordOption::Basic);
        let Some((_, addr)) = searcher.search(&q, &TopDocs::with_limit(1).order_by_score())?.into_iter().next() else {
            return Ok(None);
        };
        let doc: TantivyDocument = searcher.doc(addr)?;
        let text = |f: Field| doc.get_first(f).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        Ok(Some(snippet(&text(self.fields.body), &text(self.fields.title), &terms)))
    }

    /// The query's words (split at spaces and punctuation), each with its
    /// synonym alternatives, normalised.
    fn query_terms(&self, query: &str) -> Vec<Vec<String>> {
        let norm = normalize(query);
        let words = norm.split(|c: char| !c.is_alphanumeric() && c != '-').filter(|w| !w.is_empty());
        words.take(16).map(|w| self.lexicon.expand(w)).collect()
    }

    fn build(&self, terms: &[Vec<String>], mode: Mode) -> Option<Box<dyn Query>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for alternatives in terms {
            let occur = if mode == Mode::AllWords { Occur::Must } else { Occur::Should };
            // A word of terms only is one flat disjunction: no nested
            // queries to walk for every document of the intersection.
            if let Some(flat) = self.flat_word(alternatives).filter(|f| !f.is_empty()) {
                clauses.push((occur, Self::any_term(flat)));
                continue;
            }
            let per_word: Vec<(Occur, Box<dyn Query>)> =
                alternatives.iter().filter_map(|a| self.alternative(a, mode)).map(|q| (Occur::Should, q)).collect();
            if per_word.is_empty() {
                continue;
            }
            clauses.push((occur, Box::new(BooleanQuery::new(per_word))));
        }
        // The key itself (a ticket number, an article code) as typed.
        if let [only] = terms
            && let Some(word) = only.first()
        {
            let key = Term::from_field_text(self.fields.key, &word.to_uppercase());
            let exact: Box<dyn Query> = Box::new(TermQuery::new(key, IndexRecordOption::Basic));
            return Some(Box::new(BooleanQuery::new(vec![
                (Occur::Should, Box::new(BoostQuery::new(exact, 10.0))),
                (Occur::Should, Box::new(BooleanQuery::new(clauses))),
            ])));
        }
        (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
    }

    /// The index's words for an alternative: a lexicon term alone (the
    /// index holds it wherever it occurs), else jieba's words of it.
    fn words_of(&self, alt: &str) -> Vec<String> {
        let norm = normalize(alt);
        if self.lexicon.is_term(&norm) {
            return vec![norm];
        }
        self.lexicon.words(&norm).into_iter().map(str::to_string).collect()
    }

    /// One alternative of a word, in any field: its characters as a phrase,
    /// or (typed words) all its jieba words / (a sentence) any of them.
    fn alternative(&self, alt: &str, mode: Mode) -> Option<Box<dyn Query>> {
        let cs = chars(alt);
        if cs.is_empty() {
            return None;
        }
        let words = self.words_of(alt);
        let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        // A word the dictionary knows whole is found by its word; the phrase
        // of characters (costly on common words) finds the rest: fragments,
        // and words jieba cuts differently in context.
        let whole_word = cs.len() > 1 && words.len() == 1 && words[0] == normalize(alt);
        for (w_field, c_field, weight) in self.fields.analysed {
            let by_chars: Option<Box<dyn Query>> = match cs.as_slice() {
                [one] => {
                    Some(Box::new(TermQuery::new(Term::from_field_text(c_field, one), IndexRecordOption::WithFreqs)))
                }
                _ if whole_word => None,
                many => {
                    Some(Box::new(PhraseQuery::new(many.iter().map(|c| Term::from_field_text(c_field, c)).collect())))
                }
            };
            if let Some(q) = by_chars {
                any.push((Occur::Should, Box::new(BoostQuery::new(q, weight))));
            }
            if !words.is_empty() {
                let occur = if mode == Mode::AllWords { Occur::Must } else { Occur::Should };
                let by_words = words
                    .iter()
                    .map(|w| {
                        let q: Box<dyn Query> =
                            Box::new(TermQuery::new(Term::from_field_text(w_field, w), IndexRecordOption::WithFreqs));
                        (occur, q)
                    })
                    .collect();
                any.push((Occur::Should, Box::new(BoostQuery::new(Box::new(BooleanQuery::new(by_words)), weight))));
            }
        }
        Some(Box::new(BooleanQuery::new(any)))
    }
}

/// The text without personal data (phones, ID numbers, street numbers).
fn impersonal(text: &str) -> String {
    let spans = kefu_domain::privacy::personal_spans(text);
    if spans.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for s in spans {
        out.push_str(&text[at..s.start]);
        out.push(' ');
        at = s.end;
    }
    out.push_str(&text[at..]);
    out
}

const SNIPPET_CHARS: usize = 60;

/// A window of the body (the title if the body has no match) around the
/// first place any query word or alternative occurs, with each occurrence
/// inside it highlighted.
fn snippet(body: &str, title: &str, terms: &[Vec<String>]) -> (String, Vec<(usize, usize)>) {
    let needles: Vec<String> = terms.iter().flatten().filter(|t| !t.is_empty()).cloned().collect();
    let first_match = |text: &str| {
        let norm = normalize(text);
        // As a char position: normalize() keeps one char for one char.
        needles.iter().filter_map(|n| norm.find(n.as_str())).min().map(|b| norm[..b].chars().count())
    };
    let (text, at) = match (first_match(body), first_match(title)) {
        (Some(i), _) => (body, i),
        (None, Some(i)) => (title, i),
        (None, None) => (body, 0),
    };
    let start = at.saturating_sub(SNIPPET_CHARS / 3);
    let window: String = text.chars().skip(start).take(SNIPPET_CHARS).collect();
    let norm = normalize(&window);
    let mut highlights = Vec::new();
    for n in &needles {
        for (i, _) in norm.match_indices(n.as_str()) {
            let (from, to) = (byte_at(&window, &norm, i), byte_at(&window, &norm, i + n.len()));
            highlights.push((from, to));
        }
    }
    highlights.sort_unstable();
    highlights.dedup();
    (window, highlights)
}

/// The byte offset in `orig` of byte offset `i` of its normalised form.
fn byte_at(orig: &str, norm: &str, i: usize) -> usize {
    let nth = norm[..i.min(norm.len())].chars().count();
    orig.char_indices().nth(nth).map_or(orig.len(), |(b, _)| b)
}
