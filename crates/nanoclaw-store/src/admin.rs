//! Database-server administration used by tests and operators: creating a database.

use sea_orm::{ConnectionTrait, Database, DbBackend};

use crate::error::StoreError;

/// Replaces the database name (URL path) of a PostgreSQL/MySQL URL.
pub fn with_database_name(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// Creates database `name` on the server of `server_url` unless it exists. `name` must be a
/// plain identifier (letters, digits, `_`).
pub async fn ensure_database(server_url: &str, name: &str) -> Result<(), StoreError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::Unavailable(format!(
            "invalid database name {name:?}"
        )));
    }
    let db = Database::connect(server_url)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let sql = match db.get_database_backend() {
        DbBackend::MySql => format!("CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"),
        _ => format!("CREATE DATABASE \"{name}\""),
    };
    let result = db.execute_unprepared(&sql).await;
    let _ = db.close().await;
    match result {
        Ok(_) => Ok(()),
        // PostgreSQL has no IF NOT EXISTS here: "already exists" (42P04) or, when two
        // creators race, a unique violation on pg_database.
        Err(e)
            if e.to_string().contains("already exists")
                || crate::error::is_unique_violation(&e) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_path() {
        assert_eq!(
            with_database_name("postgres://u:p@h:5432/postgres", "t1"),
            "postgres://u:p@h:5432/t1"
        );
        assert_eq!(
            with_database_name("mysql://root@127.0.0.1:3306", "t1"),
            "mysql://root@127.0.0.1:3306/t1"
        );
        assert_eq!(
            with_database_name("mysql://root@h/x?ssl-mode=disabled", "t2"),
            "mysql://root@h/t2?ssl-mode=disabled"
        );
    }
}
