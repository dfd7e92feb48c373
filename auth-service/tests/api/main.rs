//! auth-service end to end: the real service on a random loopback port, a fresh
//! database per test (SQLite always, PostgreSQL when TEST_POSTGRES_URL is set), called
//! through the generated client.

mod account;
mod browser;
mod clients;
mod faults;
mod feed;
mod hardening;
mod helpers;
mod mail;
mod observability;
mod passwords;
mod register_login;
mod retention;
mod sessions;
mod surface;
mod throttling;
