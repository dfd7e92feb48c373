//! All SQL of the todo-service. Every statement is scoped by `user_id`: a todo of
//! another user is indistinguishable from one that does not exist.

use sqlx::{AnyPool, Row, any::AnyRow};
use uuid::Uuid;

use crate::{
    domain::{Changes, Cursor, Description, Title},
    error::TodoError,
};

/// A stored todo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TodoRecord {
    pub id: Uuid,
    pub title: String,
    pub description: String,
    pub completed: bool,
    pub create_time: i64,
    pub update_time: i64,
}

/// `completed` is BOOLEAN in both databases, but sqlx's `Any` driver cannot decode a
/// SQLite BOOLEAN; as an integer expression it decodes the same from both.
const COLUMNS: &str =
    "id, title, description, CASE WHEN completed THEN 1 ELSE 0 END AS completed, create_time, update_time";

fn todo_from_row(row: &AnyRow) -> Result<TodoRecord, TodoError> {
    let id: String = row.try_get("id")?;
    Ok(TodoRecord {
        id: Uuid::parse_str(&id).map_err(|e| TodoError::Internal(format!("stored todo id: {e}")))?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        completed: row.try_get::<i64, _>("completed")? != 0,
        create_time: row.try_get("create_time")?,
        update_time: row.try_get("update_time")?,
    })
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub async fn create(
        &self,
        user_id: Uuid,
        title: &Title,
        description: &Description,
        now: i64,
    ) -> Result<TodoRecord, TodoError> {
        let todo = TodoRecord {
            id: Uuid::now_v7(),
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
        .execute(&self.pool)
        .await?;
        Ok(todo)
    }

    pub async fn get(&self, user_id: Uuid, id: Uuid) -> Result<Option<TodoRecord>, TodoError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM todos WHERE id = $1 AND user_id = $2"
        )))
        .bind(id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(todo_from_row).transpose()
    }

    /// Newest first, `limit` rows after `after`, optionally only with `completed`.
    /// Keyset paging on (create_time, id): an index range scan, not an OFFSET.
    pub async fn list(
        &self,
        user_id: Uuid,
        completed: Option<bool>,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<TodoRecord>, TodoError> {
        // Only fixed fragments go into the text; every value is bound.
        let mut sql = format!("SELECT {COLUMNS} FROM todos WHERE user_id = $1");
        let mut next = 2;
        if completed.is_some() {
            sql.push_str(&format!(" AND completed = ${next}"));
            next += 1;
        }
        if after.is_some() {
            // A row-value comparison, so both databases seek the index to the cursor.
            sql.push_str(&format!(" AND (create_time, id) < (${next}, ${})", next + 1));
            next += 2;
        }
        sql.push_str(&format!(" ORDER BY create_time DESC, id DESC LIMIT ${next}"));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id.to_string());
        if let Some(completed) = completed {
            query = query.bind(completed);
        }
        if let Some(cursor) = after {
            query = query.bind(cursor.create_time).bind(cursor.id.to_string());
        }
        let rows = query
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(todo_from_row).collect()
    }

    /// Applies `changes`; `None` when the caller has no such todo.
    pub async fn update(
        &self,
        user_id: Uuid,
        id: Uuid,
        changes: &Changes,
        now: i64,
    ) -> Result<Option<TodoRecord>, TodoError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE todos SET title = COALESCE($3, title), description = COALESCE($4, description), \
             completed = COALESCE($5, completed), update_time = $6 \
             WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
        )))
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

    /// Whether the caller had such a todo (now deleted).
    pub async fn delete(&self, user_id: Uuid, id: Uuid) -> Result<bool, TodoError> {
        let done = sqlx::query("DELETE FROM todos WHERE id = $1 AND user_id = $2")
            .bind(id.to_string())
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
