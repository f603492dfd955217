//! HTTP-level integration tests: every route, status and `detail`, on SQLite and PostgreSQL.

mod abuse;
mod account;
mod cache;
mod extract;
mod hostile;
mod login;
mod mail;
mod migrate;
mod oauth;
mod openapi;
mod outage;
mod register;
mod revocation;
mod sessions;
mod strategy;
mod users;
