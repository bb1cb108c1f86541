//! The bytes of evidence files, in `<data dir>/attachments`: each file
//! sealed with the field keys (`crypto::FieldCipher::seal_blob`) under a name
//! that is a keyed hash of its content, so the same photo sent twice is kept
//! once and a name tells nothing about the content to whoever lists the
//! directory. The store's `attachments` rows say which ticket has which file;
//! a file no row names is swept after `[attachments] orphan_minutes` (an
//! upload whose ticket write failed, a purged ticket's files).
//!
//! Several nodes share one directory (a network mount) or each keeps the
//! files it took; the README says which deployments need which.

use futures_util::Stream;
use kefu_store::crypto::{BLOB_HEADER, BLOB_SEALED_CHUNK, FieldCipher};
use sha2::{Digest, Sha256};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

#[derive(Clone)]
pub struct Blobs {
    dir: PathBuf,
    cipher: Arc<FieldCipher>,
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blobs").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// Where a stored file is and what its content hashes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub blob: String,
    pub sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Blobs {
    pub fn new(dir: PathBuf, cipher: Arc<FieldCipher>) -> Blobs {
        Blobs { dir, cipher }
    }

    fn path(&self, blob: &str) -> Option<PathBuf> {
        // Names are ours (hex), but a name read back is checked before it becomes a path.
        let ok = blob.len() == 32 && blob.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| self.dir.join(&blob[..2]).join(blob))
    }

    /// Stores a file durably (written, synced, renamed into place) before
    /// the ticket write that names it; the same content is stored once.
    pub async fn put(&self, bytes: Vec<u8>) -> io::Result<Stored> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.put_blocking(&bytes)).await.map_err(io::Error::other)?
    }

    fn put_blocking(&self, bytes: &[u8]) -> io::Result<Stored> {
        let sha256 = hex(&Sha256::digest(bytes));
        let blob = self.cipher.blind_index("attachment", &sha256);
        let path = self.path(&blob).ok_or_else(|| io::Error::other("bad blob name"))?;
        if path.exists() {
            // Kept: moved out of the orphan sweep's reach until the ticket write names it.
            std::fs::File::options().append(true).open(&path)?.set_modified(file_clock())?;
            return Ok(Stored { blob, sha256 });
        }
        let dir = path.parent().expect("a blob path has a parent");
        std::fs::create_dir_all(dir)?;
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(io::Error::other)?;
        let tmp = dir.join(format!(".{blob}.{}.tmp", hex(&suffix)));
        let sealed = self.cipher.seal_blob(bytes);
        let written = (|| {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&sealed)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map(|()| Stored { blob, sha256 })
    }

    /// The plaintext of a stored file as a stream of chunks, opened one at
    /// a time (a 10 MB recording is never whole in memory).
    pub async fn open(
        &self,
        blob: &str,
    ) -> io::Result<impl Stream<Item = io::Result<Vec<u8>>> + Send + 'static + use<>> {
        use tokio::io::AsyncReadExt;
        let path = self.path(blob).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "bad blob name"))?;
        let mut file = tokio::fs::File::open(&path).await?;
        let len = file.metadata().await?.len() as usize;
        let mut header = [0u8; BLOB_HEADER];
        file.read_exact(&mut header).await?;
        let opener = self.cipher.blob_opener(&header).map_err(io::Error::other)?;
        let body = len.saturating_sub(BLOB_HEADER);
        let chunks = body.div_ceil(BLOB_SEALED_CHUNK).max(1);
        let state = (file, opener, 0usize, body);
        Ok(futures_util::stream::unfold(state, move |(mut file, mut opener, i, left)| async move {
            if i == chunks {
                return None;
            }
            let mut sealed = vec![0u8; left.min(BLOB_SEALED_CHUNK)];
            let chunk = match file.read_exact(&mut sealed).await {
                Ok(_) => opener.open_chunk(&sealed, i + 1 == chunks).map_err(io::Error::other),
                Err(e) => Err(e),
            };
            // After a failure the stream ends: the client sees a cut download, never altered bytes.
            let next = if chunk.is_ok() { i + 1 } else { chunks };
            Some((chunk, (file, opener, next, left - sealed.len())))
        }))
    }

    /// A whole stored file (for tests and for mail that carries one).
    pub async fn read(&self, blob: &str) -> io::Result<Vec<u8>> {
        use futures_util::StreamExt;
        let mut stream = std::pin::pin!(self.open(blob).await?);
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend(chunk?);
        }
        Ok(out)
    }

    /// Stored files (and abandoned temporary files) older than `age`, for
    /// the sweep to ask the store about.
    pub async fn older_than(&self, age: Duration) -> io::Result<Vec<(String, PathBuf)>> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || older_than(&dir, age)).await.map_err(io::Error::other)?
    }
}

/// The filesystem's time: file ages are compared with the times the
/// filesystem wrote, not with kefu's (injectable) clock of tickets.
#[allow(clippy::disallowed_methods)]
fn file_clock() -> SystemTime {
    SystemTime::now()
}

fn older_than(dir: &Path, age: Duration) -> io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let Ok(shards) = std::fs::read_dir(dir) else { return Ok(out) };
    let cutoff = file_clock() - age;
    for shard in shards.flatten().filter(|e| e.path().is_dir()) {
        for entry in std::fs::read_dir(shard.path())?.flatten() {
            let modified = entry.metadata().and_then(|m| m.modified());
            if modified.is_ok_and(|m| m < cutoff) {
                out.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_are_sealed_named_by_content_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path().to_path_buf(), kefu_store::crypto::test_cipher());
        let photo: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let a = blobs.put(photo.clone()).await.unwrap();
        let b = blobs.put(photo.clone()).await.unwrap();
        assert_eq!(a, b, "the same content is stored once");
        assert_eq!(a.sha256, hex(&Sha256::digest(&photo)));
        assert_ne!(a.blob, a.sha256, "the name is keyed, not the plain hash");
        let on_disk = std::fs::read(blobs.path(&a.blob).unwrap()).unwrap();
        assert!(!on_disk.windows(64).any(|w| w == &photo[1000..1064]), "sealed at rest");
        assert_eq!(blobs.read(&a.blob).await.unwrap(), photo);
        assert!(blobs.read("../../etc/passwd").await.is_err());
        assert!(blobs.older_than(Duration::from_secs(3600)).await.unwrap().is_empty());
        assert_eq!(blobs.older_than(Duration::ZERO).await.unwrap().len(), 1);
    }
}
