//! HTTP-level integration tests: every route, status and `detail`, on SQLite and PostgreSQL.

mod extract;
mod login;
mod register;
mod sessions;
mod strategy;
mod users;
