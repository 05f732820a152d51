//! Conversations: create, read (owned only), the keyset-paginated list, patch, delete with
//! their messages, the automatic title; and the project lookups they need.

use chrono::NaiveDateTime;
use nanoclaw_core::chat::{Conversation, ConversationPatch, NEW_CHAT_TITLE, NewConversation, Page};
use sea_orm::sea_query::{Expr, LockType, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryResult, QuerySelect, TransactionTrait, Value,
};

use super::stored_time::time_at;
use super::{id_of, in_statement_sizes, saturate_i32, statement};
use crate::Store;
use crate::entity::conversation_streams::{self, Entity as Streams};
use crate::entity::conversations::{self, Column, Entity as Conversations};
use crate::entity::messages::{self, Entity as Messages};
use crate::entity::projects::{self, Entity as Projects};
use crate::error::StoreError;

/// The conversation columns, qualified by `c`.
const COLUMNS: &str = "c.id, c.user_id, c.project_id, c.title, c.model, c.system_prompt, \
    c.temperature, c.max_tokens, c.thinking_enabled, c.created_at, c.updated_at";

/// A row of `COLUMNS` plus `project_name` and, when `counted`, `message_count`.
fn conversation_of(
    row: &QueryResult,
    backend: DbBackend,
    counted: bool,
) -> Result<Conversation, DbErr> {
    // Column by column rather than derived, for the timestamps: see `stored_time`.
    let model = conversations::Model {
        id: row.try_get("", "id")?,
        user_id: row.try_get("", "user_id")?,
        project_id: row.try_get("", "project_id")?,
        title: row.try_get("", "title")?,
        model: row.try_get("", "model")?,
        system_prompt: row.try_get("", "system_prompt")?,
        temperature: row.try_get("", "temperature")?,
        max_tokens: row.try_get("", "max_tokens")?,
        thinking_enabled: row.try_get("", "thinking_enabled")?,
        created_at: time_at(row, backend, "created_at")?,
        updated_at: time_at(row, backend, "updated_at")?,
    };
    let project_name: Option<String> = row.try_get("", "project_name")?;
    let count = if counted {
        Some(row.try_get::<i64>("", "message_count")?)
    } else {
        None
    };
    Ok(model.into_core(project_name, count))
}

impl Store {
    /// Creates a conversation with a new UUID v4 id. The caller has checked that
    /// `project_id`, if any, is a project of the owner.
    pub async fn create_conversation(
        &self,
        new: NewConversation,
        now: NaiveDateTime,
    ) -> Result<Conversation, StoreError> {
        let user_id = id_of(new.user_id)
            .ok_or_else(|| StoreError::Unavailable("user id out of range".into()))?;
        let project_name = match &new.project_id {
            Some(p) => self.project_name(p).await?,
            None => None,
        };
        let model = conversations::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            user_id: Set(user_id),
            project_id: Set(new.project_id),
            title: Set(new.title),
            model: Set(new.model),
            system_prompt: Set(Some(new.system_prompt)),
            temperature: Set(new.temperature),
            max_tokens: Set(saturate_i32(new.max_tokens)),
            thinking_enabled: Set(Some(new.thinking_enabled)),
            created_at: Set(Some(now)),
            updated_at: Set(Some(now)),
        };
        Ok(model.insert(&self.db).await?.into_core(project_name, None))
    }

    /// The user's conversation with this id, with its project's name; `None` when there is
    /// none or it belongs to someone else.
    pub async fn conversation(
        &self,
        user_id: i64,
        id: &str,
    ) -> Result<Option<Conversation>, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT {COLUMNS}, p.name AS project_name FROM conversations c \
             LEFT JOIN projects p ON p.id = c.project_id WHERE c.id = ? AND c.user_id = ?"
        );
        let backend = self.db.get_database_backend();
        let stmt = statement(backend, &sql, [id.into(), uid.into()]);
        match self.db.query_one_raw(stmt).await? {
            Some(row) => Ok(Some(conversation_of(&row, backend, false)?)),
            None => Ok(None),
        }
    }

    /// One page of the user's conversations, newest `(updated_at, id)` first, each with its
    /// message count and project name (one query when the page has items). `cursor` is the id
    /// of the last item of the previous page; `project_id` keeps only conversations bound to
    /// that project. `None` when the cursor is not one of the user's conversations (a 400, not
    /// a silent restart).
    pub async fn conversations_page(
        &self,
        user_id: i64,
        project_id: Option<&str>,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<Option<Page<Conversation>>, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(cursor.is_none().then(empty_page));
        };
        let limit = limit.max(1);
        let backend = self.db.get_database_backend();
        // MariaDB, asked for whole rows at once, often walks the index from the newest row
        // down to the cursor instead of starting at the cursor (10,000 rows read for a page
        // from the middle of a long list): there the page's ids are chosen first from the
        // (user_id, updated_at, id) index alone, and only those rows are read and joined.
        // SQLite and PostgreSQL walk that index in order from the cursor and stop after
        // `limit + 1` rows; the two-step form would only add a sort (a fifth of SQLite's time
        // for the newest page).
        let two_step = backend == DbBackend::MySql;
        let a = if two_step { "s" } else { "c" };
        let mut filter = format!("{a}.user_id = ?");
        let mut values: Vec<Value> = vec![uid.into()];
        if let Some(p) = project_id {
            filter.push_str(&format!(" AND {a}.project_id = ?"));
            values.push(p.into());
        }
        if let Some(c) = cursor {
            // The cursor row's timestamp is compared in SQL, never read and bound back: SQLite
            // keeps timestamps as text, and nanoClaw's rows spell them differently from ours,
            // so a round trip could move the boundary. A cursor that is not one of the user's
            // conversations matches no row (and is told apart below).
            filter.push_str(&format!(
                " AND {a}.updated_at <= (SELECT k.updated_at FROM conversations k \
                 WHERE k.id = ? AND k.user_id = ?) \
                 AND ({a}.updated_at < (SELECT k.updated_at FROM conversations k \
                 WHERE k.id = ? AND k.user_id = ?) OR {a}.id < ?)"
            ));
            values.extend([c.into(), uid.into(), c.into(), uid.into(), c.into()]);
        }
        let order = format!(
            "ORDER BY {a}.updated_at DESC, {a}.id DESC LIMIT {}",
            limit.saturating_add(1)
        );
        let selected = format!(
            "SELECT {COLUMNS}, p.name AS project_name, \
             (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count"
        );
        let sql = if two_step {
            format!(
                "{selected} FROM (SELECT s.id FROM conversations s WHERE {filter} {order}) sel \
                 JOIN conversations c ON c.id = sel.id \
                 LEFT JOIN projects p ON p.id = c.project_id \
                 ORDER BY c.updated_at DESC, c.id DESC"
            )
        } else {
            format!(
                "{selected} FROM conversations c LEFT JOIN projects p ON p.id = c.project_id \
                 WHERE {filter} {order}"
            )
        };
        let rows = self
            .db
            .query_all_raw(statement(backend, &sql, values))
            .await?;
        if rows.is_empty()
            && let Some(c) = cursor
            && !self.conversation_owned(uid, c).await?
        {
            return Ok(None);
        }
        let items = rows
            .iter()
            .map(|r| conversation_of(r, backend, true))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(page(items, limit, |c| &c.id)))
    }

    /// Whether `id` is a conversation of the user `uid`.
    pub(crate) async fn conversation_owned(&self, uid: i32, id: &str) -> Result<bool, StoreError> {
        Ok(Conversations::find_by_id(id.to_owned())
            .filter(Column::UserId.eq(uid))
            .select_only()
            .column(Column::Id)
            .into_tuple::<String>()
            .one(&self.db)
            .await?
            .is_some())
    }

    /// Applies the given fields of `patch` to the user's conversation and refreshes
    /// `updated_at` when something actually changed (the frontend autosaves its whole settings
    /// form; an unchanged form must not move the conversation to the top of the list). A new
    /// `project_id` must have been checked by the caller. `None` when the conversation is not
    /// the user's.
    pub async fn patch_conversation(
        &self,
        user_id: i64,
        id: &str,
        patch: ConversationPatch,
        now: NaiveDateTime,
    ) -> Result<Option<Conversation>, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(None);
        };
        let Some(current) = Conversations::find_by_id(id.to_owned())
            .filter(Column::UserId.eq(uid))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let mut update = Conversations::update_many()
            .filter(Column::Id.eq(id))
            .filter(Column::UserId.eq(uid));
        let mut changed = false;
        if let Some(v) = patch.title.filter(|v| *v != current.title) {
            update = update.col_expr(Column::Title, Expr::value(v));
            changed = true;
        }
        if let Some(v) = patch.model.filter(|v| *v != current.model) {
            update = update.col_expr(Column::Model, Expr::value(v));
            changed = true;
        }
        if let Some(v) = patch
            .system_prompt
            .filter(|v| current.system_prompt.as_deref() != Some(v.as_str()))
        {
            update = update.col_expr(Column::SystemPrompt, Expr::value(v));
            changed = true;
        }
        if let Some(v) = patch.temperature.filter(|v| *v != current.temperature) {
            update = update.col_expr(Column::Temperature, Expr::value(v));
            changed = true;
        }
        if let Some(v) = patch
            .max_tokens
            .map(saturate_i32)
            .filter(|v| *v != current.max_tokens)
        {
            update = update.col_expr(Column::MaxTokens, Expr::value(v));
            changed = true;
        }
        if let Some(v) = patch
            .thinking_enabled
            .filter(|v| Some(*v) != current.thinking_enabled)
        {
            update = update.col_expr(Column::ThinkingEnabled, Expr::value(v));
            changed = true;
        }
        if let Some(v) = patch.project_id.filter(|v| *v != current.project_id) {
            update = update.col_expr(Column::ProjectId, Expr::value(v));
            changed = true;
        }
        if changed {
            update
                .col_expr(Column::UpdatedAt, Expr::value(now))
                .exec(&self.db)
                .await?;
        }
        self.conversation(user_id, id).await
    }

    /// Deletes the user's conversation, its messages and its stream lock in one transaction.
    /// False when it is not the user's.
    pub async fn delete_conversation(&self, user_id: i64, id: &str) -> Result<bool, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(false);
        };
        let txn = self.db.begin().await?;
        if txn.get_database_backend() != DbBackend::Sqlite {
            // Lock the row first, so that a message inserted meanwhile (its foreign key check)
            // waits for the delete and then fails instead of being left orphaned.
            let owned = Conversations::find_by_id(id.to_owned())
                .filter(Column::UserId.eq(uid))
                .select_only()
                .column(Column::Id)
                .lock_exclusive()
                .into_tuple::<String>()
                .one(&txn)
                .await?;
            if owned.is_none() {
                return Ok(false);
            }
        }
        // SQLite: the first statement writes, so the transaction holds the write lock from the
        // start (a read first could not be upgraded once another connection has written).
        // Messages are deleted explicitly: databases adopted from nanoClaw have foreign keys
        // without CASCADE.
        let owned = || {
            Query::select()
                .column(Column::Id)
                .from(Conversations)
                .and_where(Column::Id.eq(id))
                .and_where(Column::UserId.eq(uid))
                .to_owned()
        };
        Messages::delete_many()
            .filter(messages::Column::ConversationId.in_subquery(owned()))
            .exec(&txn)
            .await?;
        Streams::delete_many()
            .filter(conversation_streams::Column::ConversationId.in_subquery(owned()))
            .exec(&txn)
            .await?;
        let deleted = Conversations::delete_many()
            .filter(Column::Id.eq(id))
            .filter(Column::UserId.eq(uid))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok(deleted > 0)
    }

    /// True when `project_id` is a project of the user.
    pub async fn project_owned(&self, user_id: i64, project_id: &str) -> Result<bool, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(false);
        };
        Ok(Projects::find_by_id(project_id.to_owned())
            .filter(projects::Column::UserId.eq(uid))
            .select_only()
            .column(projects::Column::Id)
            .into_tuple::<String>()
            .one(&self.db)
            .await?
            .is_some())
    }

    /// The name of the project with this id, if it exists.
    pub async fn project_name(&self, project_id: &str) -> Result<Option<String>, StoreError> {
        Ok(Projects::find_by_id(project_id.to_owned())
            .select_only()
            .column(projects::Column::Name)
            .into_tuple::<String>()
            .one(&self.db)
            .await?)
    }
}

/// A page with no items.
fn empty_page<T>() -> Page<T> {
    Page {
        items: Vec::new(),
        next_cursor: None,
        has_more: false,
    }
}

/// Cuts the `limit + 1` rows fetched to a page; the cursor is the id of the page's last row.
pub(crate) fn page<T>(mut items: Vec<T>, limit: u64, id: impl Fn(&T) -> &String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if has_more {
        items.last().map(|i| id(i).clone())
    } else {
        None
    };
    Page {
        items,
        next_cursor,
        has_more,
    }
}

/// The conversations whose title is still unset: `""`, `NULL` or [`NEW_CHAT_TITLE`].
fn untitled() -> Condition {
    Condition::any()
        .add(Column::Title.is_null())
        .add(Column::Title.eq(""))
        .add(Column::Title.eq(NEW_CHAT_TITLE))
}

/// Sets the title (and `updated_at`) of each `(id, title, at)` whose conversation's title is
/// still unset; returns the ids it titled. The ids must differ. The untitled rows are
/// selected first (locked, where the database can lock rows, so nothing renames them before
/// the update), then updated together.
pub(crate) async fn set_titles_if_untitled(
    db: &impl ConnectionTrait,
    titles: &[(&str, &str, NaiveDateTime)],
) -> Result<Vec<String>, StoreError> {
    // PostgreSQL: the lock a plain UPDATE takes, which lets others insert rows that
    // reference the conversation meanwhile; MySQL knows only FOR UPDATE (SQLite: none, the
    // transaction already holds the database's write lock).
    let lock = if db.get_database_backend() == DbBackend::Postgres {
        LockType::NoKeyUpdate
    } else {
        LockType::Update
    };
    let mut untitled_ids: Vec<String> = Vec::new();
    for part in in_statement_sizes(titles) {
        untitled_ids.extend(
            Conversations::find()
                .select_only()
                .column(Column::Id)
                .filter(Column::Id.is_in(part.iter().map(|(id, _, _)| *id)))
                .filter(untitled())
                .lock(lock)
                .into_tuple::<String>()
                .all(db)
                .await?,
        );
    }
    let chosen: Vec<_> = titles
        .iter()
        .filter(|(id, _, _)| untitled_ids.iter().any(|u| u == id))
        .collect();
    for part in in_statement_sizes(&chosen) {
        let Some(((first_id, first_title, first_at), rest)) = part.split_first() else {
            continue;
        };
        let is = |id: &str| Column::Id.eq(id);
        let mut title = Expr::case(is(first_id), *first_title);
        let mut updated_at = Expr::case(is(first_id), *first_at);
        for (id, t, at) in rest {
            title = title.case(is(id), *t);
            updated_at = updated_at.case(is(id), *at);
        }
        Conversations::update_many()
            .col_expr(
                Column::Title,
                title.finally(Expr::col(Column::Title)).into(),
            )
            .col_expr(
                Column::UpdatedAt,
                updated_at.finally(Expr::col(Column::UpdatedAt)).into(),
            )
            .filter(Column::Id.is_in(part.iter().map(|(id, _, _)| *id)))
            .filter(untitled())
            .exec(db)
            .await?;
    }
    Ok(chosen.iter().map(|(id, _, _)| (*id).to_owned()).collect())
}
