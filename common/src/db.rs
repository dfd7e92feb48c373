//! Database set-up through sqlx's `Any` driver: one set of runtime queries serves SQLite
//! (embedded default) and PostgreSQL (production), chosen by `DATABASE_URL` at run time.
//! Queries use `$N` placeholders, which both drivers accept, and portable column types
//! (TEXT ids, BIGINT microsecond timestamps, BOOLEAN).

use std::time::Duration;

use sqlx::{
    AnyPool, Executor, Row,
    any::{AnyPoolOptions, AnyRow},
    migrate::Migrator,
};

pub use sqlx::AnyPool as Pool;

/// Pool sizing and waiting.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Largest pool (`DATABASE_MAX_CONNECTIONS`); 0 counts as 1, and an in-memory
    /// SQLite database always gets exactly one.
    pub max_connections: u32,
    /// How long a query waits for a free connection (`DATABASE_ACQUIRE_TIMEOUT`) before
    /// failing, which callers answer with `UNAVAILABLE`.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Whether the URL names a SQLite database.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Whether a SQLite URL names an in-memory database, of which each connection has its own.
pub fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The backend a URL names, for logs (the URL itself may hold a password).
pub fn backend(url: &str) -> &'static str {
    if is_sqlite(url) {
        "sqlite"
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        "postgres"
    } else {
        "unknown"
    }
}

/// A SQLite URL that creates the file when missing (unless the URL says otherwise).
fn with_create_mode(url: &str) -> String {
    if !is_sqlite(url) || url.contains("mode=") || is_in_memory(url) {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}mode=rwc")
}

/// The services' pool options for `url`: sizes, timeouts, the SQLite pragmas, and a ping
/// before each use on PostgreSQL only. (The load benchmark opens its pools with these.)
pub fn pool_options(url: &str, settings: &PoolSettings) -> AnyPoolOptions {
    sqlx::any::install_default_drivers();
    let mut options = AnyPoolOptions::new()
        .max_connections(settings.max_connections.max(1))
        .acquire_timeout(settings.acquire_timeout)
        // The ping before each use finds a PostgreSQL connection that went stale. A SQLite
        // file cannot go stale, and there the ping is a round trip to sqlx's connection
        // thread: 25-35% of a short query's rate (BENCHMARKS.md, pool section).
        .test_before_acquire(!is_sqlite(url))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                    // WAL lets readers run beside the writer; synchronous=FULL makes a
                    // commit durable before it is acknowledged.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                }
                Ok(())
            })
        });
    if is_in_memory(url) {
        // Each connection to an in-memory database is a database of its own: keep one.
        options = options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    options
}

/// Opens a pool and applies the migrations.
pub async fn connect(
    url: &str,
    settings: &PoolSettings,
    migrator: &Migrator,
) -> Result<AnyPool, sqlx::Error> {
    let options = pool_options(url, settings);
    let pool = options.connect(&with_create_mode(url)).await?;
    migrator
        .run(&pool)
        .await
        .map_err(|e| sqlx::Error::Migrate(Box::new(e)))?;
    Ok(pool)
}

/// Begins a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`), so concurrent writers wait for the busy timeout instead of
/// failing when a read snapshot cannot be upgraded.
pub async fn begin_write(pool: &AnyPool) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    if pool.connect_options().database_url.scheme() == "sqlite" {
        pool.begin_with("BEGIN IMMEDIATE").await
    } else {
        pool.begin().await
    }
}

/// Whether the database answers, for health reporting.
pub async fn ping(pool: &AnyPool) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), sqlx::query("SELECT 1").execute(pool)).await,
        Ok(Ok(_))
    )
}

/// The id stored as TEXT in `column` of `row`. A value that is not a UUID is a decode
/// error (so `INTERNAL`, logged): the database holds something we never wrote.
pub fn stored_id<Of>(row: &AnyRow, column: &str) -> Result<token::ids::Id<Of>, sqlx::Error> {
    stored_uuid(row, column).map(token::ids::Id::from_uuid)
}

/// [`stored_id`] for ids that name nothing outside their table (events, mails).
pub fn stored_uuid(row: &AnyRow, column: &str) -> Result<uuid::Uuid, sqlx::Error> {
    let text: String = row.try_get(column)?;
    uuid::Uuid::parse_str(&text).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(e),
    })
}

/// Whether the error is a unique-constraint violation.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_files() {
        assert_eq!(with_create_mode("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://a.db?x=1"),
            "sqlite://a.db?x=1&mode=rwc"
        );
        assert_eq!(with_create_mode("sqlite://a.db?mode=ro"), "sqlite://a.db?mode=ro");
        assert_eq!(with_create_mode("postgres://h/db"), "postgres://h/db");
    }
}
