//! Encryption at rest of sensitive customer fields (R-40): ChaCha20-Poly1305
//! with a random nonce per value, keys identified by number so they can be
//! rotated, and a keyed hash (HMAC-SHA256, the "blind index") so that phone
//! and ID-number lookups work without the plaintext in the database.
//!
//! Keys live in a TOML file or the `KEFU_KEYS` environment variable, never
//! in the database:
//!
//! ```toml
//! active = 2            # new values are encrypted with this key
//! index_key = "…"       # base64, 32 bytes; never rotated (the indexes depend on it)
//! [keys]
//! 1 = "…"               # base64, 32 bytes; old keys stay to read old values
//! 2 = "…"
//! ```
//!
//! A stored value reads `enc:<key id>:<base64 nonce‖ciphertext>`; a value
//! without that prefix is plaintext written before encryption was enabled
//! and is re-encrypted by the background job.

use crate::{StoreError, StoreResult};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    active: u32,
    index_key: String,
    keys: BTreeMap<String, String>,
}

#[derive(Clone)]
struct KeySet {
    active: u32,
    keys: BTreeMap<u32, [u8; 32]>,
    index_key: [u8; 32],
}

pub struct FieldCipher {
    keys: RwLock<KeySet>,
    /// Where the keys came from, to re-read them when a value names a key
    /// this process does not know yet (another node rotated).
    source: Option<PathBuf>,
}

fn key_bytes(b64: &str, what: &str) -> Result<[u8; 32], String> {
    let raw = B64.decode(b64.trim()).map_err(|e| format!("{what} is not base64: {e}"))?;
    raw.try_into().map_err(|_| format!("{what} must be 32 bytes"))
}

fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).expect("the operating system's random source");
    k
}

impl KeySet {
    fn parse(text: &str) -> Result<KeySet, String> {
        let f: KeyFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut keys = BTreeMap::new();
        for (id, k) in &f.keys {
            let id: u32 = id.parse().map_err(|_| format!("key id '{id}' is not a number"))?;
            keys.insert(id, key_bytes(k, &format!("key {id}"))?);
        }
        if !keys.contains_key(&f.active) {
            return Err(format!("the active key {} is not in [keys]", f.active));
        }
        Ok(KeySet { active: f.active, keys, index_key: key_bytes(&f.index_key, "index_key")? })
    }

    fn to_toml(&self) -> String {
        let keys: String = self.keys.iter().map(|(id, k)| format!("{id} = \"{}\"\n", B64.encode(k))).collect();
        format!(
            "# kefu field-encryption keys. Keep this file away from the database and its backups;\n\
             # without it the encrypted fields cannot be read.\nactive = {}\nindex_key = \"{}\"\n\n[keys]\n{keys}",
            self.active,
            B64.encode(self.index_key)
        )
    }
}

impl FieldCipher {
    /// Keys from TOML text (e.g. the `KEFU_KEYS` variable).
    pub fn from_toml(text: &str) -> Result<FieldCipher, String> {
        Ok(FieldCipher { keys: RwLock::new(KeySet::parse(text)?), source: None })
    }

    /// Keys from a file, created with fresh random keys if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<(FieldCipher, bool), String> {
        let created = !path.exists();
        if created {
            let set = KeySet { active: 1, keys: BTreeMap::from([(1, random_key())]), index_key: random_key() };
            write_private(path, &set.to_toml())?;
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let set = KeySet::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok((FieldCipher { keys: RwLock::new(set), source: Some(path.to_path_buf()) }, created))
    }

    /// Fresh random keys held only in memory.
    pub fn random() -> FieldCipher {
        let set = KeySet { active: 1, keys: BTreeMap::from([(1, random_key())]), index_key: random_key() };
        FieldCipher { keys: RwLock::new(set), source: None }
    }

    /// Adds a new key to the key file and makes it active; returns its id.
    /// Values are then re-encrypted in batches by `Store::reencrypt_customers`.
    pub fn rotate(path: &Path) -> Result<u32, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut set = KeySet::parse(&text)?;
        let id = set.keys.keys().max().copied().unwrap_or(0) + 1;
        set.keys.insert(id, random_key());
        set.active = id;
        write_private(path, &set.to_toml())?;
        Ok(id)
    }

    pub fn active_key(&self) -> u32 {
        self.read().active
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeySet> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn encrypt(&self, plain: &str) -> String {
        let set = self.read();
        let cipher = ChaCha20Poly1305::new_from_slice(&set.keys[&set.active]).expect("32-byte key");
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("the operating system's random source");
        let ct = cipher.encrypt(&Nonce::from(nonce), plain.as_bytes()).expect("encryption cannot fail");
        let mut out = nonce.to_vec();
        out.extend(ct);
        format!("enc:{}:{}", set.active, B64.encode(out))
    }

    /// The plaintext of a stored value (plaintext passes through).
    pub fn decrypt(&self, stored: &str) -> StoreResult<String> {
        let Some(rest) = stored.strip_prefix("enc:") else { return Ok(stored.to_string()) };
        let bad = |why: &str| StoreError::Backend(format!("encrypted field cannot be read: {why}"));
        let (id, b64) = rest.split_once(':').ok_or_else(|| bad("malformed"))?;
        let id: u32 = id.parse().map_err(|_| bad("malformed key id"))?;
        if !self.read().keys.contains_key(&id) {
            self.reload();
        }
        let key = self.read().keys.get(&id).copied().ok_or_else(|| bad(&format!("key {id} is not loaded")))?;
        let raw = B64.decode(b64).map_err(|_| bad("not base64"))?;
        if raw.len() < 12 {
            return Err(bad("too short"));
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| bad("nonce"))?;
        let plain = ChaCha20Poly1305::new_from_slice(&key)
            .expect("32-byte key")
            .decrypt(&Nonce::from(nonce), ct)
            .map_err(|_| bad("wrong key or altered value"))?;
        String::from_utf8(plain).map_err(|_| bad("not UTF-8"))
    }

    /// Whether a stored value is encrypted with the active key.
    pub fn is_current(&self, stored: &str) -> bool {
        stored.starts_with(&format!("enc:{}:", self.active_key()))
    }

    /// The blind index of a value: HMAC-SHA256 under the index key, over the
    /// kind of value and the value, its first 16 bytes in hex.
    pub fn blind_index(&self, kind: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.read().index_key).expect("any key length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        // 128 bits are ample for lookups and keep the indexes small.
        mac.finalize().into_bytes()[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// One-way fingerprints of the keys, for the database to keep: the index
    /// key as `index`, each field key by its id. A keyed hash of a fixed text
    /// tells nothing about a key but whether another one is the same.
    pub fn fingerprints(&self) -> Vec<(String, String)> {
        let set = self.read();
        let mut out = vec![("index".to_string(), fingerprint(&set.index_key))];
        out.extend(set.keys.iter().map(|(id, k)| (id.to_string(), fingerprint(k))));
        out
    }

    /// Whether these keys fit a database's fingerprints; re-reads the key
    /// file once when they do not (another node rotated).
    pub fn check(&self, stored: &[(String, String)]) -> Result<(), StoreError> {
        if compare_fingerprints(stored, &self.fingerprints()).is_ok() {
            return Ok(());
        }
        self.reload();
        compare_fingerprints(stored, &self.fingerprints()).map(|_| ())
    }

    fn reload(&self) {
        let Some(path) = &self.source else { return };
        if let Ok(set) = std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| KeySet::parse(&t)) {
            *self.keys.write().unwrap_or_else(|e| e.into_inner()) = set;
        }
    }
}

fn fingerprint(key: &[u8; 32]) -> String {
    let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(b"kefu key fingerprint v1");
    mac.finalize().into_bytes()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares a process's key fingerprints with those a database keeps.
/// Every key the database has seen must be in the key file, unchanged: a
/// value sealed with a key the node lacks, or a phone looked up under
/// another index key, would fail on every customer read. Returns the
/// fingerprints the database does not have yet (a first start, a rotation).
pub fn compare_fingerprints(
    stored: &[(String, String)],
    mine: &[(String, String)],
) -> Result<Vec<(String, String)>, StoreError> {
    for (name, fp) in stored {
        let what = if name == "index" { "the index key".to_string() } else { format!("key {name}") };
        match mine.iter().find(|(n, _)| n == name) {
            Some((_, m)) if m == fp => {}
            Some(_) => {
                return Err(StoreError::KeyMismatch(format!(
                    "{what} differs from the one this database was written with / {}与写入本数据库时的密钥不同",
                    zh(name)
                )));
            }
            None => {
                return Err(StoreError::KeyMismatch(format!(
                    "{what}, which this database was written with, is not in the key file / 密钥文件缺少写入本数据库时所用的{}",
                    zh(name)
                )));
            }
        }
    }
    Ok(mine.iter().filter(|(n, _)| !stored.iter().any(|(s, _)| s == n)).cloned().collect())
}

fn zh(name: &str) -> String {
    if name == "index" { "索引密钥".to_string() } else { format!("密钥 {name}") }
}

/// Whether this process's keys open a value stored before the database
/// kept fingerprints (an upgrade): a wrong key file must not be recorded
/// as the right one.
pub fn probe(cipher: &FieldCipher, stored: &str) -> Result<(), StoreError> {
    cipher.decrypt(stored).map(|_| ()).map_err(|_| {
        StoreError::KeyMismatch(
            "the key file does not open the customer data already stored / 密钥文件无法解密已存储的客户资料".into(),
        )
    })
}

/// Stored files (evidence attachments) are sealed in chunks so a download
/// can be opened piece by piece: `KFB1`, the key id (4 bytes), a random
/// 7-byte nonce prefix, then each chunk of `BLOB_CHUNK` plaintext bytes
/// sealed under the nonce prefix ‖ chunk number ‖ last-chunk flag (the
/// STREAM construction: chunks cannot be reordered, dropped or cut off).
pub const BLOB_CHUNK: usize = 64 * 1024;
/// Sealed size of a full chunk.
pub const BLOB_SEALED_CHUNK: usize = BLOB_CHUNK + 16;
/// Length of the header before the first chunk.
pub const BLOB_HEADER: usize = 15;
const BLOB_MAGIC: &[u8; 4] = b"KFB1";

fn blob_nonce(prefix: &[u8; 7], index: u32, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::from(n)
}

impl FieldCipher {
    /// A file sealed under the active key (see `BLOB_CHUNK`).
    pub fn seal_blob(&self, plain: &[u8]) -> Vec<u8> {
        let set = self.read();
        let cipher = ChaCha20Poly1305::new_from_slice(&set.keys[&set.active]).expect("32-byte key");
        let mut prefix = [0u8; 7];
        getrandom::fill(&mut prefix).expect("the operating system's random source");
        let chunks: Vec<&[u8]> = if plain.is_empty() { vec![&[]] } else { plain.chunks(BLOB_CHUNK).collect() };
        let mut out = Vec::with_capacity(BLOB_HEADER + plain.len() + 16 * chunks.len());
        out.extend_from_slice(BLOB_MAGIC);
        out.extend_from_slice(&set.active.to_be_bytes());
        out.extend_from_slice(&prefix);
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let nonce = blob_nonce(&prefix, i as u32, i == last);
            out.extend(cipher.encrypt(&nonce, chunk).expect("encryption cannot fail"));
        }
        out
    }

    /// An opener for a sealed file, from its first `BLOB_HEADER` bytes.
    pub fn blob_opener(&self, header: &[u8]) -> StoreResult<BlobOpener> {
        let bad = |why: &str| StoreError::Backend(format!("stored file cannot be read: {why}"));
        if header.len() != BLOB_HEADER || &header[..4] != BLOB_MAGIC {
            return Err(bad("not a kefu sealed file"));
        }
        let id = u32::from_be_bytes(header[4..8].try_into().map_err(|_| bad("header"))?);
        if !self.read().keys.contains_key(&id) {
            self.reload();
        }
        let key = self.read().keys.get(&id).copied().ok_or_else(|| bad(&format!("key {id} is not loaded")))?;
        let prefix: [u8; 7] = header[8..15].try_into().map_err(|_| bad("header"))?;
        Ok(BlobOpener { cipher: ChaCha20Poly1305::new_from_slice(&key).expect("32-byte key"), prefix, next: 0 })
    }
}

/// Opens a sealed file's chunks in order.
pub struct BlobOpener {
    cipher: ChaCha20Poly1305,
    prefix: [u8; 7],
    next: u32,
}

impl BlobOpener {
    /// The plaintext of the next chunk; `last` says whether the file ends
    /// with it (a file cut short or grown fails here).
    pub fn open_chunk(&mut self, sealed: &[u8], last: bool) -> StoreResult<Vec<u8>> {
        let nonce = blob_nonce(&self.prefix, self.next, last);
        self.next += 1;
        self.cipher
            .decrypt(&nonce, sealed)
            .map_err(|_| StoreError::Backend("stored file cannot be read: wrong key, altered or cut short".into()))
    }
}

/// Opens a whole sealed file held in memory.
pub fn open_blob(cipher: &FieldCipher, sealed: &[u8]) -> StoreResult<Vec<u8>> {
    let (header, body) = sealed.split_at(BLOB_HEADER.min(sealed.len()));
    let mut opener = cipher.blob_opener(header)?;
    let chunks: Vec<&[u8]> = body.chunks(BLOB_SEALED_CHUNK).collect();
    let mut out = Vec::with_capacity(body.len());
    for (i, c) in chunks.iter().enumerate() {
        out.extend(opener.open_chunk(c, i + 1 == chunks.len())?);
    }
    if chunks.is_empty() {
        return Err(StoreError::Backend("stored file cannot be read: cut short".into()));
    }
    Ok(out)
}

/// Writes a key file readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(&tmp).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, path).map_err(|e| e.to_string())
}

/// One cipher per test process, so stores made in one test can read each
/// other's exports.
pub fn test_cipher() -> std::sync::Arc<FieldCipher> {
    static CIPHER: std::sync::OnceLock<std::sync::Arc<FieldCipher>> = std::sync::OnceLock::new();
    CIPHER.get_or_init(|| std::sync::Arc::new(FieldCipher::random())).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database's fingerprints accept the same keys (and a rotation's new
    /// one), and refuse other keys or a key file missing a key.
    #[test]
    fn fingerprints_tell_the_same_keys_from_others() {
        let a = FieldCipher::random();
        let mine = a.fingerprints();
        assert_eq!(mine.len(), 2);
        assert!(mine.iter().all(|(_, fp)| fp.len() == 32));
        assert_eq!(compare_fingerprints(&[], &mine).unwrap(), mine, "a new database takes all");
        assert!(compare_fingerprints(&mine, &mine).unwrap().is_empty());
        let other = FieldCipher::random().fingerprints();
        let err = compare_fingerprints(&mine, &other).unwrap_err().to_string();
        assert!(err.contains("the index key differs") && err.contains("索引密钥"), "{err}");
        // Same index key, another field key 1.
        let mixed = vec![mine[0].clone(), other[1].clone()];
        assert!(compare_fingerprints(&mine, &mixed).unwrap_err().to_string().contains("key 1 differs"));
        // A rotation adds key 2: the database learns it; a node without it is refused.
        let rotated = [mine.clone(), vec![("2".into(), "ab".repeat(16))]].concat();
        assert_eq!(compare_fingerprints(&mine, &rotated).unwrap(), vec![("2".to_string(), "ab".repeat(16))]);
        assert!(compare_fingerprints(&rotated, &mine).unwrap_err().to_string().contains("key 2, which"));
        // No key material in a fingerprint.
        let text = a.read();
        assert!(mine.iter().all(|(_, fp)| !fp.contains(&B64.encode(text.index_key))));
        drop(text);
        assert!(probe(&a, &a.encrypt("13800000000")).is_ok());
        assert!(probe(&FieldCipher::random(), &a.encrypt("13800000000")).is_err());
    }

    /// Sealed files open to what was sealed at every size around the chunk
    /// boundary; a cut, a swapped chunk or a flipped bit does not open.
    #[test]
    fn sealed_files_open_whole_or_not_at_all() {
        let c = FieldCipher::random();
        for len in [0, 1, BLOB_CHUNK - 1, BLOB_CHUNK, BLOB_CHUNK + 1, 3 * BLOB_CHUNK] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let sealed = c.seal_blob(&plain);
            assert_eq!(open_blob(&c, &sealed).unwrap(), plain, "{len}");
            assert!(open_blob(&c, &sealed[..sealed.len() - 1]).is_err(), "cut {len}");
        }
        let plain = vec![7u8; 2 * BLOB_CHUNK + 10];
        let sealed = c.seal_blob(&plain);
        // Cut at a chunk boundary: the last chunk left is not flagged last.
        assert!(open_blob(&c, &sealed[..BLOB_HEADER + BLOB_SEALED_CHUNK]).is_err());
        let mut swapped = sealed.clone();
        let (a, b) = (BLOB_HEADER, BLOB_HEADER + BLOB_SEALED_CHUNK);
        let first = swapped[a..b].to_vec();
        swapped.copy_within(b..b + BLOB_SEALED_CHUNK, a);
        swapped[b..b + BLOB_SEALED_CHUNK].copy_from_slice(&first);
        assert!(open_blob(&c, &swapped).is_err());
        let mut flipped = sealed.clone();
        flipped[BLOB_HEADER + 3] ^= 1;
        assert!(open_blob(&c, &flipped).is_err());
        assert!(open_blob(&FieldCipher::random(), &sealed).is_err(), "another key");
        assert!(open_blob(&c, b"<html>").is_err());
    }

    #[test]
    fn round_trip_rotation_and_index() {
        let dir = tempfile_dir();
        let path = dir.join("keys.toml");
        let (c, created) = FieldCipher::load_or_create(&path).unwrap();
        assert!(created);
        let v = c.encrypt("11010519491231002X");
        assert!(v.starts_with("enc:1:") && !v.contains("1101051949"));
        assert_ne!(v, c.encrypt("11010519491231002X"), "random nonce per value");
        assert_eq!(c.decrypt(&v).unwrap(), "11010519491231002X");
        assert_eq!(c.decrypt("plain legacy").unwrap(), "plain legacy");
        let idx = c.blind_index("phone", "13812345678");
        assert_eq!(idx, c.blind_index("phone", "13812345678"));
        assert_ne!(idx, c.blind_index("id_number", "13812345678"));
        // Rotation: a new active key; old values still read; this process
        // learns the new key from the file when it meets a value using it.
        assert_eq!(FieldCipher::rotate(&path).unwrap(), 2);
        let (other, _) = FieldCipher::load_or_create(&path).unwrap();
        let v2 = other.encrypt("x");
        assert!(v2.starts_with("enc:2:"));
        assert_eq!(c.decrypt(&v2).unwrap(), "x");
        assert_eq!(other.decrypt(&v).unwrap(), "11010519491231002X");
        assert_eq!(other.blind_index("phone", "13812345678"), idx, "the index key never rotates");
        // Tampering is detected.
        let mut t = v.clone();
        t.replace_range(t.len() - 3..t.len() - 2, if t.ends_with("A==") { "B" } else { "A" });
        assert!(c.decrypt(&t).is_err() || c.decrypt(&t).unwrap() != "11010519491231002X");
        assert!(FieldCipher::from_toml("active = 3\nindex_key = \"\"\n[keys]\n").is_err());
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("kefu-keys-{}-{}", std::process::id(), random_key()[0]));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
