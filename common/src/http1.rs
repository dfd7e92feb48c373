//! What a plain HTTP/1.1 request gets on the gRPC port: a 415 with one line saying what
//! the port speaks, instead of tonic-web's empty 400 (a person who opens the port in a
//! browser or with curl learns nothing from that).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, Version, header::CONTENT_TYPE};
use tonic::body::Body;
use tower::{Layer, Service};

const WHAT_THIS_PORT_SPEAKS: &str = "This port speaks gRPC over HTTP/2 and gRPC-Web over HTTP/1.1 and HTTP/2 \
     (content-type application/grpc-web, application/grpc-web+proto or application/grpc-web-text); \
     use a gRPC or gRPC-Web client.\n";

/// Wraps a service in [`Http1Guard`]; the server shell ([`crate::server::serve_incoming`])
/// puts it outside gRPC-Web, which would otherwise answer a plain HTTP/1.1 request first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Http1GuardLayer;

impl<S> Layer<S> for Http1GuardLayer {
    type Service = Http1Guard<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Http1Guard { inner }
    }
}

/// `inner` for HTTP/2 and gRPC-Web requests; any other HTTP/1.x request gets a 415 with
/// a line saying what the port speaks, and never reaches `inner`.
#[derive(Debug, Clone)]
pub struct Http1Guard<S> {
    inner: S,
}

fn is_grpc_web<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/grpc-web"))
}

impl<S, B> Service<Request<B>> for Http1Guard<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if request.version() >= Version::HTTP_2 || is_grpc_web(&request) {
            return Box::pin(self.inner.call(request));
        }
        let mut response = Response::new(Body::new(http_body_util::Full::new(Bytes::from_static(
            WHAT_THIS_PORT_SPEAKS.as_bytes(),
        ))));
        *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Box::pin(async move { Ok(response) })
    }
}
