//! The store's reads on SQLite, on the calling thread (`common::sqlite_reads` says why).
//! The same statements as through sqlx (`super::read_statements`), bound by
//! position: each is checked at start-up to number its parameters `$1`, `$2`, … in
//! the order SQLite counts them.

use common::sqlite_reads::SqliteReads;
use rusqlite::{Row, Statement, types::Type};
use token::UserId;
use uuid::Uuid;

use super::{GET, TodoRecord, list_sql, read_statements};
use crate::domain::{Cursor, TodoId};

/// Refuses to start if a read statement's parameters are not `$1..$N` in SQLite's
/// order, the assumption binding by position rests on.
pub(super) fn check_statements(reads: &SqliteReads) -> rusqlite::Result<()> {
    reads.with(|conn| read_statements().try_for_each(|sql| numbered_in_order(&*conn.prepare_cached(sql)?)))
}

/// Whether SQLite counts `stmt`'s parameters as their names say: `$1` first, and so on.
fn numbered_in_order(stmt: &Statement<'_>) -> rusqlite::Result<()> {
    for index in 1..=stmt.parameter_count() {
        if stmt.parameter_name(index) != Some(format!("${index}").as_str()) {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "parameter {index} of a read statement is not ${index}"
            )));
        }
    }
    Ok(())
}

fn text_id(id: Uuid, buf: &mut [u8; uuid::fmt::Hyphenated::LENGTH]) -> &str {
    id.hyphenated().encode_lower(buf)
}

fn record(row: &Row<'_>) -> rusqlite::Result<TodoRecord> {
    let id = row.get_ref(0)?.as_str()?;
    let id = Uuid::parse_str(id)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Text, Box::new(e)))?;
    Ok(TodoRecord {
        id: TodoId::from_uuid(id),
        title: row.get(1)?,
        description: row.get(2)?,
        completed: row.get::<_, i64>(3)? != 0,
        create_time: row.get(4)?,
        update_time: row.get(5)?,
    })
}

/// [`super::Store::get`] on SQLite.
pub(super) fn get(reads: &SqliteReads, user_id: UserId, id: TodoId) -> rusqlite::Result<Option<TodoRecord>> {
    let (mut id_buf, mut user_buf) = ([0; 36], [0; 36]);
    let (id, user) = (
        text_id(id.uuid(), &mut id_buf),
        text_id(user_id.uuid(), &mut user_buf),
    );
    reads.with(|conn| {
        let mut stmt = conn.prepare_cached(&GET)?;
        let mut rows = stmt.query((id, user))?;
        rows.next()?.map(record).transpose()
    })
}

/// [`super::Store::list_while`] on SQLite.
pub(super) fn list_while(
    reads: &SqliteReads,
    user_id: UserId,
    completed: Option<bool>,
    after: Option<Cursor>,
    limit: usize,
    accept: &mut dyn FnMut(&TodoRecord) -> bool,
) -> rusqlite::Result<(Vec<TodoRecord>, bool)> {
    reads.with(|conn| {
        let mut stmt = list(conn, user_id, completed, after, limit)?;
        let mut rows = stmt.raw_query();
        let mut todos = Vec::new();
        while let Some(row) = rows.next()? {
            let todo = record(row)?;
            if !accept(&todo) {
                return Ok((todos, true));
            }
            todos.push(todo);
        }
        Ok((todos, false))
    })
}

/// The list statement for these arguments, with its parameters bound.
fn list<'c>(
    conn: &'c rusqlite::Connection,
    user_id: UserId,
    completed: Option<bool>,
    after: Option<Cursor>,
    limit: usize,
) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let mut stmt = conn.prepare_cached(list_sql(completed.is_some(), after.is_some()))?;
    let mut buf = [0; 36];
    stmt.raw_bind_parameter(1, text_id(user_id.uuid(), &mut buf))?;
    let mut next = 2;
    if let Some(completed) = completed {
        stmt.raw_bind_parameter(next, completed)?;
        next += 1;
    }
    if let Some(cursor) = after {
        stmt.raw_bind_parameter(next, cursor.create_time)?;
        stmt.raw_bind_parameter(next + 1, text_id(cursor.id.uuid(), &mut buf))?;
        next += 2;
    }
    stmt.raw_bind_parameter(next, i64::try_from(limit).unwrap_or(i64::MAX))?;
    Ok(stmt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_numbered_out_of_order_are_refused() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (a, b)").unwrap();
        let ok = conn.prepare("SELECT a FROM t WHERE a = $1 AND b = $2").unwrap();
        assert!(numbered_in_order(&ok).is_ok());
        // SQLite numbers `$2` first here: bound by position, the values would swap.
        let swapped = conn.prepare("SELECT a FROM t WHERE b = $2 AND a = $1").unwrap();
        assert!(numbered_in_order(&swapped).is_err());
    }
}
