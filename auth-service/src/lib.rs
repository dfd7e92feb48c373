//! auth-service: `auth.v1.AuthService`.
//!
//! # Layout
//! - [`config`]: flags and environment.
//! - [`startup`]: builds the server ([`Application`]) from config.
//! - [`authn`]: the one authentication path, run before any handler.
//! - [`grpc`]: the handlers: convert, call, map errors.
//! - [`accounts`]: the use cases (register, login, refresh, revoke).
//! - [`events`]: the security history's vocabulary (event kinds, client info).
//! - [`domain`]: usernames, passwords, refresh tokens: only valid values.
//! - [`password`]: argon2id on the blocking pool, bounded.
//! - [`throttle`]: password-attempt and registration limits, kept in the database.
//! - [`mail`]: mail settings, the mails' text, the outbox sender (SMTP or files).
//! - [`prune`]: the background deletion of rows no rule needs any more.
//! - [`revocation_feed`]: publishes ended sessions to the todo-services, in commit order.
//! - [`store`]: every SQL statement.
//! - [`error`]: the error enum and its mapping to gRPC status codes.

#![warn(missing_docs)]

pub mod accounts;
pub mod authn;
pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod mail;
pub mod password;
pub mod prune;
pub mod revocation_feed;
pub mod startup;
pub mod store;
pub mod throttle;

pub use common::server::{Application, StartupError};
pub use config::Config;
pub use startup::SERVICE_NAME;
