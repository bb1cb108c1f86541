//! Chinese search for kefu (R-50, R-52; the `q` of the ticket list): one
//! tantivy index per corpus (tickets, knowledge base), analysed twice —
//! jieba words with the telecom lexicon for ranking, and characters for
//! finding any piece of a text — with synonym groups expanded at query
//! time (tantivy has no synonym filter). No I/O besides the index
//! directory; the server keeps the indexes caught up with the store.

pub mod answer;
pub mod classify;
pub mod index;
pub mod lexicon;
pub mod tokens;

pub use classify::{Example, NaiveBayes};
pub use index::{Doc, Hit, Mode, SearchError, SearchIndex, SearchResult};
pub use lexicon::{Entries, Lexicon};
pub use tokens::ANALYSIS;
