//! The SQLite database: opening, schema migrations, backup and restore.

use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{what} {path}: {err}")]
    Io {
        what: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("{0} is not an agora database")]
    NotAgora(PathBuf),
    #[error("{0} fails SQLite's integrity check: {1}")]
    Corrupt(PathBuf, String),
    #[error("{0} comes from a newer agora (schema {1}, this one knows {2})")]
    TooNew(PathBuf, i64, i64),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DbError + 'a {
    move |err| DbError::Io {
        what,
        path: path.to_path_buf(),
        err,
    }
}

/// Each step takes the schema from version `i` to `i + 1`; append, never edit.
const MIGRATIONS: &[&str] = &[
    // 1: polls, votes, boards, columns, notes
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE polls (
        id TEXT PRIMARY KEY, title TEXT NOT NULL, description TEXT NOT NULL,
        kind TEXT NOT NULL, options TEXT NOT NULL, max_choices INTEGER,
        closes_at TEXT, closed INTEGER NOT NULL DEFAULT 0,
        edit_hash TEXT NOT NULL, created_at INTEGER NOT NULL,
        hidden INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE votes (
        id INTEGER PRIMARY KEY, poll_id TEXT NOT NULL REFERENCES polls(id) ON DELETE CASCADE,
        device TEXT NOT NULL, name TEXT NOT NULL, ballot TEXT NOT NULL,
        updated_at INTEGER NOT NULL, hidden INTEGER NOT NULL DEFAULT 0,
        UNIQUE (poll_id, device));
     CREATE TABLE boards (
        id TEXT PRIMARY KEY, title TEXT NOT NULL, created_at INTEGER NOT NULL,
        hidden INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE columns (
        id INTEGER PRIMARY KEY, board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
        position INTEGER NOT NULL, name TEXT NOT NULL);
     CREATE TABLE notes (
        id INTEGER PRIMARY KEY, board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
        column_id INTEGER NOT NULL REFERENCES columns(id) ON DELETE CASCADE,
        position INTEGER NOT NULL, text TEXT NOT NULL, color TEXT NOT NULL,
        updated_at INTEGER NOT NULL, hidden INTEGER NOT NULL DEFAULT 0);
     CREATE INDEX votes_poll ON votes(poll_id);
     CREATE INDEX notes_board ON notes(board_id, column_id, position);
     INSERT INTO meta (key, value) VALUES ('app', 'agora');",
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub fn db_path(data: &Path) -> PathBuf {
    data.join("agora.db")
}

fn pragmas(conn: &Connection) -> Result<(), DbError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // An acknowledged write survives a power cut.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // After a burst of writes, the WAL file shrinks back once checkpointed.
    conn.pragma_update(None, "journal_size_limit", 4 << 20)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Opens (creating if needed) DATA/agora.db and brings its schema up to date.
pub fn open(data: &Path) -> Result<Connection, DbError> {
    std::fs::create_dir_all(data).map_err(io("creating", data))?;
    let mut conn = Connection::open(db_path(data))?;
    pragmas(&conn)?;
    migrate(&mut conn, &db_path(data))?;
    Ok(conn)
}

fn schema_version(conn: &Connection) -> Result<i64, DbError> {
    let has: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
        [],
        |r| r.get(0),
    )?;
    if !has {
        return Ok(0);
    }
    Ok(conn
        .query_row("SELECT max(version) FROM schema_version", [], |r| {
            r.get::<_, Option<i64>>(0)
        })?
        .unwrap_or(0))
}

pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), DbError> {
    let tx = conn.transaction()?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at INTEGER NOT NULL)",
    )?;
    let current = schema_version(&tx)?;
    if current > SCHEMA_VERSION {
        return Err(DbError::TooNew(path.to_path_buf(), current, SCHEMA_VERSION));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            (i as i64 + 1, crate::sys::unix_now()),
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// A value kept in the `meta` table, made by `make` the first time.
pub fn meta_or_init(
    conn: &Connection,
    key: &str,
    make: impl FnOnce() -> String,
) -> Result<String, DbError> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?;
    match v {
        Some(v) => Ok(v),
        None => {
            let v = make();
            conn.execute("INSERT INTO meta (key, value) VALUES (?1, ?2)", (key, &v))?;
            Ok(v)
        }
    }
}

/// Checks that `path` is an agora database this version can take, intact.
pub fn check_file(path: &Path) -> Result<(), DbError> {
    let not = || DbError::NotAgora(path.to_path_buf());
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(|_| not())?;
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|_| not())?;
    if result != "ok" {
        return Err(DbError::Corrupt(path.to_path_buf(), result));
    }
    let app: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'app'", [], |r| r.get(0))
        .optional()
        .map_err(|_| not())?;
    if app.as_deref() != Some("agora") {
        return Err(not());
    }
    let v = schema_version(&conn).map_err(|_| not())?;
    if v == 0 {
        return Err(not());
    }
    if v > SCHEMA_VERSION {
        return Err(DbError::TooNew(path.to_path_buf(), v, SCHEMA_VERSION));
    }
    Ok(())
}

/// A consistent copy of the live database `conn` into `out`, written to a temporary
/// file beside it, synced, then renamed over `out`.
pub fn backup_to(conn: &Connection, out: &Path) -> Result<(), DbError> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "agora-backup.db".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        {
            let mut dest = Connection::open(&tmp)?;
            let b = Backup::new(conn, &mut dest)?;
            b.step(-1)?;
            drop(b);
            // A single file, nothing left in a journal.
            dest.pragma_update(None, "journal_mode", "DELETE")?;
        }
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io("syncing", &tmp))?;
        std::fs::rename(&tmp, out).map_err(io("renaming to", out))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Replaces the content of the live database `conn` with the checked file `src`,
/// in one SQLite transaction (readers see the old or the new, never a mix).
pub fn restore_from(conn: &mut Connection, src: &Path) -> Result<(), DbError> {
    check_file(src)?;
    {
        let source = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let b = Backup::new(&source, conn)?;
        b.step(-1)?;
    }
    pragmas(conn)?;
    migrate(conn, src)?;
    Ok(())
}

/// `agora backup`: DATA/agora.db must exist.
pub fn backup_cli(data: &Path, out: &Path) -> Result<(), DbError> {
    let path = db_path(data);
    if !path.is_file() {
        return Err(DbError::Io {
            what: "no database at",
            path,
            err: std::io::ErrorKind::NotFound.into(),
        });
    }
    let conn = open(data)?;
    backup_to(&conn, out)
}

/// `agora restore`.
pub fn restore_cli(data: &Path, src: &Path) -> Result<(), DbError> {
    check_file(src)?;
    let mut conn = open(data)?;
    restore_from(&mut conn, src)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_idempotent_and_versioned() {
        let dir = tempfile::tempdir().unwrap();
        let c = open(dir.path()).unwrap();
        assert_eq!(schema_version(&c).unwrap(), SCHEMA_VERSION);
        drop(c);
        let c = open(dir.path()).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, SCHEMA_VERSION);
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "FULL");
    }

    #[test]
    fn check_file_refuses_others() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"hello, not a database at all, just text").unwrap();
        assert!(matches!(check_file(&junk), Err(DbError::NotAgora(_))));
        let other = dir.path().join("other.db");
        Connection::open(&other)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert!(matches!(check_file(&other), Err(DbError::NotAgora(_))));
        let c = open(&dir.path().join("d")).unwrap();
        let out = dir.path().join("b.db");
        backup_to(&c, &out).unwrap();
        check_file(&out).unwrap();
    }
}
