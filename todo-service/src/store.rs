//! All SQL of the todo-service. Every statement is scoped by `user_id`: a todo of
//! another user is indistinguishable from one that does not exist.

mod sqlite;

use std::sync::LazyLock;

use common::sqlite_reads::SqliteReads;
use futures::StreamExt;
use sqlx::{AnyPool, Row, any::AnyRow};
use token::UserId;
use uuid::Uuid;

use common::error::CommonError;

use crate::{
    domain::{Changes, CreateLimits, Cursor, Description, Title, TodoId},
    error::TodoError,
};

/// A stored todo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoRecord {
    /// The todo's id (a UUIDv7, so ids sort by creation).
    pub id: TodoId,
    /// The title, trimmed when it was set.
    pub title: String,
    /// The description; empty when none was given.
    pub description: String,
    /// Whether the user marked it done.
    pub completed: bool,
    /// Creation time, microseconds since the epoch: the list's order and its cursor.
    pub create_time: i64,
    /// Last change, microseconds since the epoch; the creation time until updated.
    pub update_time: i64,
}

/// `completed` is BOOLEAN in both databases, but sqlx's `Any` driver cannot decode a
/// SQLite BOOLEAN; as an integer expression it decodes the same from both.
const COLUMNS: &str =
    "id, title, description, CASE WHEN completed THEN 1 ELSE 0 END AS completed, create_time, update_time";

fn todo_from_row(row: &AnyRow) -> Result<TodoRecord, TodoError> {
    Ok(TodoRecord {
        id: common::db::stored_id(row, "id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        completed: row.try_get::<i64, _>("completed")? != 0,
        create_time: row.try_get("create_time")?,
        update_time: row.try_get("update_time")?,
    })
}

/// Every statement of the todo-service, each scoped to a user, over one pool; cheap to
/// clone (the pool is shared). The handlers and the revocation follower (which deletes a
/// deleted account's todos) hold one. On a SQLite file, reads go to it on the calling
/// thread (`sqlite` below); everything else, and every write, goes through sqlx.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    reads: Option<SqliteReads>,
    limits: CreateLimits,
}

/// Counts the create against the user's quota and rate, in `tx`: one conditional UPDATE
/// of the user's `todo_quotas` row, so concurrent creates (on any replica) queue on that
/// row and each sees the count the one before left. The rate is a GCRA: `create_tat` is
/// when the user's schedule of creates at the sustained rate has caught up; a create is
/// admitted while that stays within the burst of now. `false` when either refuses.
const ADMIT: &str = "UPDATE todo_quotas SET todo_count = todo_count + 1, \
     create_tat = (CASE WHEN create_tat > $2 THEN create_tat ELSE $2 END) + $3 \
     WHERE user_id = $1 AND todo_count < $4 \
     AND (CASE WHEN create_tat > $2 THEN create_tat ELSE $2 END) + $3 <= $2 + $5";

/// The statement [`Store::list_while`] sends, filtered by `completed` or not, after a
/// cursor or not. Binds, in order: the user id, `completed` if filtered, the cursor's
/// `create_time` and id if paging, the limit. Public so that the load benchmark asks
/// SQLite for the plan of this very statement.
pub fn list_statement(filtered: bool, paging: bool) -> String {
    // Only fixed fragments go into the text; every value is bound.
    let mut sql = format!("SELECT {COLUMNS} FROM todos WHERE user_id = $1");
    let mut next = 2;
    if filtered {
        sql.push_str(&format!(" AND completed = ${next}"));
        next += 1;
    }
    if paging {
        // A row-value comparison, so both databases seek the index to the cursor.
        sql.push_str(&format!(" AND (create_time, id) < (${next}, ${})", next + 1));
        next += 2;
    }
    sql.push_str(&format!(" ORDER BY create_time DESC, id DESC LIMIT ${next}"));
    sql
}

/// The statements assembled from `COLUMNS`, made once: a call neither formats one nor
/// hashes a new text into a statement cache (sqlx's or rusqlite's).
static GET: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COLUMNS} FROM todos WHERE id = $1 AND user_id = $2"));
static UPDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE todos SET title = COALESCE($3, title), description = COALESCE($4, description), \
         completed = COALESCE($5, completed), update_time = $6 \
         WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    )
});
static LIST: LazyLock<[String; 4]> = LazyLock::new(|| {
    [(false, false), (false, true), (true, false), (true, true)].map(|(f, p)| list_statement(f, p))
});

/// [`list_statement`], made once.
fn list_sql(filtered: bool, paging: bool) -> &'static str {
    &LIST[usize::from(filtered) * 2 + usize::from(paging)]
}

/// Every statement that reads todos without writing: the ones SQLite reads run directly.
fn read_statements() -> impl Iterator<Item = &'static str> {
    std::iter::once(GET.as_str()).chain(LIST.iter().map(String::as_str))
}

impl Store {
    /// The statements over `pool` (already migrated from `database_url`), enforcing
    /// `limits` on create. Fails when a SQLite file cannot be opened for reading.
    pub fn new(pool: AnyPool, database_url: &str, limits: CreateLimits) -> Result<Self, TodoError> {
        let reads = SqliteReads::for_url(database_url)?;
        if let Some(reads) = &reads {
            sqlite::check_statements(reads).map_err(CommonError::from)?;
        }
        Ok(Self { pool, reads, limits })
    }

    /// The same statements with every one through sqlx, reads included: the store as it
    /// was before direct SQLite reads, kept for the benchmark's side-by-side.
    pub fn through_sqlx(pool: AnyPool, limits: CreateLimits) -> Self {
        Self {
            pool,
            reads: None,
            limits,
        }
    }

    /// Inserts a todo if the user's quota and creation rate allow it.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn create(
        &self,
        user_id: UserId,
        title: &Title,
        description: &Description,
        now: i64,
    ) -> Result<TodoRecord, TodoError> {
        let user = user_id.to_string();
        let limits = self.limits;
        let mut tx = common::db::begin_write(&self.pool).await?;
        let mut admitted = false;
        for _ in 0..3 {
            admitted = sqlx::query(ADMIT)
                .bind(&user)
                .bind(now)
                .bind(limits.interval_micros())
                .bind(i64::from(limits.max_todos))
                .bind(limits.burst_micros())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if admitted {
                break;
            }
            let row = sqlx::query("SELECT todo_count, create_tat FROM todo_quotas WHERE user_id = $1")
                .bind(&user)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                // The user's first todo: make the row (a concurrent first create may
                // make it too), then admit against it.
                sqlx::query(
                    "INSERT INTO todo_quotas (user_id, todo_count, create_tat) VALUES ($1, 0, 0) \
                     ON CONFLICT (user_id) DO NOTHING",
                )
                .bind(&user)
                .execute(&mut *tx)
                .await?;
                continue;
            };
            let (count, tat): (i64, i64) = (row.try_get("todo_count")?, row.try_get("create_tat")?);
            if count >= i64::from(limits.max_todos) {
                return Err(TodoError::QuotaExceeded {
                    max: limits.max_todos,
                });
            }
            let wait = tat.max(now) + limits.interval_micros() - (now + limits.burst_micros());
            if wait > 0 {
                return Err(TodoError::rate_limited(
                    limits.creates_per_minute,
                    std::time::Duration::from_micros(wait.unsigned_abs()),
                ));
            }
            // Neither refuses: the row is a concurrent first create's, committed after
            // the UPDATE looked (PostgreSQL, READ COMMITTED). Admit against it now.
        }
        if !admitted {
            return Err(TodoError::internal("todo quota row missing after insert"));
        }
        let todo = TodoRecord {
            id: TodoId::from_uuid(Uuid::now_v7()),
            title: title.as_str().to_owned(),
            description: description.as_str().to_owned(),
            completed: false,
            create_time: now,
            update_time: now,
        };
        sqlx::query(
            "INSERT INTO todos (id, user_id, title, description, completed, create_time, update_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(todo.id.to_string())
        .bind(user_id.to_string())
        .bind(&todo.title)
        .bind(&todo.description)
        .bind(todo.completed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(todo)
    }

    /// The user's todo `id`; `None` when it does not exist or is another user's (the
    /// same answer, `NOT_FOUND`).
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn get(&self, user_id: UserId, id: TodoId) -> Result<Option<TodoRecord>, TodoError> {
        if let Some(reads) = &self.reads {
            return Ok(sqlite::get(reads, user_id, id).map_err(CommonError::from)?);
        }
        let row = sqlx::query(GET.as_str())
            .bind(id.to_string())
            .bind(user_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(todo_from_row).transpose()
    }

    /// Newest first, up to `limit` rows after `after`, optionally only with `completed`,
    /// as long as `accept` takes them: rows are read one by one, and reading stops at
    /// the first one refused (so a page cut short by its byte budget is not read whole).
    /// Also says whether a row was refused, that is whether more follow.
    /// Keyset paging on (create_time, id): an index range scan, not an OFFSET.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn list_while(
        &self,
        user_id: UserId,
        completed: Option<bool>,
        after: Option<Cursor>,
        limit: usize,
        mut accept: impl FnMut(&TodoRecord) -> bool + Send,
    ) -> Result<(Vec<TodoRecord>, bool), TodoError> {
        if let Some(reads) = &self.reads {
            let listed = sqlite::list_while(reads, user_id, completed, after, limit, &mut accept);
            return Ok(listed.map_err(CommonError::from)?);
        }
        let sql = list_sql(completed.is_some(), after.is_some());
        let mut query = sqlx::query(sql).bind(user_id.to_string());
        if let Some(completed) = completed {
            query = query.bind(completed);
        }
        if let Some(cursor) = after {
            query = query.bind(cursor.create_time).bind(cursor.id.to_string());
        }
        let mut rows = query
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch(&self.pool);
        let mut todos = Vec::new();
        while let Some(row) = rows.next().await {
            let todo = todo_from_row(&row?)?;
            if !accept(&todo) {
                return Ok((todos, true));
            }
            todos.push(todo);
        }
        Ok((todos, false))
    }

    /// Applies `changes`; `None` when the caller has no such todo.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn update(
        &self,
        user_id: UserId,
        id: TodoId,
        changes: &Changes,
        now: i64,
    ) -> Result<Option<TodoRecord>, TodoError> {
        let row = sqlx::query(UPDATE.as_str())
            .bind(id.to_string())
            .bind(user_id.to_string())
            .bind(changes.title.as_ref().map(|t| t.as_str().to_owned()))
            .bind(changes.description.as_ref().map(|d| d.as_str().to_owned()))
            .bind(changes.completed)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(todo_from_row).transpose()
    }

    /// Whether the caller had such a todo (now deleted, and its quota freed).
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn delete(&self, user_id: UserId, id: TodoId) -> Result<bool, TodoError> {
        let user = user_id.to_string();
        let mut tx = common::db::begin_write(&self.pool).await?;
        let done = sqlx::query("DELETE FROM todos WHERE id = $1 AND user_id = $2")
            .bind(id.to_string())
            .bind(&user)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE todo_quotas SET todo_count = todo_count - 1 WHERE user_id = $1 AND todo_count > 0",
        )
        .bind(&user)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes everything of a deleted account: its todos and its quota row. Deleting
    /// again finds nothing and changes nothing.
    #[tracing::instrument(target = "db", level = "debug", skip_all)]
    pub async fn delete_user(&self, user_id: UserId) -> Result<u64, TodoError> {
        let user = user_id.to_string();
        let mut tx = common::db::begin_write(&self.pool).await?;
        let done = sqlx::query("DELETE FROM todos WHERE user_id = $1")
            .bind(&user)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM todo_quotas WHERE user_id = $1")
            .bind(&user)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
