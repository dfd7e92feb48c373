//! todo-service: `todo.v1.TodoService`.
//!
//! # Layout
//! - [`config`]: flags and environment.
//! - [`startup`]: builds the server ([`Application`]) from config.
//! - [`authn`]: the one authentication path (JWT, expiry, revocation), before any handler.
//! - [`revocation_follower`]: follows the auth-service's revocation feed (with a fallback).
//! - [`grpc`]: the handlers: convert, call, map errors.
//! - [`domain`]: titles, descriptions, update masks, page tokens: only valid values.
//! - [`store`]: every SQL statement, each scoped to the caller.
//! - [`error`]: the error enum and its mapping to gRPC status codes.

#![warn(missing_docs)]

pub mod authn;
pub mod config;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod revocation_follower;
pub mod startup;
pub mod store;

pub use common::server::{Application, StartupError};
pub use config::Config;
pub use startup::SERVICE_NAME;
