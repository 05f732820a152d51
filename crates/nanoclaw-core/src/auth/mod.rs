//! Authentication primitives: JWTs, password hashing (argon2id and legacy Werkzeug), the
//! persisted JWT secret.

pub mod jwt;
pub mod password;
pub mod secret_file;
mod werkzeug;
