//! The store's reads on SQLite, on the calling thread (`common::sqlite_reads` says why).
//! The same statements as through sqlx (`COLUMNS`, [`list_statement`]), bound by
//! position: each is checked at start-up to number its parameters `$1`, `$2`, … in
//! the order SQLite counts them.

use std::sync::LazyLock;

use common::sqlite_reads::SqliteReads;
use rusqlite::{Connection, Row, Statement, types::Type};
use token::UserId;
use uuid::Uuid;

use super::{COLUMNS, TodoRecord, list_statement};
use crate::domain::{Cursor, TodoId};

static GET: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COLUMNS} FROM todos WHERE id = $1 AND user_id = $2"));

/// The four list statements, by `filtered as usize * 2 + paging as usize`: made once,
/// so a call neither formats one nor hashes a new text into the statement cache.
static LIST: LazyLock<[String; 4]> = LazyLock::new(|| {
    [
        list_statement(false, false),
        list_statement(false, true),
        list_statement(true, false),
        list_statement(true, true),
    ]
});

/// Refuses to start if a statement's parameters are not `$1..$N` in SQLite's order, the
/// assumption binding by position rests on.
pub(super) fn check_statements(reads: &SqliteReads) -> rusqlite::Result<()> {
    reads.with(|conn| {
        for sql in std::iter::once(&*GET).chain(LIST.iter()) {
            let stmt = conn.prepare_cached(sql)?;
            for index in 1..=stmt.parameter_count() {
                if stmt.parameter_name(index) != Some(format!("${index}").as_str()) {
                    return Err(rusqlite::Error::InvalidParameterName(format!(
                        "parameter {index} of `{sql}` is not ${index}"
                    )));
                }
            }
        }
        Ok(())
    })
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
    conn: &'c Connection,
    user_id: UserId,
    completed: Option<bool>,
    after: Option<Cursor>,
    limit: usize,
) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let sql = &LIST[usize::from(completed.is_some()) * 2 + usize::from(after.is_some())];
    let mut stmt = conn.prepare_cached(sql)?;
    let mut buf = [0; 36];
    bind(&mut stmt, 1, text_id(user_id.uuid(), &mut buf))?;
    let mut next = 2;
    if let Some(completed) = completed {
        bind(&mut stmt, next, completed)?;
        next += 1;
    }
    if let Some(cursor) = after {
        bind(&mut stmt, next, cursor.create_time)?;
        bind(&mut stmt, next + 1, text_id(cursor.id.uuid(), &mut buf))?;
        next += 2;
    }
    bind(&mut stmt, next, i64::try_from(limit).unwrap_or(i64::MAX))?;
    Ok(stmt)
}

fn bind(stmt: &mut Statement<'_>, index: usize, value: impl rusqlite::ToSql) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(index, value)
}
