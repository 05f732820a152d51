//! Repositories: one module per table, methods on [`crate::Store`].

pub mod api_keys;
pub mod audit;
pub mod auth_changes;
pub mod chat_writes;
pub mod conversation_streams;
pub mod conversations;
pub mod credentials;
pub mod messages;
pub mod meta;
pub mod projects;
pub mod sessions;
mod stored_time;
pub mod token_usage;
pub mod users;

use sea_orm::{DbBackend, DbErr, Statement, Value};

/// Database ids are 32-bit; anything else names no row.
pub(crate) fn id_of(id: i64) -> Option<i32> {
    i32::try_from(id).ok()
}

/// A hand-written statement: `?` placeholders, numbered `$1`, `$2`, … for PostgreSQL. (The
/// SQL text itself must contain no other `?`.)
pub(crate) fn statement(
    backend: DbBackend,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// An `i64` stored in a 32-bit column, saturated (callers validate ranges; this only keeps
/// an out-of-range value from becoming a database error).
pub(crate) fn saturate_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX })
}

/// Most rows in one statement whose text grows with its rows (a multi-row INSERT, an `IN`
/// list, a `CASE`).
const MAX_ROWS_PER_STATEMENT: usize = 16;

/// The sizes in which `n` rows go into statements whose text grows with their rows: powers of
/// two, largest first, at most [`MAX_ROWS_PER_STATEMENT`]. Each size is its own statement
/// text, prepared and cached per connection; a few fixed sizes keep that cache small, where
/// one size per row count filled it with large statements used once (3 MB at 1,000 chats).
pub(crate) fn statement_sizes(mut n: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let size = (1 << n.ilog2()).min(MAX_ROWS_PER_STATEMENT);
        n -= size;
        Some(size)
    })
}

/// `items` cut into slices of [`statement_sizes`].
pub(crate) fn in_statement_sizes<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    statement_sizes(items.len()).map(move |size| {
        let (part, tail) = rest.split_at(size);
        rest = tail;
        part
    })
}

/// True when the database aborted the statement to break a deadlock or a serialization
/// conflict (SQLSTATE class 40); running it again is safe.
pub(crate) fn is_deadlock(e: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            match inner.as_ref() {
                Sqlx::Database(db) => db.code().is_some_and(|c| c.starts_with("40")),
                _ => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_come_in_a_few_sizes() {
        let sizes = |n| statement_sizes(n).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(7), [4, 2, 1]);
        assert_eq!(sizes(16), [16]);
        assert_eq!(sizes(37), [16, 16, 4, 1]);
        let items: Vec<u32> = (0..37).collect();
        let parts: Vec<&[u32]> = in_statement_sizes(&items).collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [16, 16, 4, 1]
        );
        assert_eq!(parts.concat(), items);
    }

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        let s = statement(DbBackend::Postgres, "a = ? AND b = ?", [1.into(), 2.into()]);
        assert_eq!(s.sql, "a = $1 AND b = $2");
        let s = statement(DbBackend::MySql, "a = ?", [1.into()]);
        assert_eq!(s.sql, "a = ?");
    }
}
