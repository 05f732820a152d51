//! The audit log: append and read, newest first.

use nanoclaw_core::account::{AuditEntry, AuditRecord};
use nanoclaw_core::time::now_utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, NotSet, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::id_of;
use crate::Store;
use crate::entity::audit_log::{self, Column, Entity as AuditLog};
use crate::error::StoreError;

/// Filters for reading the log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<String>,
    /// Only events where this user is actor or target.
    pub user_id: Option<i64>,
}

fn clip(s: Option<String>, max: usize) -> Option<String> {
    s.map(|s| s.chars().take(max).collect())
}

impl Store {
    /// Appends an event.
    pub async fn record_audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let model = audit_log::ActiveModel {
            id: NotSet,
            created_at: Set(now_utc()),
            action: Set(entry.action.to_owned()),
            outcome: Set(entry.outcome.as_str().to_owned()),
            actor_id: Set(entry.actor_id.and_then(id_of)),
            target_id: Set(entry.target_id.and_then(id_of)),
            username: Set(clip(entry.username, 255)),
            ip: Set(clip(entry.ip, 64)),
            detail: Set(clip(entry.detail, 255)),
        };
        model.insert(&self.db).await?;
        Ok(())
    }

    /// Deletes the events recorded before `before` (audit retention); returns how many.
    pub async fn prune_audit(&self, before: chrono::NaiveDateTime) -> Result<u64, StoreError> {
        Ok(AuditLog::delete_many()
            .filter(Column::CreatedAt.lt(before))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    /// Up to `limit` events older than `before` (an event id), newest first.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let mut q = AuditLog::find().order_by_desc(Column::Id).limit(limit);
        if let Some(b) = before {
            q = q.filter(Column::Id.lt(b));
        }
        if let Some(a) = &filter.action {
            q = q.filter(Column::Action.eq(a.as_str()));
        }
        if let Some(uid) = filter.user_id {
            let uid = id_of(uid).unwrap_or(-1);
            q = q.filter(
                Condition::any()
                    .add(Column::ActorId.eq(uid))
                    .add(Column::TargetId.eq(uid)),
            );
        }
        Ok(q.all(&self.db)
            .await?
            .into_iter()
            .map(AuditRecord::from)
            .collect())
    }
}
