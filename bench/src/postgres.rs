//! PostgreSQL for the sections that run on it: a fresh database per section, made and
//! dropped by testkit's `TestDb` (as the services' tests make theirs), or why not.

use testkit::TestDb;

/// A fresh database on the server of `--postgres-url`, dropped with the handle; or the
/// note for the report when there is none (`none`, or the server refused).
pub async fn fresh(server: &str) -> Result<TestDb, String> {
    if server == "none" {
        return Err("PostgreSQL skipped (--postgres-url none)".into());
    }
    TestDb::postgres_on(server)
        .await
        .map_err(|e| format!("PostgreSQL skipped: {server}: {e}"))
}
