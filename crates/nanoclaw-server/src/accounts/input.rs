//! Parsing the auth request bodies into checked values, with nanoClaw's messages and check
//! order (spec auth.md §5) and a 400 for every wrong type or over-long field.

use nanoclaw_core::auth::policy::PasswordPolicy;
use nanoclaw_core::user::limits;

use crate::error::{ApiResult, AppError};
use crate::http::body::JsonObject;

const REQUIRED: &str = "Username and password are required";

/// `POST /api/auth/login` body.
pub struct LoginInput {
    /// Trimmed username.
    pub username: String,
    /// Password as sent.
    pub password: String,
}

impl LoginInput {
    /// Check 1 of the login table: both present and non-empty.
    pub fn parse(body: &JsonObject) -> ApiResult<Self> {
        let username = body.str_field("username")?.unwrap_or_default().trim();
        let password = body.str_field("password")?.unwrap_or_default();
        if username.is_empty() || password.is_empty() {
            return Err(AppError::bad_request(REQUIRED));
        }
        if password.chars().count() > limits::PASSWORD_MAX {
            // Cannot match any stored password; refuse before spending a hash on it.
            return Err(AppError::Unauthorized(
                "Invalid username or password".into(),
            ));
        }
        Ok(Self {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }
}

/// `POST /api/auth/register` body.
pub struct RegisterInput {
    /// Trimmed username, 2..=50 code points.
    pub username: String,
    /// The password.
    pub password: String,
    /// Trimmed e-mail, `None` when empty.
    pub email: Option<String>,
}

impl RegisterInput {
    /// Checks 2–5 of the register table (the password policy in place of the length rule).
    pub fn parse(body: &JsonObject, policy: &PasswordPolicy) -> ApiResult<Self> {
        let username = body.str_field("username")?.unwrap_or_default().trim();
        let password = body.str_field("password")?.unwrap_or_default();
        let email = body.str_field("email")?.unwrap_or_default().trim();
        if username.is_empty() || password.is_empty() {
            return Err(AppError::bad_request(REQUIRED));
        }
        let len = username.chars().count();
        if !(limits::USERNAME_MIN..=limits::USERNAME_MAX).contains(&len) {
            return Err(AppError::bad_request("Username must be 2-50 characters"));
        }
        if username.chars().any(char::is_control) {
            return Err(AppError::bad_request(
                "Username must not contain control characters",
            ));
        }
        policy
            .check(password, &[username])
            .map_err(AppError::bad_request)?;
        let email = check_email(email)?;
        Ok(Self {
            username: username.to_owned(),
            password: password.to_owned(),
            email,
        })
    }
}

/// `PATCH /api/auth/profile` body.
pub struct ProfileInput {
    /// New e-mail (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New avatar (`Some(None)` clears it).
    pub avatar: Option<Option<String>>,
    /// New password.
    pub password: Option<String>,
    /// The current password, required for a password change in multi mode.
    pub current_password: Option<String>,
}

impl ProfileInput {
    /// Type, length and format checks, in the spec's order (email, avatar, password).
    pub fn parse(body: &JsonObject, policy: &PasswordPolicy, context: &[&str]) -> ApiResult<Self> {
        let email = body
            .str_field("email")?
            .map(|e| check_email(e.trim()))
            .transpose()?;
        let avatar = match body.nullable_str_field("avatar")? {
            Some(Some(a)) if a.chars().count() > limits::AVATAR_MAX => {
                return Err(AppError::bad_request(format!(
                    "Avatar must be at most {} characters",
                    limits::AVATAR_MAX
                )));
            }
            Some(Some("")) => Some(None),
            Some(a) => Some(a.map(str::to_owned)),
            None => None,
        };
        let password = body.str_field("password")?;
        if let Some(p) = password {
            policy.check(p, context).map_err(AppError::bad_request)?;
        }
        let current_password = body.str_field("current_password")?;
        Ok(Self {
            email,
            avatar,
            password: password.map(str::to_owned),
            current_password: current_password.map(str::to_owned),
        })
    }
}

/// Empty → `None`; otherwise must contain `@` and fit the column.
pub fn check_email(email: &str) -> ApiResult<Option<String>> {
    if email.is_empty() {
        return Ok(None);
    }
    if !email.contains('@') || email.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(AppError::bad_request("Invalid email format"));
    }
    if email.chars().count() > limits::EMAIL_MAX {
        return Err(AppError::bad_request(format!(
            "Email must be at most {} characters",
            limits::EMAIL_MAX
        )));
    }
    Ok(Some(email.to_owned()))
}

/// `POST /api/auth/reset-password` body.
pub struct ResetInput {
    /// The reset token.
    pub token: String,
    /// The new password.
    pub new_password: String,
}

impl ResetInput {
    /// Both fields are required strings.
    pub fn parse(body: &JsonObject) -> ApiResult<Self> {
        let token = body.str_field("token")?.unwrap_or_default().trim();
        let new_password = body.str_field("new_password")?.unwrap_or_default();
        if token.is_empty() || new_password.is_empty() {
            return Err(AppError::bad_request("Token and new_password are required"));
        }
        Ok(Self {
            token: token.to_owned(),
            new_password: new_password.to_owned(),
        })
    }
}
