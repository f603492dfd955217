//! HTTP-level integration tests: every route, status and `detail`, on SQLite and PostgreSQL.

mod account;
mod extract;
mod login;
mod mail;
mod oauth;
mod outage;
mod register;
mod sessions;
mod strategy;
mod users;
