//! HTTP-level integration tests: every route, status and `detail`, on SQLite and PostgreSQL.

mod abuse;
mod account;
mod at_rest;
mod cache;
mod csrf;
mod devices;
mod email_case;
mod extract;
mod hostile;
mod instances;
mod keys;
mod login;
mod mail;
mod migrate;
mod notices;
mod oauth;
mod openapi;
mod outage;
mod policy;
mod proxy;
mod register;
mod revocation;
mod sessions;
mod shedding;
mod strategy;
mod users;
