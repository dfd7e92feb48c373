//! The large SQLite table of the list section: the todo-service's own migrations, then
//! a million rows written in bulk.
//!
//! The bulk INSERT is the one statement the bench owns. `Store::create` writes a row at
//! a time, each in a transaction with its quota update and a durable commit: hours for
//! a million rows. So the rows go in here, in batches, and the test below reads them
//! back through `Store::list_while` and `Store::get`, so a schema change that this
//! INSERT does not follow fails a test instead of changing what the bench measures.
//! Quota rows (`todo_quotas`) are not written: only CreateTodo reads them, and the
//! list section creates nothing.

use std::{
    path::Path,
    str::FromStr,
    time::{Duration, Instant},
};

use sqlx::{
    ConnectOptions, Connection,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
};
use token::UserId;
use uuid::Uuid;

use crate::{DESCRIPTION, Res, err};

/// Rows per INSERT statement.
const BATCH: usize = 100;

/// Creates the SQLite file and applies the todo-service's migrations, as its start-up
/// does.
pub async fn migrate(file: &Path) -> Res<()> {
    let url = format!("sqlite://{}", file.display());
    let pool = common::db::connect(
        &url,
        &common::db::PoolSettings::default(),
        &todo_service::startup::MIGRATOR,
    )
    .await
    .map_err(err("migrate"))?;
    pool.close().await;
    Ok(())
}

/// Writes `rows` todos into the migrated SQLite file, `per_user` for each user, the
/// users' rows interleaved in time as real traffic would leave them; `measured` is the
/// first user. Row `k` is titled `todo k` and is completed when `k % 3 == 0`. The last
/// statement is padded with rows of the last user. Returns how long it took.
pub async fn load(file: &Path, rows: usize, per_user: usize, measured: UserId) -> Res<Duration> {
    let started = Instant::now();
    // Durability is not needed for a table made for one run.
    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
        .map_err(err("sqlite url"))?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off)
        .pragma("cache_size", "-262144")
        .connect()
        .await
        .map_err(err("open sqlite"))?;
    let users: Vec<String> = std::iter::once(measured)
        .chain((1..rows / per_user.max(1)).map(|_| UserId::new()))
        .map(|u| u.to_string())
        .collect();
    let one = "(?, ?, ?, ?, ?, ?, ?)";
    let sql = format!(
        "INSERT INTO todos (id, user_id, title, description, completed, create_time, update_time) VALUES {}",
        vec![one; BATCH].join(", ")
    );
    let base = common::time::Clock::system().now_micros() - 10_000_000_000;
    let total = users.len() * per_user;
    let mut n = 0usize;
    let mut tx = conn.begin().await.map_err(err("begin"))?;
    while n < total {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
        for k in n..n + BATCH {
            // Round-robin over users: row k belongs to user k % users, at time base + k;
            // past the total, the padding goes to the last user.
            let owner = if k < total {
                k % users.len()
            } else {
                users.len() - 1
            };
            let time = base + k as i64;
            q = q
                .bind(Uuid::now_v7().to_string())
                .bind(users[owner].clone())
                .bind(format!("todo {k}"))
                .bind(DESCRIPTION)
                .bind(k % 3 == 0)
                .bind(time)
                .bind(time);
        }
        q.execute(&mut *tx).await.map_err(err("insert"))?;
        n += BATCH;
        if n.is_multiple_of(50_000) {
            tx.commit().await.map_err(err("commit"))?;
            tx = conn.begin().await.map_err(err("begin"))?;
        }
    }
    tx.commit().await.map_err(err("commit"))?;
    sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .map_err(err("checkpoint"))?;
    conn.close().await.map_err(err("close"))?;
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use todo_service::{domain::CreateLimits, store::Store};

    use super::*;

    /// What the loader writes is what the store reads: every column, the order, the
    /// filter, and the plan the list section reports.
    #[tokio::test]
    async fn the_store_reads_the_bulk_rows() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bulk.db");
        migrate(&file).await.unwrap();
        let measured = UserId::new();
        let (rows, per_user) = (250, 50);
        load(&file, rows, per_user, measured).await.unwrap();

        let url = format!("sqlite://{}", file.display());
        let pool = common::db::pool_options(&url, &common::db::PoolSettings::default())
            .connect(&url)
            .await
            .unwrap();
        let store = Store::new(pool, &url, CreateLimits::default()).unwrap();
        let (page, more) = store
            .list_while(measured, None, None, 1000, |_| true)
            .await
            .unwrap();
        assert!(!more);
        assert_eq!(page.len(), per_user);
        // Newest first: the measured user has rows 0, 5, 10, ... (five users).
        let users = rows / per_user;
        for (i, todo) in page.iter().enumerate() {
            let k = (per_user - 1 - i) * users;
            assert_eq!(todo.title, format!("todo {k}"));
            assert_eq!(todo.description, DESCRIPTION);
            assert_eq!(todo.completed, k % 3 == 0, "row {k}");
            assert_eq!(todo.create_time, todo.update_time);
        }
        assert!(page.windows(2).all(|w| w[0].create_time > w[1].create_time));
        let got = store.get(measured, page[0].id).await.unwrap();
        assert_eq!(got.as_ref(), Some(&page[0]));
        assert_eq!(store.get(UserId::new(), page[0].id).await.unwrap(), None);
        let (done, _) = store
            .list_while(measured, Some(true), None, 1000, |_| true)
            .await
            .unwrap();
        assert_eq!(done.len(), page.iter().filter(|t| t.completed).count());

        let plan = crate::plan::first_page(&file, measured).await.unwrap();
        let text = plan.join("; ");
        assert!(
            text.contains("USING INDEX") || text.contains("USING COVERING INDEX"),
            "{text}"
        );
        assert!(
            !text.contains("TEMP B-TREE"),
            "the first page is sorted, not read in order: {text}"
        );
    }
}
