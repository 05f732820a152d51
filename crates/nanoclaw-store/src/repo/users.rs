//! Users: lookups, registration, the default user, login bookkeeping and profile changes.

use chrono::NaiveDateTime;
use nanoclaw_core::User;
use nanoclaw_core::user::{AuthSource, DEFAULT_USERNAME, ROLE_ADMIN};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, NotSet, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::id_of;
use crate::Store;
use crate::entity::users::{self, Column, Entity as Users};
use crate::error::{StoreError, UniqueField, is_unique_violation};

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name (already validated).
    pub username: String,
    /// Hash of the password, or `None` for accounts without password login.
    pub password_hash: Option<String>,
    /// E-mail, if any.
    pub email: Option<String>,
    /// `admin` or `user`.
    pub role: String,
    /// Local account or one a trusted proxy created.
    pub auth_source: AuthSource,
}

/// Changes to a profile; `None` leaves a field alone. All are applied in one statement.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// New e-mail (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New avatar (`Some(None)` clears it).
    pub avatar: Option<Option<String>>,
    /// New password hash: also bumps the token version and ends every session (but the one
    /// named by `keep_session`), API key and reset token of the user.
    pub password_hash: Option<String>,
}

impl Store {
    /// The user with this id.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let Some(id) = id_of(id) else { return Ok(None) };
        Ok(Users::find_by_id(id).one(&self.db).await?.map(User::from))
    }

    /// The user with exactly this username (case-sensitive even on a MySQL database adopted
    /// with a case-insensitive collation).
    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let rows = Users::find()
            .filter(Column::Username.eq(username))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .find(|m| m.username == username)
            .map(User::from))
    }

    /// True when a user other than `except` has this e-mail.
    pub async fn email_taken(&self, email: &str, except: Option<i64>) -> Result<bool, StoreError> {
        let mut q = Users::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::Email.eq(email));
        if let Some(id) = except.and_then(id_of) {
            q = q.filter(Column::Id.ne(id));
        }
        Ok(q.into_tuple::<i32>().one(&self.db).await?.is_some())
    }

    /// Creates a user. A concurrent registration of the same username or e-mail is reported as
    /// [`StoreError::Conflict`], never as a database error.
    pub async fn create_user(&self, new: NewUser, now: NaiveDateTime) -> Result<User, StoreError> {
        let (username, email) = (new.username.clone(), new.email.clone());
        match insert_user(&self.db, new, now).await {
            Ok(user) => Ok(user),
            Err(e) if is_unique_violation(&e) => {
                Err(self.which_conflict(&username, email.as_deref()).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Registers a user; when `first_becomes_admin` and no admin exists yet, the new user is an
    /// admin. Serialised on the admins lock row, so two first registrations make one admin.
    pub async fn register_user(
        &self,
        mut new: NewUser,
        now: NaiveDateTime,
        first_becomes_admin: bool,
    ) -> Result<User, StoreError> {
        if !first_becomes_admin {
            return self.create_user(new, now).await;
        }
        let (username, email) = (new.username.clone(), new.email.clone());
        let txn = self.db.begin().await?;
        lock_admins(&txn).await?;
        if !any_admin(&txn).await? {
            new.role = ROLE_ADMIN.into();
        }
        match insert_user(&txn, new, now).await {
            Ok(user) => {
                txn.commit().await?;
                Ok(user)
            }
            Err(e) if is_unique_violation(&e) => {
                drop(txn);
                Err(self.which_conflict(&username, email.as_deref()).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// After a unique violation: which value collided (read back rather than parsed from
    /// three dialects' error texts).
    async fn which_conflict(
        &self,
        username: &str,
        email: Option<&str>,
    ) -> Result<StoreError, StoreError> {
        let email_taken = match email {
            Some(e) => self.email_taken(e, None).await?,
            None => false,
        };
        Ok(StoreError::Conflict(
            if email_taken && self.user_by_username(username).await?.is_none() {
                UniqueField::Email
            } else {
                UniqueField::Username
            },
        ))
    }

    /// The single-mode `default` admin, created if missing. Safe against concurrent creators
    /// (several processes starting at once): the loser of the insert reads the winner's row.
    pub async fn ensure_default_user(&self, now: NaiveDateTime) -> Result<User, StoreError> {
        if let Some(user) = self.user_by_username(DEFAULT_USERNAME).await? {
            return Ok(user);
        }
        let new = NewUser {
            username: DEFAULT_USERNAME.into(),
            password_hash: None,
            email: None,
            role: ROLE_ADMIN.into(),
            auth_source: AuthSource::Local,
        };
        match self.create_user(new, now).await {
            Ok(user) => Ok(user),
            Err(StoreError::Conflict(UniqueField::Username)) => self
                .user_by_username(DEFAULT_USERNAME)
                .await?
                .ok_or_else(|| StoreError::Unavailable("default user vanished".into())),
            Err(e) => Err(e),
        }
    }

    /// Records a successful password login; stores `rehashed` in place of a legacy hash.
    pub async fn record_login(
        &self,
        id: i64,
        now: NaiveDateTime,
        rehashed: Option<String>,
    ) -> Result<(), StoreError> {
        let Some(key) = id_of(id) else { return Ok(()) };
        let mut update = Users::update_many()
            .col_expr(Column::LastLoginAt, Expr::value(now))
            .filter(Column::Id.eq(key));
        let upgrades = rehashed.is_some();
        if let Some(hash) = rehashed {
            update = update.col_expr(Column::PasswordHash, Expr::value(hash));
        }
        let res = update.exec(&self.db).await;
        if upgrades {
            self.changed(id);
        }
        res?;
        Ok(())
    }

    /// Sets `last_login_at = now` unless it is already later than `stale_before` (nanoClaw's
    /// hourly "last seen" debounce). One conditional statement: no read, no race.
    pub async fn touch_last_seen(
        &self,
        id: i64,
        now: NaiveDateTime,
        stale_before: NaiveDateTime,
    ) -> Result<(), StoreError> {
        let Some(id) = id_of(id) else { return Ok(()) };
        Users::update_many()
            .col_expr(Column::LastLoginAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .filter(
                Condition::any()
                    .add(Column::LastLoginAt.is_null())
                    .add(Column::LastLoginAt.lt(stale_before)),
            )
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Applies a profile change in one transaction and returns the updated user (`None` if
    /// the user is gone). With a new password, every earlier token, session (but
    /// `keep_session`), API key and reset token of the user ends in the same transaction.
    pub async fn update_profile(
        &self,
        id: i64,
        change: ProfileUpdate,
        keep_session: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<Option<User>, StoreError> {
        let Some(key) = id_of(id) else {
            return Ok(None);
        };
        let result = self
            .update_profile_in_txn(key, change, keep_session, now)
            .await;
        self.changed(id);
        result
    }

    async fn update_profile_in_txn(
        &self,
        key: i32,
        change: ProfileUpdate,
        keep_session: Option<&str>,
        now: NaiveDateTime,
    ) -> Result<Option<User>, StoreError> {
        let mut update = Users::update_many().filter(Column::Id.eq(key));
        let mut any = false;
        if let Some(email) = change.email {
            update = update.col_expr(Column::Email, Expr::value(email));
            any = true;
        }
        if let Some(avatar) = change.avatar {
            update = update.col_expr(Column::Avatar, Expr::value(avatar));
            any = true;
        }
        let ends_access = change.password_hash.is_some();
        if let Some(hash) = change.password_hash {
            update = update
                .col_expr(Column::PasswordHash, Expr::value(hash))
                .col_expr(Column::TokenVersion, Expr::col(Column::TokenVersion).add(1));
            any = true;
        }
        if !any {
            return Ok(Users::find_by_id(key).one(&self.db).await?.map(User::from));
        }
        let txn = self.db.begin().await?;
        match update.exec(&txn).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(UniqueField::Email));
            }
            Err(e) => return Err(e.into()),
        }
        if ends_access {
            super::credentials::end_credentials(&txn, key, keep_session, now).await?;
        }
        let updated = Users::find_by_id(key).one(&txn).await?.map(User::from);
        txn.commit().await?;
        Ok(updated)
    }

    /// Enables or disables an account (nothing else: the admin API also ends the sessions of
    /// a disabled account). Returns false when no such user exists.
    pub async fn set_user_active(&self, id: i64, active: bool) -> Result<bool, StoreError> {
        let Some(key) = id_of(id) else {
            return Ok(false);
        };
        let res = Users::update_many()
            .col_expr(Column::IsActive, Expr::value(active))
            .filter(Column::Id.eq(key))
            .exec(&self.db)
            .await;
        self.changed(id);
        Ok(res?.rows_affected > 0)
    }

    /// Up to `limit` users with ids above `after`, by id.
    pub async fn users_page(
        &self,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<User>, StoreError> {
        let mut q = Users::find().order_by_asc(Column::Id).limit(limit);
        if let Some(a) = after {
            q = q.filter(Column::Id.gt(a));
        }
        Ok(q.all(&self.db).await?.into_iter().map(User::from).collect())
    }

    /// Every user, by id (for the CLI).
    pub async fn all_users(&self) -> Result<Vec<User>, StoreError> {
        Ok(Users::find()
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(User::from)
            .collect())
    }

    /// Applies an administrator's change in one transaction. Refuses with
    /// [`StoreError::LastAdmin`] to demote or disable the last active admin. A new password
    /// hash bumps `token_version`; a new password or a disable also ends every session, API
    /// key and reset token of the user, in the same transaction. `None` if the user does not
    /// exist.
    pub async fn admin_update_user(
        &self,
        id: i64,
        change: AdminUpdate,
        now: NaiveDateTime,
    ) -> Result<Option<User>, StoreError> {
        let Some(key) = id_of(id) else {
            return Ok(None);
        };
        let result = self.admin_update_in_txn(key, change, now).await;
        self.changed(id);
        result
    }

    async fn admin_update_in_txn(
        &self,
        key: i32,
        change: AdminUpdate,
        now: NaiveDateTime,
    ) -> Result<Option<User>, StoreError> {
        let txn = self.db.begin().await?;
        lock_admins(&txn).await?;
        let Some(current) = Users::find_by_id(key).one(&txn).await? else {
            return Ok(None);
        };
        let loses_admin = current.role == ROLE_ADMIN
            && current.is_active
            && (change.role.as_deref().is_some_and(|r| r != ROLE_ADMIN)
                || change.is_active == Some(false));
        if loses_admin && other_active_admins(&txn, key).await? == 0 {
            return Err(StoreError::LastAdmin);
        }
        let changes_username = change.username.is_some();
        let ends_access = change.password_hash.is_some() || change.is_active == Some(false);
        let mut update = Users::update_many().filter(Column::Id.eq(key));
        if let Some(role) = change.role {
            update = update.col_expr(Column::Role, Expr::value(role));
        }
        if let Some(active) = change.is_active {
            update = update.col_expr(Column::IsActive, Expr::value(active));
        }
        if let Some(email) = change.email {
            update = update.col_expr(Column::Email, Expr::value(email));
        }
        if let Some(hash) = change.password_hash {
            update = update
                .col_expr(Column::PasswordHash, Expr::value(hash))
                .col_expr(Column::TokenVersion, Expr::col(Column::TokenVersion).add(1));
        }
        if let Some(name) = change.username {
            update = update.col_expr(Column::Username, Expr::value(name));
        }
        match update.exec(&txn).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(if changes_username {
                    UniqueField::Username
                } else {
                    UniqueField::Email
                }));
            }
            Err(e) => return Err(e.into()),
        }
        if ends_access {
            super::credentials::end_credentials(&txn, key, None, now).await?;
        }
        let updated = Users::find_by_id(key).one(&txn).await?.map(User::from);
        txn.commit().await?;
        Ok(updated)
    }

    /// Deletes a user and everything they own (conversations, messages, projects, token usage,
    /// sessions, API keys). Refuses with [`StoreError::LastAdmin`] for the last active admin.
    /// False if there was no such user.
    pub async fn delete_user(&self, id: i64) -> Result<bool, StoreError> {
        let Some(key) = id_of(id) else {
            return Ok(false);
        };
        let result = self.delete_in_txn(key).await;
        self.changed(id);
        result
    }

    async fn delete_in_txn(&self, key: i32) -> Result<bool, StoreError> {
        let txn = self.db.begin().await?;
        lock_admins(&txn).await?;
        let Some(current) = Users::find_by_id(key).one(&txn).await? else {
            return Ok(false);
        };
        if current.role == ROLE_ADMIN
            && current.is_active
            && other_active_admins(&txn, key).await? == 0
        {
            return Err(StoreError::LastAdmin);
        }
        // Explicit deletes: databases adopted from nanoClaw have foreign keys without CASCADE.
        let statements = [
            "DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE user_id = ?)",
            "DELETE FROM conversation_streams WHERE conversation_id IN (SELECT id FROM conversations WHERE user_id = ?)",
            "DELETE FROM conversations WHERE user_id = ?",
            "DELETE FROM projects WHERE user_id = ?",
            "DELETE FROM token_usage WHERE user_id = ?",
            "DELETE FROM sessions WHERE user_id = ?",
            "DELETE FROM api_keys WHERE user_id = ?",
            "DELETE FROM password_reset_tokens WHERE user_id = ?",
            "DELETE FROM users WHERE id = ?",
        ];
        let backend = txn.get_database_backend();
        for sql in statements {
            let sql = if backend == sea_orm::DbBackend::Postgres {
                sql.replace('?', "$1")
            } else {
                sql.to_owned()
            };
            txn.execute_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                sql,
                [key.into()],
            ))
            .await?;
        }
        txn.commit().await?;
        Ok(true)
    }

    /// True when some active admin exists.
    pub async fn any_active_admin(&self) -> Result<bool, StoreError> {
        Ok(Users::find()
            .filter(Column::Role.eq(ROLE_ADMIN))
            .filter(Column::IsActive.eq(true))
            .count(&self.db)
            .await?
            > 0)
    }
}

/// Changes an administrator may make; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct AdminUpdate {
    /// New role.
    pub role: Option<String>,
    /// Enable or disable.
    pub is_active: Option<bool>,
    /// New e-mail (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New password hash.
    pub password_hash: Option<String>,
    /// New username (CLI `rename`).
    pub username: Option<String>,
}

async fn insert_user<C: ConnectionTrait>(
    db: &C,
    new: NewUser,
    now: NaiveDateTime,
) -> Result<User, sea_orm::DbErr> {
    let model = users::ActiveModel {
        id: NotSet,
        username: Set(new.username),
        password_hash: Set(new.password_hash),
        email: Set(new.email),
        avatar: Set(None),
        role: Set(new.role),
        is_active: Set(true),
        created_at: Set(Some(now)),
        last_login_at: Set(None),
        token_version: Set(0),
        auth_source: Set(Some(new.auth_source.as_str().to_owned())),
    };
    Ok(model.insert(db).await?.into())
}

/// Serialises changes to the set of admins across connections and processes: an UPDATE of
/// one row holds its lock until the transaction ends (SQLite: the write lock).
async fn lock_admins(txn: &DatabaseTransaction) -> Result<(), sea_orm::DbErr> {
    txn.execute_unprepared("UPDATE nanoclaw_locks SET counter = counter + 1 WHERE name = 'admins'")
        .await?;
    Ok(())
}

async fn any_admin(txn: &DatabaseTransaction) -> Result<bool, sea_orm::DbErr> {
    Ok(Users::find()
        .filter(Column::Role.eq(ROLE_ADMIN))
        .count(txn)
        .await?
        > 0)
}

async fn other_active_admins(
    txn: &DatabaseTransaction,
    except: i32,
) -> Result<u64, sea_orm::DbErr> {
    Users::find()
        .filter(Column::Role.eq(ROLE_ADMIN))
        .filter(Column::IsActive.eq(true))
        .filter(Column::Id.ne(except))
        .count(txn)
        .await
}
