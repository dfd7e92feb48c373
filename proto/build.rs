//! Compiles `auth/v1/auth.proto` and `todo/v1/todo.proto` with protox (pure Rust),
//! so a fresh machine needs no system `protoc`.

use std::{env, path::PathBuf};

use prost::Message;

/// The services' own files: code is generated for these.
const SERVICES: [&str; 2] = ["auth/v1/auth.proto", "todo/v1/todo.proto"];
/// The error model's messages, described by reflection so that clients can decode
/// `grpc-status-details-bin`; their Rust types come from tonic-types.
const ERROR_MODEL: [&str; 2] = ["google/rpc/status.proto", "google/rpc/error_details.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for file in SERVICES.iter().chain(&ERROR_MODEL) {
        println!("cargo:rerun-if-changed={file}");
    }
    // The encoded set (with imports) is what reflection serves.
    let reflected = protox::compile(SERVICES.iter().chain(&ERROR_MODEL), ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(out.join("descriptor.bin"), reflected.encode_to_vec())?;
    tonic_prost_build::configure().compile_fds(protox::compile(SERVICES, ["."])?)?;
    Ok(())
}
