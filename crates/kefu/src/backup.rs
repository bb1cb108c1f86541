//! `kefu backup` and `kefu restore` for the embedded SQLite database.
//!
//! A backup is taken while nodes serve: `VACUUM INTO` reads one consistent
//! snapshot (a WAL read transaction, writers carry on) into a new file,
//! which is fsynced and only then renamed to the name asked for. Evidence
//! files are copied after the snapshot into `<FILE>.attachments/`: a file
//! is written before the ticket row that names it and never changed, so
//! every file the snapshot names is there. The key file is not part of a
//! backup and must be kept with it, separately (without it the customer
//! data does not open; with it in the same place, a stolen backup opens).
//!
//! PostgreSQL deployments back up with PostgreSQL's own tools (pg_dump,
//! or base backups with WAL archiving for point-in-time recovery).

use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// Marks a data directory as served: `serve` holds it shared, `restore`
/// needs it alone (a database replaced under a running node would lose
/// what it writes).
pub fn serve_lock(db: &Path) -> Result<std::fs::File> {
    let f = lock_file(db)?;
    match f.try_lock_shared() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!("{} is being restored; start kefu when that is done", db.display())
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).context("cannot lock the database's lock file"),
    }
}

fn lock_file(db: &Path) -> Result<std::fs::File> {
    let path = PathBuf::from(format!("{}.lock", db.display()));
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))
}

/// Writes a consistent copy of the database (and its evidence files) to `out`.
pub fn backup(db: &Path, attachments: &Path, out: &Path) -> Result<()> {
    if !db.exists() {
        bail!("there is no database at {}", db.display());
    }
    if out.exists() {
        bail!("{} exists; a backup never overwrites a file", out.display());
    }
    let started = std::time::Instant::now();
    let tmp = sibling(out, "partial");
    let _ = std::fs::remove_file(&tmp);
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_context(|| format!("cannot open {}", db.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.execute("VACUUM INTO ?1", [tmp.to_string_lossy()]).context("the snapshot failed")?;
    drop(conn);
    std::fs::File::open(&tmp)?.sync_all()?;
    let summary = check(&tmp)?;
    std::fs::rename(&tmp, out)?;
    sync_dir(out)?;
    let files = copy_new_files(attachments, &sibling(out, "attachments"))?;
    println!(
        "backup written to {} in {:.1} s: {} tickets, {} audit events, schema version {}, {} bytes; {} new evidence files in {}",
        out.display(),
        started.elapsed().as_secs_f64(),
        summary.tickets,
        summary.events,
        summary.version,
        std::fs::metadata(out)?.len(),
        files,
        sibling(out, "attachments").display()
    );
    println!(
        "keep the key file with the backup, but not in the same place: without it the customer data cannot be read"
    );
    Ok(())
}

/// Replaces the database with a backup. No node may be serving it; the
/// database replaced is kept beside it (`<db>.before-restore-<time>`).
pub fn restore(db: &Path, attachments: &Path, search: &Path, input: &Path) -> Result<()> {
    let summary = check(input)?;
    let known = kefu_store_sqlite::known_version();
    if summary.version > known {
        bail!(
            "the backup is at schema version {}, newer than this kefu knows ({known}); restore with that kefu",
            summary.version
        );
    }
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let lock = lock_file(db)?;
    if lock.try_lock().is_err() {
        bail!("a kefu server is running on {}; stop it before restoring", db.display());
    }
    let tmp = sibling(db, "restoring");
    std::fs::copy(input, &tmp).with_context(|| format!("cannot copy {}", input.display()))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    if db.exists() {
        #[allow(clippy::disallowed_methods)] // a file name, not a business time
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = sibling(db, &format!("before-restore-{stamp}"));
        // Checkpoint first so the copy kept aside is whole without its WAL.
        if let Ok(c) = Connection::open(db) {
            let _ = c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
        }
        std::fs::rename(db, &aside)?;
        for ext in ["wal", "shm"] {
            let from = PathBuf::from(format!("{}-{ext}", db.display()));
            if from.exists() {
                std::fs::rename(&from, format!("{}-{ext}", aside.display()))?;
            }
        }
        println!("the database replaced is kept as {}", aside.display());
    }
    std::fs::rename(&tmp, db)?;
    sync_dir(db)?;
    let files = copy_new_files(&sibling(input, "attachments"), attachments)?;
    // An index of the database replaced would not match this one.
    if search.exists() {
        std::fs::remove_dir_all(search).with_context(|| format!("removing {}", search.display()))?;
    }
    println!(
        "restored {} tickets ({} audit events, schema version {}) and {files} evidence files from {}",
        summary.tickets,
        summary.events,
        summary.version,
        input.display()
    );
    drop(lock);
    Ok(())
}

struct Summary {
    version: i64,
    tickets: i64,
    events: i64,
}

/// Opens a backup read-only and checks it is a whole kefu database.
fn check(file: &Path) -> Result<Summary> {
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", file.display()))?;
    let ok: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .with_context(|| format!("{} is not a SQLite database", file.display()))?;
    if ok != "ok" {
        bail!("{} is damaged: {ok}", file.display());
    }
    let count = |sql: &str| -> Result<i64> {
        conn.query_row(sql, [], |r| r.get(0)).with_context(|| format!("{} is not a kefu database", file.display()))
    };
    Ok(Summary {
        version: count("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")?,
        tickets: count("SELECT COUNT(*) FROM tickets")?,
        events: count("SELECT COUNT(*) FROM ticket_events")?,
    })
}

/// `<path>.<ext>`, beside it.
fn sibling(path: &Path, ext: &str) -> PathBuf {
    PathBuf::from(format!("{}.{ext}", path.display()))
}

fn sync_dir(file: &Path) -> Result<()> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Copies the files under `from` that `to` lacks (names are content
/// hashes: a file of the same name is the same file); returns how many.
fn copy_new_files(from: &Path, to: &Path) -> Result<u64> {
    if !from.is_dir() {
        return Ok(0);
    }
    let mut copied = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copied += copy_new_files(&entry.path(), &target)?;
        } else if kind.is_file() && !entry.file_name().to_string_lossy().starts_with('.') && !target.exists() {
            std::fs::create_dir_all(to)?;
            let tmp = to.join(format!(".{}.copying", entry.file_name().to_string_lossy()));
            std::fs::copy(entry.path(), &tmp)?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &target)?;
            copied += 1;
        }
    }
    Ok(copied)
}
