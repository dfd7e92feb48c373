//! Calls below the generated clients: any method by name, reflection, token claims.

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

/// The methods of `service` as reflection (v1) describes them: name and whether the
/// server streams its answer.
pub async fn reflected_methods(addr: SocketAddr, service: &str) -> Vec<(String, bool)> {
    use prost::Message;
    use tonic_reflection::pb::v1 as r;
    let mut client = r::server_reflection_client::ServerReflectionClient::new(channel(addr).await);
    let request = r::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            r::server_reflection_request::MessageRequest::FileContainingSymbol(service.to_owned()),
        ),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .expect("reflection call")
        .into_inner();
    let response = stream
        .message()
        .await
        .expect("reflection stream")
        .expect("a response");
    let Some(r::server_reflection_response::MessageResponse::FileDescriptorResponse(files)) =
        response.message_response
    else {
        panic!("no file descriptor for {service}: {response:?}");
    };
    let (package, name) = service.rsplit_once('.').expect("a qualified service name");
    for bytes in files.file_descriptor_proto {
        let file = prost_types::FileDescriptorProto::decode(bytes.as_slice()).expect("a file descriptor");
        if file.package() != package {
            continue;
        }
        if let Some(svc) = file.service.iter().find(|s| s.name() == name) {
            return svc
                .method
                .iter()
                .map(|m| (m.name().to_owned(), m.server_streaming()))
                .collect();
        }
    }
    panic!("{service} is not in its reflected file");
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

/// Generates a "list services" helper for one reflection protocol version; v1 and
/// v1alpha have the same shape in different modules.
macro_rules! list_services {
    ($(#[$doc:meta])* $name:ident, $pb:path) => {
        $(#[$doc])*
        pub async fn $name(addr: SocketAddr) -> Vec<String> {
            use $pb as r;
            let mut client = r::server_reflection_client::ServerReflectionClient::new(channel(addr).await);
            let request = r::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(r::server_reflection_request::MessageRequest::ListServices(String::new())),
            };
            let mut stream = client
                .server_reflection_info(tokio_stream::once(request))
                .await
                .expect("reflection call")
                .into_inner();
            let response = stream.message().await.expect("reflection stream").expect("a response");
            let Some(r::server_reflection_response::MessageResponse::ListServicesResponse(list)) = response.message_response
            else {
                panic!("unexpected reflection response");
            };
            let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            names.sort();
            names
        }
    };
}

list_services!(
    /// Services listed by reflection v1alpha (what grpcurl 1.8 uses), sorted.
    reflected_services,
    tonic_reflection::pb::v1alpha
);
list_services!(
    /// Services listed by reflection v1, sorted.
    reflected_services_v1,
    tonic_reflection::pb::v1
);
