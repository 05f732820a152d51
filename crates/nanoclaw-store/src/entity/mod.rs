//! SeaORM entities (crate-private: other crates see domain types only).

pub(crate) mod users;
