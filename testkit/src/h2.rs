//! Raw gRPC calls over HTTP/2, for what a generated client hides: whether a response
//! message was compressed, exact headers.

use std::net::SocketAddr;

use bytes::{Buf, Bytes};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// One message frame of a response.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The frame's compressed flag.
    pub compressed: bool,
    /// The message bytes after the 5-byte prefix, still compressed if `compressed`.
    pub payload: Bytes,
}

impl Frame {
    /// The message, gunzipped if the frame is compressed (gzip is what tests ask for).
    pub fn decode<M: prost::Message + Default>(&self) -> M {
        use std::io::Read;
        let bytes = if self.compressed {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&self.payload[..])
                .read_to_end(&mut out)
                .expect("gzip frame");
            Bytes::from(out)
        } else {
            self.payload.clone()
        };
        M::decode(bytes).expect("a message")
    }
}

/// A whole response as it came over the wire, for [`unary`]'s caller to inspect.
#[derive(Debug)]
pub struct RawResponse {
    /// The response headers (`grpc-encoding`, `x-request-id`; `grpc-status` too when
    /// trailers-only).
    pub headers: HeaderMap,
    /// The length-prefixed messages of the body, in order.
    pub frames: Vec<Frame>,
    /// The trailers (`grpc-status`, `grpc-message`); empty for a trailers-only response.
    pub trailers: HeaderMap,
}

impl RawResponse {
    /// `grpc-status` from the trailers, or from the headers of a trailers-only response.
    pub fn grpc_status(&self) -> Option<String> {
        self.trailers
            .get("grpc-status")
            .or_else(|| self.headers.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// Sends `message` (uncompressed) to `path` over a fresh HTTP/2 connection with `headers`.
pub async fn unary(
    addr: SocketAddr,
    path: &str,
    message: &impl prost::Message,
    headers: &[(&str, &str)],
) -> RawResponse {
    let body = message.encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(body.len()).expect("small").to_be_bytes());
    frame.extend_from_slice(&body);
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("HTTP/2 handshake");
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(frame))).expect("request");
    let response = sender.send_request(request).await.expect("HTTP/2 call");
    let headers = response.headers().clone();
    let collected = response.into_body().collect().await.expect("body");
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let mut body = collected.to_bytes();
    let mut frames = Vec::new();
    while body.remaining() >= 5 {
        let compressed = body.get_u8() == 1;
        let len = body.get_u32() as usize;
        frames.push(Frame {
            compressed,
            payload: body.split_to(len.min(body.len())),
        });
    }
    RawResponse {
        headers,
        frames,
        trailers,
    }
}
