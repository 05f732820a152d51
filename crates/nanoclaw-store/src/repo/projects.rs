//! Projects: create, read (owned only), the keyset-paginated list with its total, update of
//! the name and description, and delete with the project's conversations.

use chrono::NaiveDateTime;
use nanoclaw_core::chat::Page;
use nanoclaw_core::project::{NewProject, Project, ProjectPatch};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter, QueryResult, QuerySelect,
    TransactionTrait, Value,
};

use super::conversations::page;
use super::{id_of, statement};
use crate::Store;
use crate::entity::projects::{self, Column, Entity as Projects};
use crate::error::{StoreError, UniqueField, is_unique_violation};

/// The project columns, qualified by `p`, and the number of conversations bound to it.
const COLUMNS: &str = "p.id, p.user_id, p.name, p.path, p.description, p.created_at, \
    p.updated_at, (SELECT COUNT(*) FROM conversations c WHERE c.project_id = p.id) \
    AS conversation_count";

/// The list's sort key. nanoClaw's columns are nullable: a row without `updated_at` sorts by
/// `created_at`, and one with neither as the oldest, exactly as [`Project`] reports them (a
/// NULL in a keyset comparison would drop the row from every page).
fn sort_key(alias: &str) -> String {
    format!("COALESCE({alias}.updated_at, {alias}.created_at, ?)")
}

/// The time a row without timestamps reports (see `entity::or_epoch`).
fn epoch() -> Value {
    NaiveDateTime::default().into()
}

fn project_of(row: &QueryResult) -> Result<Project, DbErr> {
    let model = projects::Model::from_query_result(row, "")?;
    let count: i64 = row.try_get("", "conversation_count")?;
    Ok(model.into_core(Some(count)))
}

/// A unique violation on insert or update is the `(user_id, name)` index: the only unique key
/// a write here can break (ids are fresh UUIDs).
fn name_conflict(e: DbErr) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Conflict(UniqueField::ProjectName)
    } else {
        e.into()
    }
}

impl Store {
    /// Creates a project with a new UUID v4 id; [`StoreError::Conflict`] with
    /// [`UniqueField::ProjectName`] when the owner already has one of that name.
    pub async fn create_project(
        &self,
        new: NewProject,
        now: NaiveDateTime,
    ) -> Result<Project, StoreError> {
        self.create_project_with_id(uuid::Uuid::new_v4().to_string(), new, now)
            .await
    }

    /// Creates a project with the given id (the server picks it before the folder, so that
    /// both can be named alike); conflicts as [`Store::create_project`].
    pub async fn create_project_with_id(
        &self,
        id: String,
        new: NewProject,
        now: NaiveDateTime,
    ) -> Result<Project, StoreError> {
        let user_id = id_of(new.user_id)
            .ok_or_else(|| StoreError::Unavailable("user id out of range".into()))?;
        let model = projects::ActiveModel {
            id: Set(id),
            user_id: Set(user_id),
            name: Set(new.name.into()),
            path: Set(new.path),
            description: Set(Some(new.description)),
            created_at: Set(Some(now)),
            updated_at: Set(Some(now)),
        };
        let created = model.insert(&self.db).await.map_err(name_conflict)?;
        Ok(created.into_core(Some(0)))
    }

    /// The user's project with this id and its conversation count; `None` when there is none
    /// or it belongs to someone else.
    pub async fn project(&self, user_id: i64, id: &str) -> Result<Option<Project>, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(None);
        };
        let sql = format!("SELECT {COLUMNS} FROM projects p WHERE p.id = ? AND p.user_id = ?");
        let stmt = statement(
            self.db.get_database_backend(),
            &sql,
            [id.into(), uid.into()],
        );
        match self.db.query_one_raw(stmt).await? {
            Some(row) => Ok(Some(project_of(&row)?)),
            None => Ok(None),
        }
    }

    /// True when the user has a project named exactly `name`.
    pub async fn project_name_taken(&self, user_id: i64, name: &str) -> Result<bool, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(false);
        };
        Ok(Projects::find()
            .filter(Column::UserId.eq(uid))
            .filter(Column::Name.eq(name))
            .select_only()
            .column(Column::Id)
            .into_tuple::<String>()
            .one(&self.db)
            .await?
            .is_some())
    }

    /// One page of the user's projects, most recently updated first (keyset on
    /// `(updated_at, id)`), each with its conversation count, and the number of the user's
    /// projects. `cursor` is the id of the last item of the previous page; `None` when it is
    /// not one of the user's projects (a 400, not a silent restart).
    pub async fn projects_page(
        &self,
        user_id: i64,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Option<(Page<Project>, u64)>, StoreError> {
        let Some(uid) = id_of(user_id) else {
            let empty = Page {
                items: Vec::new(),
                next_cursor: None,
                has_more: false,
            };
            return Ok(cursor.is_none().then_some((empty, 0)));
        };
        if let Some(c) = cursor
            && !self.project_owned(user_id, c).await?
        {
            return Ok(None);
        }
        let limit = limit.max(1);
        let key = sort_key("p");
        let mut sql = format!("SELECT {COLUMNS} FROM projects p WHERE p.user_id = ?");
        let mut values: Vec<Value> = vec![uid.into()];
        if let Some(c) = cursor {
            // Compared in SQL, never read and bound back (see conversations_page).
            let anchor = format!("(SELECT {} FROM projects k WHERE k.id = ?)", sort_key("k"));
            sql.push_str(&format!(
                " AND {key} <= {anchor} AND ({key} < {anchor} OR p.id < ?)"
            ));
            values.extend([epoch(), epoch(), c.into()]);
            values.extend([epoch(), epoch(), c.into(), c.into()]);
        }
        sql.push_str(&format!(
            " ORDER BY {key} DESC, p.id DESC LIMIT {}",
            limit.saturating_add(1)
        ));
        values.push(epoch());
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(statement(backend, &sql, values))
            .await?;
        let items = rows.iter().map(project_of).collect::<Result<Vec<_>, _>>()?;
        let total = Projects::find()
            .filter(Column::UserId.eq(uid))
            .count(&self.db)
            .await?;
        Ok(Some((page(items, limit, |p| &p.id), total)))
    }

    /// Applies `patch` to the user's project, refreshing `updated_at` when something actually
    /// changed. `None` when the project is not the user's; a taken name is
    /// [`StoreError::Conflict`] with [`UniqueField::ProjectName`].
    pub async fn update_project(
        &self,
        user_id: i64,
        id: &str,
        patch: ProjectPatch,
        now: NaiveDateTime,
    ) -> Result<Option<Project>, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(None);
        };
        let Some(current) = Projects::find_by_id(id.to_owned())
            .filter(Column::UserId.eq(uid))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let mut update = Projects::update_many()
            .filter(Column::Id.eq(id))
            .filter(Column::UserId.eq(uid));
        let mut changed = false;
        if let Some(name) = patch.name.filter(|n| n.as_str() != current.name) {
            update = update.col_expr(Column::Name, Expr::value(String::from(name)));
            changed = true;
        }
        if let Some(d) = patch
            .description
            .filter(|d| current.description.as_deref() != Some(d.as_str()))
        {
            update = update.col_expr(Column::Description, Expr::value(d));
            changed = true;
        }
        if changed {
            update
                .col_expr(Column::UpdatedAt, Expr::value(now))
                .exec(&self.db)
                .await
                .map_err(name_conflict)?;
        }
        self.project(user_id, id).await
    }

    /// Deletes the user's project with its conversations, their messages and stream locks, in
    /// one transaction. False when it is not the user's.
    ///
    /// Conversations of other users that name this project (only possible in databases
    /// adopted from nanoClaw, which did not check) are unbound rather than deleted: they are
    /// not the caller's to delete.
    pub async fn delete_project(&self, user_id: i64, id: &str) -> Result<bool, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(false);
        };
        let txn = self.db.begin().await?;
        let backend = txn.get_database_backend();
        let owned = if backend == DbBackend::Sqlite {
            // SQLite: the first statement writes, so the transaction holds the write lock from
            // the start (a read first could not be upgraded once another connection has
            // written). SQLite counts a matched row as changed even when the value is the same.
            txn.execute_raw(statement(
                backend,
                "UPDATE projects SET id = id WHERE id = ? AND user_id = ?",
                [id.into(), uid.into()],
            ))
            .await?
            .rows_affected()
                > 0
        } else {
            // Lock the row first, so that a conversation bound to it meanwhile (its foreign
            // key check) waits for the delete and then fails instead of being left dangling.
            Projects::find_by_id(id.to_owned())
                .filter(Column::UserId.eq(uid))
                .select_only()
                .column(Column::Id)
                .lock_exclusive()
                .into_tuple::<String>()
                .one(&txn)
                .await?
                .is_some()
        };
        if !owned {
            return Ok(false);
        }
        // Explicit deletes: databases adopted from nanoClaw have foreign keys without CASCADE.
        let of_project = "SELECT id FROM conversations WHERE project_id = ? AND user_id = ?";
        let statements = [
            format!("DELETE FROM messages WHERE conversation_id IN ({of_project})"),
            format!("DELETE FROM conversation_streams WHERE conversation_id IN ({of_project})"),
            "DELETE FROM conversations WHERE project_id = ? AND user_id = ?".to_owned(),
        ];
        for sql in statements {
            txn.execute_raw(statement(backend, &sql, [id.into(), uid.into()]))
                .await?;
        }
        txn.execute_raw(statement(
            backend,
            "UPDATE conversations SET project_id = NULL WHERE project_id = ?",
            [id.into()],
        ))
        .await?;
        let deleted = txn
            .execute_raw(statement(
                backend,
                "DELETE FROM projects WHERE id = ? AND user_id = ?",
                [id.into(), uid.into()],
            ))
            .await?
            .rows_affected();
        txn.commit().await?;
        Ok(deleted > 0)
    }
}
