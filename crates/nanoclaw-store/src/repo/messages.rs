//! Messages of a conversation. Callers check that the conversation is the user's first,
//! except for the page, which checks it itself.
//!
//! A conversation is ordered by `(created_at, id)`: two messages stored in the same
//! microsecond (or second, on a MySQL database adopted from nanoClaw) still have one order,
//! and every page, history and "delete from here" uses that same order.

use chrono::NaiveDateTime;
use nanoclaw_core::chat::{Message, Page, role};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QueryResult, Value,
};

use super::conversations::page;
use super::stored_time::time_at;
use super::{id_of, saturate_i32, statement, statement_sizes};
use crate::Store;
use crate::entity::messages::{self, Column, Entity as Messages};
use crate::error::StoreError;

/// A row of the message columns, column by column rather than derived, for the timestamp:
/// see `stored_time`.
fn message_of(row: &QueryResult, backend: DbBackend) -> Result<Message, DbErr> {
    Ok(messages::Model {
        id: row.try_get("", "id")?,
        conversation_id: row.try_get("", "conversation_id")?,
        role: row.try_get("", "role")?,
        content: row.try_get("", "content")?,
        token_count: row.try_get("", "token_count")?,
        created_at: time_at(row, backend, "created_at")?,
    }
    .into())
}

/// What [`Store::messages_page`] found.
#[derive(Debug)]
pub enum MessagesPage {
    /// The page (possibly empty).
    Page(Page<Message>),
    /// The conversation does not exist or is someone else's.
    NoConversation,
    /// The cursor is not a message of this conversation.
    UnknownCursor,
}

impl Store {
    /// Stores a message with a new UUID v4 id. `content` is the JSON document of api.md §2.3.
    pub async fn insert_message(
        &self,
        conversation_id: &str,
        role: &str,
        content: String,
        token_count: i64,
        now: NaiveDateTime,
    ) -> Result<Message, StoreError> {
        insert(&self.db, conversation_id, role, content, token_count, now).await
    }

    /// One page of the user's conversation's messages (api.md §5.1, rebuild semantics): the
    /// `limit` messages just older than `cursor` (or the newest ones without a cursor), oldest
    /// first; `next_cursor` is the page's oldest message when older ones exist.
    ///
    /// One query when the page has messages: the ownership check rides along as an
    /// uncorrelated `EXISTS` (evaluated once), and an unknown cursor yields no rows. Only an
    /// empty result is looked at again, to tell an empty page from a conversation that is not
    /// the user's or a cursor that is not one of its messages.
    pub async fn messages_page(
        &self,
        user_id: i64,
        conversation_id: &str,
        cursor: Option<&str>,
        limit: u64,
    ) -> Result<MessagesPage, StoreError> {
        let Some(uid) = id_of(user_id) else {
            return Ok(MessagesPage::NoConversation);
        };
        let limit = limit.max(1);
        let mut sql = String::from(
            "SELECT m.id, m.conversation_id, m.role, m.content, m.token_count, m.created_at \
             FROM messages m WHERE m.conversation_id = ? \
             AND EXISTS (SELECT 1 FROM conversations o WHERE o.id = ? AND o.user_id = ?)",
        );
        let mut values: Vec<Value> =
            vec![conversation_id.into(), conversation_id.into(), uid.into()];
        if let Some(c) = cursor {
            // Compared in SQL rather than bound back: see `conversations_page`. The cursor
            // must be a message of this conversation: any other id matches no row.
            sql.push_str(
                " AND m.created_at <= (SELECT k.created_at FROM messages k \
                 WHERE k.id = ? AND k.conversation_id = ?) \
                 AND (m.created_at < (SELECT k.created_at FROM messages k \
                 WHERE k.id = ? AND k.conversation_id = ?) OR m.id < ?)",
            );
            values.extend([
                c.into(),
                conversation_id.into(),
                c.into(),
                conversation_id.into(),
                c.into(),
            ]);
        }
        sql.push_str(&format!(
            " ORDER BY m.created_at DESC, m.id DESC LIMIT {}",
            limit.saturating_add(1)
        ));
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all_raw(statement(backend, &sql, values))
            .await?
            .iter()
            .map(|row| message_of(row, backend))
            .collect::<Result<Vec<_>, _>>()?;
        if rows.is_empty() {
            if !self.conversation_owned(uid, conversation_id).await? {
                return Ok(MessagesPage::NoConversation);
            }
            if let Some(c) = cursor
                && self.message(conversation_id, c).await?.is_none()
            {
                return Ok(MessagesPage::UnknownCursor);
            }
        }
        let mut page = page(rows, limit, |m: &Message| &m.id);
        // Fetched newest first; shown oldest first, and the next page continues above the
        // oldest one shown.
        page.items.reverse();
        if page.has_more {
            page.next_cursor = page.items.first().map(|m| m.id.clone());
        }
        Ok(MessagesPage::Page(page))
    }

    /// The message with this id in this conversation.
    pub async fn message(
        &self,
        conversation_id: &str,
        id: &str,
    ) -> Result<Option<Message>, StoreError> {
        Ok(Messages::find_by_id(id.to_owned())
            .filter(Column::ConversationId.eq(conversation_id))
            .one(&self.db)
            .await?
            .map(Message::from))
    }

    /// Deletes one message of this conversation; false when there is no such message.
    pub async fn delete_message(
        &self,
        conversation_id: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        Ok(Messages::delete_many()
            .filter(Column::Id.eq(id))
            .filter(Column::ConversationId.eq(conversation_id))
            .exec(&self.db)
            .await?
            .rows_affected
            > 0)
    }

    /// Deletes the message `id` and every later message of the conversation (by
    /// `(created_at, id)`) in one statement, for regenerate. Returns how many were deleted
    /// (0 when `id` is not a message of the conversation).
    pub async fn delete_messages_from(
        &self,
        conversation_id: &str,
        id: &str,
    ) -> Result<u64, StoreError> {
        // One statement, so nothing to interleave with. The inner derived table lets MySQL
        // read the table it deletes from (error 1093 otherwise).
        let at = "(SELECT t.created_at FROM \
                  (SELECT k.created_at FROM messages k WHERE k.id = ? AND k.conversation_id = ?) t)";
        let sql = format!(
            "DELETE FROM messages WHERE conversation_id = ? \
             AND (id = ? OR created_at > {at} OR (created_at = {at} AND id > ?))"
        );
        let values: [Value; 7] = [
            conversation_id.into(),
            id.into(),
            id.into(),
            conversation_id.into(),
            id.into(),
            conversation_id.into(),
            id.into(),
        ];
        Ok(self
            .db
            .execute_raw(statement(self.db.get_database_backend(), &sql, values))
            .await?
            .rows_affected())
    }

    /// The conversation's messages for the model, oldest first, without `tool` rows.
    pub async fn conversation_history(
        &self,
        conversation_id: &str,
    ) -> Result<Vec<Message>, StoreError> {
        Ok(Messages::find()
            .filter(Column::ConversationId.eq(conversation_id))
            .filter(Column::Role.ne(role::TOOL))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(Message::from)
            .collect())
    }
}

/// [`Store::insert_message`] on `db` (a connection or a transaction).
pub(crate) async fn insert(
    db: &impl ConnectionTrait,
    conversation_id: &str,
    role: &str,
    content: String,
    token_count: i64,
    now: NaiveDateTime,
) -> Result<Message, StoreError> {
    let mut stored = insert_all(
        db,
        vec![NewMessage {
            conversation_id,
            role,
            content,
            token_count,
            at: now,
        }],
    )
    .await?;
    stored
        .pop()
        .ok_or_else(|| StoreError::Unavailable("no message was stored".into()))
}

/// A message to store with [`insert_all`].
pub(crate) struct NewMessage<'a> {
    pub conversation_id: &'a str,
    pub role: &'a str,
    /// The JSON document of api.md §2.3.
    pub content: String,
    pub token_count: i64,
    pub at: NaiveDateTime,
}

/// Bytes above which the messages of one INSERT are inserted one by one instead: a MySQL
/// server refuses a statement larger than its `max_allowed_packet` (4 MiB by default on
/// MySQL 5.7, 16 MiB on MariaDB), and content is not all a row sends.
const BYTES_PER_INSERT: usize = 1 << 20;
/// What a row sends besides its content, roughly (ids, role, count, timestamp, framing).
const ROW_OVERHEAD: usize = 256;

/// Stores the messages, each with a new UUID v4 id, in as few statements as their number and
/// size allow; returns them in the same order, as written: nothing is read back, every
/// column is known here. (A `created_at` column without fractional seconds, on a MySQL
/// database adopted from nanoClaw, stores the time rounded; the returned value keeps its
/// microseconds.)
pub(crate) async fn insert_all(
    db: &impl ConnectionTrait,
    new: Vec<NewMessage<'_>>,
) -> Result<Vec<Message>, StoreError> {
    let mut stored = Vec::with_capacity(new.len());
    let mut rows = Vec::with_capacity(new.len());
    for m in new {
        let token_count = saturate_i32(m.token_count);
        let message = Message {
            id: uuid::Uuid::new_v4().to_string(),
            conversation_id: m.conversation_id.to_owned(),
            role: m.role.to_owned(),
            content: m.content,
            token_count: i64::from(token_count),
            created_at: m.at,
        };
        rows.push(messages::ActiveModel {
            id: Set(message.id.clone()),
            conversation_id: Set(message.conversation_id.clone()),
            role: Set(message.role.clone()),
            content: Set(Some(message.content.clone())),
            token_count: Set(Some(token_count)),
            created_at: Set(Some(message.created_at)),
        });
        stored.push(message);
    }
    let mut rows = rows.into_iter();
    let mut first = 0;
    for size in statement_sizes(stored.len()) {
        let part = &stored[first..first + size];
        first += size;
        let bytes: usize = part.iter().map(|m| m.content.len() + ROW_OVERHEAD).sum();
        let rows = rows.by_ref().take(size);
        if bytes > BYTES_PER_INSERT {
            for row in rows {
                Messages::insert(row).exec_without_returning(db).await?;
            }
        } else {
            Messages::insert_many(rows)
                .exec_without_returning(db)
                .await?;
        }
    }
    Ok(stored)
}
