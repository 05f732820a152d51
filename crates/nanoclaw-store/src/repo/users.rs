//! Users: lookups, registration, the default user, login bookkeeping and profile changes.

use chrono::NaiveDateTime;
use nanoclaw_core::User;
use nanoclaw_core::user::{DEFAULT_USERNAME, ROLE_ADMIN};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, NotSet, QueryFilter,
    QuerySelect,
};

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
}

/// Changes to a profile; `None` leaves a field alone. All are applied in one statement.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    /// New e-mail (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New avatar (`Some(None)` clears it).
    pub avatar: Option<Option<String>>,
    /// New password hash; also invalidates every token issued so far.
    pub password_hash: Option<String>,
}

fn id_of(id: i64) -> Option<i32> {
    i32::try_from(id).ok()
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
        let username = new.username.clone();
        let email = new.email.clone();
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
        };
        match model.insert(&self.db).await {
            Ok(m) => Ok(m.into()),
            Err(e) if is_unique_violation(&e) => {
                // Which value collided is read back rather than parsed from three dialects'
                // error texts.
                let email_taken = match &email {
                    Some(e) => self.email_taken(e, None).await?,
                    None => false,
                };
                let field = if email_taken && self.user_by_username(&username).await?.is_none() {
                    UniqueField::Email
                } else {
                    UniqueField::Username
                };
                Err(StoreError::Conflict(field))
            }
            Err(e) => Err(e.into()),
        }
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
        let Some(id) = id_of(id) else { return Ok(()) };
        let mut update = Users::update_many()
            .col_expr(Column::LastLoginAt, Expr::value(now))
            .filter(Column::Id.eq(id));
        if let Some(hash) = rehashed {
            update = update.col_expr(Column::PasswordHash, Expr::value(hash));
        }
        update.exec(&self.db).await?;
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

    /// Applies a profile change in one statement and returns the updated user (`None` if the
    /// user is gone). A new password hash bumps `token_version`, ending every earlier token.
    pub async fn update_profile(
        &self,
        id: i64,
        change: ProfileUpdate,
    ) -> Result<Option<User>, StoreError> {
        let Some(key) = id_of(id) else {
            return Ok(None);
        };
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
        if let Some(hash) = change.password_hash {
            update = update
                .col_expr(Column::PasswordHash, Expr::value(hash))
                .col_expr(Column::TokenVersion, Expr::col(Column::TokenVersion).add(1));
            any = true;
        }
        if any {
            match update.exec(&self.db).await {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::Conflict(UniqueField::Email));
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.user_by_id(id).await
    }

    /// Enables or disables an account. Returns false when no such user exists.
    pub async fn set_user_active(&self, id: i64, active: bool) -> Result<bool, StoreError> {
        let Some(key) = id_of(id) else {
            return Ok(false);
        };
        let res = Users::update_many()
            .col_expr(Column::IsActive, Expr::value(active))
            .filter(Column::Id.eq(key))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected > 0)
    }
}
