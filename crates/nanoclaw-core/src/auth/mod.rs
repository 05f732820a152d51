//! Authentication primitives: JWTs, password hashing (argon2id and legacy Werkzeug), password
//! policy, opaque secrets (API keys, reset tokens), the persisted JWT secret.

pub mod jwt;
pub mod opaque;
pub mod password;
pub mod policy;
pub mod secret_file;
mod token_memo;
mod werkzeug;
