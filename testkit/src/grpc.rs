//! Calls below the generated clients: any method by name; the claims of a token.

use std::net::SocketAddr;

use tonic::Status;

use crate::{bearer, channel};

/// The claims of a JWT, read without checking it (for assertions on what was issued).
pub fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&json).expect("JSON claims")
}

/// Calls `/<service>/<method>` with an empty request message and `authorization: Bearer
/// token` (none when `token` is empty), whatever the method's types: an empty message
/// decodes as the default of any request type. For a streaming method, the first message.
pub async fn call_raw(
    addr: SocketAddr,
    service: &str,
    method: &str,
    streaming: bool,
    token: &str,
) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(channel(addr).await);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path: http::uri::PathAndQuery = format!("/{service}/{method}").parse().expect("path");
    let request = if token.is_empty() {
        tonic::Request::new(())
    } else {
        bearer((), token)
    };
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    if streaming {
        let mut stream = grpc.server_streaming(request, path, codec).await?.into_inner();
        stream.message().await?;
    } else {
        grpc.unary(request, path, codec).await?;
    }
    Ok(())
}
