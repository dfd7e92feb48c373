//! Generated code for the todo-grpc wire contract, the only place that runs codegen.
//!
//! - [`auth::v1`]: `auth.v1.AuthService` and its messages.
//! - [`todo::v1`]: `todo.v1.TodoService` and its messages.
//! - [`FILE_DESCRIPTOR_SET`]: both files (and their imports) for server reflection, with
//!   `google.rpc.Status` and the standard error details, so clients can decode errors.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

pub mod auth {
    pub mod v1 {
        tonic::include_proto!("auth.v1");
    }
}

pub mod todo {
    pub mod v1 {
        tonic::include_proto!("todo.v1");
    }
}

/// Encoded `FileDescriptorSet` of `auth.v1`, `todo.v1` and `google.rpc` (status, error
/// details), for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));
