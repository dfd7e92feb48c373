//! Server reflection, `grpc.reflection.v1` and `v1alpha`, answered alike.
//!
//! tonic-reflection does the descriptor work. Around it this module fixes two things that
//! break common clients (grpcurl, `buf curl`, Postman):
//! - each version registers only its own reflection descriptor, so v1 could not describe
//!   `grpc.reflection.v1alpha.ServerReflection`, which it lists, nor v1alpha the v1 one.
//!   Here one index holds both, and both versions answer from it;
//! - a symbol it does not know ends the whole stream with `NOT_FOUND`. The protocol
//!   answers it in the stream (`error_response`) and keeps the stream open, so a client
//!   can go on asking. Here every request is put to tonic-reflection on its own, in
//!   process, and a failure becomes an `error_response`.

use std::{convert::Infallible, pin::Pin};

use futures::{Stream, StreamExt};
use http::uri::PathAndQuery;
use prost::Message;
use tonic::{Request, Response, Status, Streaming, body::Body};
use tonic_reflection::pb::{v1, v1alpha};
use tower::util::BoxCloneSyncService;

use v1::{server_reflection_response::MessageResponse, server_reflection_server::ServerReflectionServer};
use v1alpha::server_reflection_server::ServerReflectionServer as ServerReflectionServerV1alpha;

const V1: &str = "grpc.reflection.v1.ServerReflection";
const V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";
const V1_METHOD: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

type Index = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// Both reflection services over one index.
#[derive(Clone)]
pub struct Reflection {
    /// tonic-reflection's v1 service, holding every descriptor set (v1alpha's included).
    index: Index,
}

/// Reflection v1 and v1alpha describing `descriptor_sets` (encoded `FileDescriptorSet`s)
/// and listing `service_names` plus the two reflection services.
pub fn services(
    service_names: &[&str],
    descriptor_sets: &[&'static [u8]],
) -> Result<
    (
        ServerReflectionServer<Reflection>,
        ServerReflectionServerV1alpha<Reflection>,
    ),
    tonic_reflection::server::Error,
> {
    // v1's own descriptor set is added by `build_v1`.
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(v1alpha::FILE_DESCRIPTOR_SET);
    for set in descriptor_sets {
        builder = builder.register_encoded_file_descriptor_set(set);
    }
    for name in service_names.iter().chain(&[V1, V1ALPHA]) {
        builder = builder.with_service_name(*name);
    }
    let reflection = Reflection {
        index: BoxCloneSyncService::new(builder.build_v1()?),
    };
    Ok((
        ServerReflectionServer::new(reflection.clone()),
        ServerReflectionServerV1alpha::new(reflection),
    ))
}

impl Reflection {
    /// The answer to one request: the index's, or an `error_response` saying why not.
    async fn answer(&self, request: v1::ServerReflectionRequest) -> v1::ServerReflectionResponse {
        match self.ask(request.clone()).await {
            Ok(response) => response,
            Err(status) => v1::ServerReflectionResponse {
                valid_host: request.host.clone(),
                original_request: Some(request),
                message_response: Some(MessageResponse::ErrorResponse(v1::ErrorResponse {
                    error_code: status.code() as i32,
                    error_message: status.message().to_owned(),
                })),
            },
        }
    }

    /// Puts `request` to the index as a stream of one, which it answers and then ends.
    async fn ask(
        &self,
        request: v1::ServerReflectionRequest,
    ) -> Result<v1::ServerReflectionResponse, Status> {
        let mut grpc = tonic::client::Grpc::new(self.index.clone());
        grpc.ready()
            .await
            .map_err(|e| Status::internal(format!("reflection: {e}")))?;
        let codec =
            tonic_prost::ProstCodec::<v1::ServerReflectionRequest, v1::ServerReflectionResponse>::default();
        let mut answers = grpc
            .streaming(
                Request::new(futures::stream::once(async { request })),
                PathAndQuery::from_static(V1_METHOD),
                codec,
            )
            .await?
            .into_inner();
        answers
            .message()
            .await?
            .ok_or_else(|| Status::internal("reflection: no answer"))
    }

    /// Answers each request of `requests` in turn, until the client ends its stream.
    fn answer_all<Q, A>(
        &self,
        requests: Streaming<Q>,
    ) -> Pin<Box<dyn Stream<Item = Result<A, Status>> + Send + 'static>>
    where
        Q: Message + Default + Send + 'static,
        A: Message + Default + Send + 'static,
    {
        let this = self.clone();
        Box::pin(requests.then(move |request| {
            let this = this.clone();
            async move {
                // v1 and v1alpha messages are the same on the wire: v1alpha goes through
                // the v1 index by re-encoding, which cannot fail between equal schemas.
                let request = v1::ServerReflectionRequest::decode(request?.encode_to_vec().as_slice())
                    .map_err(|e| Status::invalid_argument(e.to_string()))?;
                let answer = this.answer(request).await;
                A::decode(answer.encode_to_vec().as_slice()).map_err(|e| Status::internal(e.to_string()))
            }
        }))
    }
}

type Answers<A> = Pin<Box<dyn Stream<Item = Result<A, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl v1::server_reflection_server::ServerReflection for Reflection {
    type ServerReflectionInfoStream = Answers<v1::ServerReflectionResponse>;

    async fn server_reflection_info(
        &self,
        request: Request<Streaming<v1::ServerReflectionRequest>>,
    ) -> Result<Response<Self::ServerReflectionInfoStream>, Status> {
        Ok(Response::new(self.answer_all(request.into_inner())))
    }
}

#[tonic::async_trait]
impl v1alpha::server_reflection_server::ServerReflection for Reflection {
    type ServerReflectionInfoStream = Answers<v1alpha::ServerReflectionResponse>;

    async fn server_reflection_info(
        &self,
        request: Request<Streaming<v1alpha::ServerReflectionRequest>>,
    ) -> Result<Response<Self::ServerReflectionInfoStream>, Status> {
        Ok(Response::new(self.answer_all(request.into_inner())))
    }
}
