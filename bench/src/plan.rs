//! SQLite's plan for the todo-service's first-page query, shown under the list table:
//! the statement is the store's own (`store::list_statement`), so the plan is the one
//! the service gets.

use std::{path::Path, str::FromStr};

use sqlx::{ConnectOptions, Connection, Row, sqlite::SqliteConnectOptions};
use todo_service::store;
use token::UserId;

use crate::{Res, err};

/// The plan's lines for `user`'s first page of 20 (the handler asks for one row more,
/// to know whether another page follows).
pub async fn first_page(file: &Path, user: UserId) -> Res<Vec<String>> {
    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
        .map_err(err("sqlite url"))?
        .connect()
        .await
        .map_err(err("open sqlite"))?;
    let sql = format!("EXPLAIN QUERY PLAN {}", store::list_statement(false, false));
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user.to_string())
        .bind(21_i64)
        .fetch_all(&mut conn)
        .await
        .map_err(err("explain"))?;
    let plan = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>("detail").ok())
        .collect();
    let _ = conn.close().await;
    Ok(plan)
}
