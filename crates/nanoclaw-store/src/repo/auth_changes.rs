//! The change feed behind the in-process authentication cache (see the migrations' docs). Rows
//! are written by triggers on `users`, `sessions` and `api_keys`, in the transaction of the
//! change, whoever makes it: this server, another one, the CLI or an operator's SQL.

use chrono::NaiveDateTime;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};

use crate::Store;
use crate::error::StoreError;

const TABLE: &str = "auth_changes";

impl Store {
    /// Changes with an id above `after`, oldest first, as `(change id, user id)`.
    pub async fn auth_changes_after(&self, after: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut q = Query::select();
        q.from(Alias::new(TABLE))
            .columns([Alias::new("id"), Alias::new("user_id")])
            .and_where(Expr::col(Alias::new("id")).gt(after))
            .order_by(Alias::new("id"), Order::Asc)
            .limit(10_000);
        let rows = self.db.query_all(&q).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get_by_index(0)?;
            let user: i32 = row.try_get_by_index(1)?;
            out.push((id, i64::from(user)));
        }
        Ok(out)
    }

    /// The newest change id (0 when there is none).
    pub async fn last_auth_change(&self) -> Result<i64, StoreError> {
        let mut q = Query::select();
        q.from(Alias::new(TABLE))
            .expr(Expr::col(Alias::new("id")).max());
        let row = self.db.query_one(&q).await?;
        Ok(row
            .and_then(|r| r.try_get_by_index::<Option<i64>>(0).ok().flatten())
            .unwrap_or(0))
    }

    /// Deletes changes recorded before `before`.
    pub async fn prune_auth_changes(&self, before: NaiveDateTime) -> Result<u64, StoreError> {
        let mut q = Query::delete();
        q.from_table(Alias::new(TABLE))
            .and_where(Expr::col(Alias::new("created_at")).lt(before));
        Ok(self.db.execute(&q).await?.rows_affected())
    }
}
