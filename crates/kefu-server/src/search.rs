//! The node's search indexes (kefu-search), kept in the data directory
//! (`<data>/search/<kind>-<lexicon revision>`) or in memory without one.
//! Each node keeps its own, caught up from the store's change feeds; an
//! index is opened on first use (or by the feed follower of `kefu serve`).
//! When the administrators' lexicon changes, the node opens a fresh index
//! under the new revision and fills it from the store (the words an index
//! was analysed with cannot change under it).

use chrono::{DateTime, Utc};
use kefu_domain::TicketId;
use kefu_domain::kb::LexiconEntries;
use kefu_search::{Entries, Lexicon, SearchIndex};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Which index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Kb,
    Tickets,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Kb => "kb",
            Kind::Tickets => "tickets",
        }
    }
}

/// An open index and the lexicon revision it was built with.
type Slot = RwLock<Option<(Arc<SearchIndex>, i64)>>;

#[derive(Default)]
pub struct Search {
    dir: Option<PathBuf>,
    kb: Slot,
    tickets: Slot,
    /// Serialises catching up (one reader of the feed at a time) and
    /// remembers when the knowledge base index last looked at the store.
    pub kb_checked: tokio::sync::Mutex<Option<std::time::Instant>>,
    /// Where the ticket index stands in the feed (one reader at a time).
    pub ticket_feed: tokio::sync::Mutex<TicketFeed>,
    /// Ticket writes this node made (a counter the write path bumps): a
    /// search catches up first when the feed has not seen them yet.
    ticket_writes: AtomicU64,
}

/// The ticket index's place in the store's change feed.
#[derive(Debug, Default)]
pub struct TicketFeed {
    /// The index this state belongs to (a new lexicon starts afresh).
    pub rev: Option<i64>,
    /// When the feed was last read, and the write counter then.
    pub checked: Option<(std::time::Instant, u64)>,
    /// Changes up to here are in the index for good (also kept in the
    /// index's commit, so a restart resumes here).
    pub settled: Option<DateTime<Utc>>,
    /// Tickets indexed as of a change newer than `settled` (its time and
    /// change count): re-read each time, re-indexed only if changed again.
    pub recent: HashMap<TicketId, (DateTime<Utc>, i64)>,
    /// When the index's count was last compared with the store's.
    pub reconciled: Option<std::time::Instant>,
}

impl Search {
    pub fn new(dir: Option<PathBuf>) -> Search {
        Search { dir, ..Default::default() }
    }

    fn slot(&self, kind: Kind) -> &Slot {
        match kind {
            Kind::Kb => &self.kb,
            Kind::Tickets => &self.tickets,
        }
    }

    /// The index of `kind` and its lexicon revision, if open.
    pub fn get(&self, kind: Kind) -> Option<(Arc<SearchIndex>, i64)> {
        self.slot(kind).read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A ticket write on this node (cheap: one atomic add).
    pub fn note_ticket_write(&self) {
        self.ticket_writes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn ticket_writes(&self) -> u64 {
        self.ticket_writes.load(Ordering::Relaxed)
    }

    /// Opens the index of `kind` for lexicon revision `rev` (replacing one
    /// of another revision, whose directory is removed).
    pub fn open(
        &self,
        kind: Kind,
        entries: &LexiconEntries,
        rev: i64,
    ) -> Result<Arc<SearchIndex>, kefu_search::SearchError> {
        let mut slot = self.slot(kind).write().unwrap_or_else(|p| p.into_inner());
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
        let name = format!("{}-{rev}-a{}", kind.name(), kefu_search::ANALYSIS);
        let dir = self.dir.as_ref().map(|d| d.join(&name));
        let index = Arc::new(open(dir, lexicon)?);
        *slot = Some((index.clone(), rev));
        drop(slot);
        self.remove_others(kind, &name);
        Ok(index)
    }

    /// Index directories of `kind` under other lexicon revisions (and of
    /// older kefu versions).
    fn remove_others(&self, kind: Kind, keep: &str) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let prefix = format!("{}-", kind.name());
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name != keep && (name == kind.name() || name.starts_with(&prefix)) {
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
