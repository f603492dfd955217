//! HTTP-level integration tests: every route, status and `detail`, on SQLite and PostgreSQL.

mod abuse;
mod account;
mod cache;
mod devices;
mod email_case;
mod extract;
mod hostile;
mod instances;
mod login;
mod mail;
mod migrate;
mod oauth;
mod openapi;
mod outage;
mod proxy;
mod register;
mod revocation;
mod sessions;
mod shedding;
mod strategy;
mod users;
