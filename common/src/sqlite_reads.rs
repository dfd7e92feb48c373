//! Reads of a SQLite file on the calling thread, beside the sqlx pool that migrates it
//! and writes to it.
//!
//! Why: sqlx runs each SQLite connection on a thread of its own, so every query is a
//! channel send, a wake-up of that thread, and a wake-up back (plus, through `Any`, a
//! conversion of every row). For a read that SQLite answers from its page cache in a few
//! microseconds, those hand-offs are most of the call's cost: `BENCHMARKS.md`, "SQLite
//! reads: sqlx against the calling thread", measures both side by side.
//!
//! What makes running them on the async workers acceptable: every read here is one
//! statement seeking an index with a bounded `LIMIT`, in WAL mode a reader never waits
//! for the writer, and it never holds a connection across an `.await`. Writes stay on
//! sqlx: a commit waits for `fsync`, which must not block a worker.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use rusqlite::{Connection, OpenFlags};

use crate::error::CommonError;

/// How long a read waits on a lock before failing (`UNAVAILABLE`). In WAL mode only a
/// crash recovery or a WAL reset takes a lock a reader waits on, and both are short: a
/// worker must not stall for sqlx's 5 s.
const BUSY_TIMEOUT: Duration = Duration::from_millis(250);

/// Idle connections kept; more are closed when returned. A read never awaits while it
/// holds one, so no more are in use at once than there are threads running reads. (Not
/// r2d2: its pool makes a caller wait for a free connection, which here would block an
/// async worker; opening one more never waits.)
const MAX_IDLE: usize = 16;

/// Read-only connections to one SQLite file, opened when first needed and reused with
/// their prepared statements. Cheap to clone (shared).
#[derive(Clone)]
pub struct SqliteReads {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteReads")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl SqliteReads {
    /// Reads of the file `url` names (a `sqlite:` URL as sqlx parses it), checked by
    /// opening one connection now. `None` for anything else: PostgreSQL, and an in-memory
    /// database, which only the sqlx pool's own connection can see.
    pub fn for_url(url: &str) -> Result<Option<Self>, CommonError> {
        if !crate::db::is_sqlite(url) || crate::db::is_in_memory(url) {
            return Ok(None);
        }
        // sqlx's own parsing, so these connections open the file its pool opened.
        let options = url.parse::<sqlx::sqlite::SqliteConnectOptions>()?;
        let reads = Self {
            inner: Arc::new(Inner {
                path: options.get_filename().to_path_buf(),
                idle: Mutex::new(Vec::new()),
            }),
        };
        let first = reads.open()?;
        reads.put(first);
        Ok(Some(reads))
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `read` on an idle connection (or a new one), on this thread, and keeps the
    /// connection for the next read. `read` must only read: the connection refuses writes.
    pub fn with<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
        let taken = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self.open()?,
        };
        let out = read(&conn);
        // A statement left running (a caller stopped stepping) is reset when its cached
        // handle is reused; the connection itself is fine to keep.
        self.put(conn);
        out
    }

    fn put(&self, conn: Connection) {
        let mut idle = self.inner.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        // Not READ_ONLY: a reader of a WAL database maps and updates its -shm index.
        // `query_only` makes any write fail instead. No CREATE: sqlx made the file.
        let conn = Connection::open_with_flags(
            &self.inner.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "query_only", true)?;
        // Every statement of the store fits; none is parsed twice.
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_get_direct_reads() {
        assert!(SqliteReads::for_url("postgres://h/db").unwrap().is_none());
        assert!(SqliteReads::for_url("sqlite::memory:").unwrap().is_none());
        assert!(
            SqliteReads::for_url("sqlite:file:x?mode=memory&cache=shared")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn reads_see_writes_and_refuse_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        let reads = SqliteReads::for_url(&format!("sqlite://{}", path.display()))
            .unwrap()
            .unwrap();
        assert_eq!(reads.path(), path);
        let count = |r: &SqliteReads| {
            r.with(|c| c.query_row("SELECT count(*) FROM t", [], |row| row.get::<_, i64>(0)))
                .unwrap()
        };
        assert_eq!(count(&reads), 1);
        writer.execute("INSERT INTO t VALUES (2)", []).unwrap();
        assert_eq!(count(&reads), 2, "a committed write is seen by the next read");
        let write = reads.with(|c| c.execute("INSERT INTO t VALUES (3)", []));
        assert!(write.is_err(), "a read connection refuses writes: {write:?}");
        assert_eq!(count(&reads), 2);
    }

    #[test]
    fn a_missing_file_is_an_error_not_a_new_database() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("absent.db").display());
        assert!(SqliteReads::for_url(&url).is_err());
        assert!(!dir.path().join("absent.db").exists());
    }
}
