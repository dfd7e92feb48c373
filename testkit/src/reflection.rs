//! Reflection conversations: several requests on one stream, over v1 or v1alpha (the
//! same messages on the wire, so v1alpha's are v1's re-encoded).

use std::net::SocketAddr;

use crate::channel;

use prost::Message;
use prost_types::FileDescriptorProto;
use tonic::Status;
use tonic_reflection::pb::{v1, v1alpha};
use v1::{server_reflection_request::MessageRequest, server_reflection_response::MessageResponse};

/// Which reflection service to ask: the servers serve both, for older clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `grpc.reflection.v1.ServerReflection`.
    V1,
    /// `grpc.reflection.v1alpha.ServerReflection`, what grpcurl and older tools ask.
    V1alpha,
}

/// Both versions, for tests that check each the same way.
pub const VERSIONS: [Version; 2] = [Version::V1, Version::V1alpha];

fn transcode<A: Message, B: Message + Default>(a: &A) -> B {
    B::decode(a.encode_to_vec().as_slice()).expect("same wire format")
}

/// Sends `requests` on one stream and collects the answers until the server ends it:
/// the answers, and how the stream ended.
pub async fn converse(
    addr: SocketAddr,
    version: Version,
    requests: Vec<MessageRequest>,
) -> (Vec<v1::ServerReflectionResponse>, Result<(), Status>) {
    let requests: Vec<v1::ServerReflectionRequest> = requests
        .into_iter()
        .map(|r| v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(r),
        })
        .collect();
    let channel = crate::channel(addr).await;
    let mut answers = Vec::new();
    let end = match version {
        Version::V1 => {
            let mut client = v1::server_reflection_client::ServerReflectionClient::new(channel);
            let mut stream = client
                .server_reflection_info(futures::stream::iter(requests))
                .await
                .expect("reflection call")
                .into_inner();
            loop {
                match stream.message().await {
                    Ok(Some(m)) => answers.push(m),
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
        }
        Version::V1alpha => {
            let requests: Vec<v1alpha::ServerReflectionRequest> = requests.iter().map(transcode).collect();
            let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(channel);
            let mut stream = client
                .server_reflection_info(futures::stream::iter(requests))
                .await
                .expect("reflection call")
                .into_inner();
            loop {
                match stream.message().await {
                    Ok(Some(m)) => answers.push(transcode(&m)),
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
            }
        }
    };
    (answers, end)
}

/// `file_containing_symbol` for `symbol`.
pub fn symbol(symbol: &str) -> MessageRequest {
    MessageRequest::FileContainingSymbol(symbol.to_owned())
}

/// The file descriptors of an answer, or the error it carries as `Err((code, message))`.
pub fn files(answer: &v1::ServerReflectionResponse) -> Result<Vec<FileDescriptorProto>, (i32, String)> {
    match &answer.message_response {
        Some(MessageResponse::FileDescriptorResponse(files)) => Ok(files
            .file_descriptor_proto
            .iter()
            .map(|b| FileDescriptorProto::decode(b.as_slice()).expect("a file descriptor"))
            .collect()),
        Some(MessageResponse::ErrorResponse(e)) => Err((e.error_code, e.error_message.clone())),
        other => panic!("not a file answer: {other:?}"),
    }
}

/// Whether `files` define `symbol` (a message or service, fully qualified) at top level.
pub fn defines(files: &[FileDescriptorProto], symbol: &str) -> bool {
    let Some((package, name)) = symbol.rsplit_once('.') else {
        return false;
    };
    files.iter().any(|f| {
        f.package() == package
            && (f.message_type.iter().any(|m| m.name() == name) || f.service.iter().any(|s| s.name() == name))
    })
}

/// The services listed through `version`, sorted.
pub async fn list(addr: SocketAddr, version: Version) -> Vec<String> {
    let (answers, end) = converse(addr, version, vec![MessageRequest::ListServices(String::new())]).await;
    end.expect("list services");
    let Some(MessageResponse::ListServicesResponse(list)) =
        answers.first().and_then(|a| a.message_response.clone())
    else {
        panic!("unexpected answer: {answers:?}");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    names
}

/// Asserts that every service `version` lists, and `extra` symbols, resolve through it.
pub async fn assert_all_resolve(addr: SocketAddr, version: Version, extra: &[&str]) {
    let mut wanted = list(addr, version).await;
    wanted.extend(extra.iter().map(|s| s.to_string()));
    let (answers, end) = converse(addr, version, wanted.iter().map(|s| symbol(s)).collect()).await;
    assert!(end.is_ok(), "{version:?}: stream ended with {end:?}");
    assert_eq!(answers.len(), wanted.len(), "{version:?}: {answers:?}");
    for (name, answer) in wanted.iter().zip(&answers) {
        let files = files(answer).unwrap_or_else(|e| panic!("{version:?} cannot resolve {name}: {e:?}"));
        assert!(defines(&files, name), "{version:?}: {name} not in its file");
    }
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
