//! todo-service end to end, with a real auth-service beside it: register and log in at
//! the auth-service, use the token at the todo-service. Fresh databases per test
//! (SQLite always, PostgreSQL when TEST_POSTGRES_URL is set).

mod account_deletion;
mod authentication;
mod bounds;
mod clients;
mod crud;
mod faults;
mod helpers;
mod paging;
mod quota;
mod replicas;
mod revocation;
mod tls;
mod tokens;
mod traces;
