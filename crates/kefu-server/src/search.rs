//! The node's search indexes (kefu-search), kept in the data directory
//! (`<data>/search/<corpus>`) or in memory without one. Each node keeps its
//! own, caught up from the store's change feeds; an index is opened on
//! first use, so a node that never searches never loads the dictionary.

use kefu_search::{Lexicon, SearchIndex};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

#[derive(Default)]
pub struct Search {
    dir: Option<PathBuf>,
    kb: OnceLock<Arc<SearchIndex>>,
    /// Serialises catching up (one reader of the feed at a time) and
    /// remembers when the knowledge base index last looked at the feed.
    pub kb_checked: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl Search {
    pub fn new(dir: Option<PathBuf>) -> Search {
        Search { dir, ..Default::default() }
    }

    /// The knowledge base index. An index that cannot be opened where it
    /// should be (a damaged directory) is rebuilt from the store.
    pub fn kb(&self) -> Result<Arc<SearchIndex>, kefu_search::SearchError> {
        if let Some(i) = self.kb.get() {
            return Ok(i.clone());
        }
        let index = Arc::new(open(self.dir.as_ref().map(|d| d.join("kb")))?);
        Ok(self.kb.get_or_init(|| index).clone())
    }
}

fn open(dir: Option<PathBuf>) -> Result<SearchIndex, kefu_search::SearchError> {
    match SearchIndex::open(dir.as_deref(), Lexicon::shipped()) {
        Ok(i) => Ok(i),
        Err(e) => {
            let Some(d) = dir else { return Err(e) };
            // The store holds everything the index does: start it afresh.
            tracing::warn!(dir = %d.display(), error = %e, "search index unreadable; rebuilding it from the store");
            let _ = std::fs::remove_dir_all(&d);
            SearchIndex::open(Some(&d), Lexicon::shipped())
        }
    }
}
