//! The node's search indexes (kefu-search), kept in the data directory
//! (`<data>/search/kb-<lexicon revision>`) or in memory without one. Each
//! node keeps its own, caught up from the store's change feeds; an index
//! is opened on first use, so a node that never searches never loads the
//! dictionary. When the administrators' lexicon changes, the node opens a
//! fresh index under the new revision and fills it from the store (the
//! words an index was analysed with cannot change under it).

use kefu_domain::kb::LexiconEntries;
use kefu_search::{Entries, Lexicon, SearchIndex};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

#[derive(Default)]
pub struct Search {
    dir: Option<PathBuf>,
    /// The knowledge base index and the lexicon revision it was built with.
    kb: RwLock<Option<(Arc<SearchIndex>, i64)>>,
    /// Serialises catching up (one reader of the feed at a time) and
    /// remembers when the knowledge base index last looked at the store.
    pub kb_checked: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl Search {
    pub fn new(dir: Option<PathBuf>) -> Search {
        Search { dir, ..Default::default() }
    }

    /// The knowledge base index and its lexicon revision, if open.
    pub fn kb(&self) -> Option<(Arc<SearchIndex>, i64)> {
        self.kb.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Opens the knowledge base index for lexicon revision `rev` (replacing
    /// one of another revision, whose directory is removed).
    pub fn open_kb(&self, entries: &LexiconEntries, rev: i64) -> Result<Arc<SearchIndex>, kefu_search::SearchError> {
        let mut slot = self.kb.write().unwrap_or_else(|p| p.into_inner());
        if let Some((index, at)) = slot.as_ref()
            && *at == rev
        {
            return Ok(index.clone());
        }
        let lexicon = if rev == 0 {
            Lexicon::shipped()
        } else {
            Lexicon::new(&Entries { words: entries.words.clone(), synonyms: entries.synonyms.clone() })
        };
        let dir = self.dir.as_ref().map(|d| d.join(format!("kb-{rev}")));
        let index = Arc::new(open(dir, lexicon)?);
        *slot = Some((index.clone(), rev));
        drop(slot);
        self.remove_others(&format!("kb-{rev}"));
        Ok(index)
    }

    /// Index directories of other lexicon revisions (and of older kefu versions).
    fn remove_others(&self, keep: &str) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name != keep && (name == "kb" || name.starts_with("kb-")) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

fn open(dir: Option<PathBuf>, lexicon: Lexicon) -> Result<SearchIndex, kefu_search::SearchError> {
    match SearchIndex::open(dir.as_deref(), lexicon.clone()) {
        Ok(i) => Ok(i),
        Err(e) => {
            let Some(d) = dir else { return Err(e) };
            // The store holds everything the index does: start it afresh.
            tracing::warn!(dir = %d.display(), error = %e, "search index unreadable; rebuilding it from the store");
            let _ = std::fs::remove_dir_all(&d);
            SearchIndex::open(Some(&d), lexicon)
        }
    }
}
