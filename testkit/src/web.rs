//! A minimal gRPC-Web client over HTTP/1.1, as a browser speaks it, for testing the
//! browser path (tonic-web, CORS, cookies) without a browser.

use std::net::SocketAddr;

use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::{Buf, Bytes};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};

/// What came back from a gRPC-Web call.
#[derive(Debug)]
pub struct WebResponse {
    /// The HTTP status: 200 whenever the call reached gRPC, whatever its outcome (that is
    /// in `grpc_status`).
    pub http_status: u16,
    /// The response headers (`set-cookie`, CORS headers, `grpc-status` when
    /// trailers-only).
    pub headers: HeaderMap,
    /// The response message, if one came.
    pub message: Option<Bytes>,
    /// From the trailer frame, or from the headers of a trailers-only response.
    pub grpc_status: Option<String>,
    /// `grpc-message`, from the same place as `grpc_status`; still percent-encoded.
    pub grpc_message: Option<String>,
}

impl WebResponse {
    /// The response message as `M`; panics when none came or it does not decode.
    pub fn decode<M: prost::Message + Default>(&self) -> M {
        M::decode(self.message.clone().expect("a response message")).expect("decodes")
    }

    /// The `set-cookie` header (the refresh cookie), if the response has one.
    pub fn set_cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .map(|v| v.to_str().expect("ascii cookie").to_owned())
    }
}

/// Whether to send `application/grpc-web+proto` or base64 `application/grpc-web-text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/grpc-web+proto`: frames as bytes.
    Binary,
    /// `application/grpc-web-text`: frames in base64, for clients that cannot send bytes.
    Text,
}

/// Sends one unary gRPC-Web call to `path` (e.g. `/auth.v1.AuthService/Login`).
pub async fn call(
    addr: SocketAddr,
    path: &str,
    message: &impl prost::Message,
    encoding: Encoding,
    headers: &[(&str, &str)],
) -> WebResponse {
    call_bytes(addr, path, message.encode_to_vec(), encoding, headers).await
}

/// Like [`call`] with the message given as raw bytes, which need not be valid protobuf.
pub async fn call_bytes(
    addr: SocketAddr,
    path: &str,
    body: Vec<u8>,
    encoding: Encoding,
    headers: &[(&str, &str)],
) -> WebResponse {
    let frame = data_frame(&body).expect("a message under 4 GiB");
    let (content_type, payload) = match encoding {
        Encoding::Binary => ("application/grpc-web+proto", frame),
        Encoding::Text => ("application/grpc-web-text", STANDARD.encode(frame).into_bytes()),
    };
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}{path}"))
        .header("content-type", content_type)
        .header("x-grpc-web", "1")
        .header("accept", content_type);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::from(payload))).expect("request");
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.expect("HTTP/1.1 call");
    read_response(response, encoding).await
}

/// Like [`call`], over TLS (`https://localhost:PORT`, ALPN `http/1.1`, as a browser).
pub async fn call_tls(
    addr: SocketAddr,
    path: &str,
    message: &impl prost::Message,
    encoding: Encoding,
    tls: &common::tls::ClientTls,
) -> Result<WebResponse, String> {
    let frame = data_frame(&message.encode_to_vec()).expect("a message under 4 GiB");
    let (content_type, payload) = match encoding {
        Encoding::Binary => ("application/grpc-web+proto", frame),
        Encoding::Text => ("application/grpc-web-text", STANDARD.encode(frame).into_bytes()),
    };
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("https://localhost:{}{path}", addr.port()))
        .header("host", format!("localhost:{}", addr.port()))
        .header("content-type", content_type)
        .header("x-grpc-web", "1")
        .header("accept", content_type)
        .body(Full::new(Bytes::from(payload)))
        .expect("request");
    let response = send_tls(addr, request, tls).await?;
    Ok(read_response(response, encoding).await)
}

/// Sends `request` over a new TLS connection to `localhost:PORT` (ALPN `http/1.1`).
async fn send_tls(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
    tls: &common::tls::ClientTls,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    let stream = tls
        .with_alpn(&[b"http/1.1"])
        .connect("localhost", addr.port())
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    sender.send_request(request).await.map_err(|e| e.to_string())
}

async fn read_response(response: http::Response<hyper::body::Incoming>, encoding: Encoding) -> WebResponse {
    let http_status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = response.into_body().collect().await.expect("body").to_bytes();
    if encoding == Encoding::Text {
        body = Bytes::from(decode_text(&body));
    }
    let frames = parse_body(body);
    WebResponse {
        http_status,
        // The trailer frame's, else those of a trailers-only response's headers.
        grpc_status: frames.grpc_status.or_else(|| header(&headers, "grpc-status")),
        grpc_message: frames.grpc_message.or_else(|| header(&headers, "grpc-message")),
        headers,
        message: frames.message,
    }
}

/// A gRPC-Web data frame holding `message`: flag byte 0, 4 length bytes, the message.
/// Fails only past 4 GiB, which the length cannot say.
pub fn data_frame(message: &[u8]) -> Result<Vec<u8>, std::num::TryFromIntError> {
    let len = u32::try_from(message.len())?;
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.push(0u8);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message);
    Ok(frame)
}

/// What the frames of a (binary) gRPC-Web response body hold.
#[derive(Debug, Default)]
pub struct Frames {
    /// The last data frame's payload, if any came.
    pub message: Option<Bytes>,
    /// `grpc-status`, from the trailer frame.
    pub grpc_status: Option<String>,
    /// `grpc-message`, from the trailer frame.
    pub grpc_message: Option<String>,
    /// A frame was cut short by the end of the body.
    pub truncated: bool,
}

/// Reads the frames of a response body (1 flag byte, 0x80 for trailers; 4 length bytes;
/// the payload). Never panics: the load benchmark reads bodies with it too.
pub fn parse_body(mut body: Bytes) -> Frames {
    let mut out = Frames::default();
    while body.remaining() >= 5 {
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        out.truncated |= len > body.len();
        let payload = body.split_to(len.min(body.len()));
        if flag & 0x80 == 0 {
            out.message = Some(payload);
            continue;
        }
        for line in String::from_utf8_lossy(&payload).split("\r\n") {
            if let Some((name, value)) = line.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "grpc-status" => out.grpc_status = Some(value.trim().to_owned()),
                    "grpc-message" => out.grpc_message = Some(value.trim().to_owned()),
                    _ => {}
                }
            }
        }
    }
    out.truncated |= body.has_remaining();
    out
}

/// grpc-web-text bodies are base64 chunks, each padded on its own (one per frame), so
/// the stream is decoded chunk by chunk, splitting after each run of `=`.
fn decode_text(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..body.len() {
        let chunk_ends = body[i] == b'=' && body.get(i + 1).is_none_or(|&next| next != b'=');
        if chunk_ends || i + 1 == body.len() {
            out.extend(STANDARD.decode(&body[start..=i]).expect("base64 chunk"));
            start = i + 1;
        }
    }
    out
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// A CORS preflight for a gRPC-Web POST to `uri` from `origin`.
fn preflight_request(uri: String, origin: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri(uri)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-grpc-web,x-user-agent,grpc-timeout",
        )
        .body(Full::new(Bytes::new()))
        .expect("request")
}

/// Sends a CORS preflight for a gRPC-Web POST to `path` from `origin`.
pub async fn preflight(addr: SocketAddr, path: &str, origin: &str) -> (u16, HeaderMap) {
    let request = preflight_request(format!("http://{addr}{path}"), origin);
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.expect("preflight");
    (response.status().as_u16(), response.headers().clone())
}

/// Like [`preflight`], over TLS (`https://localhost:PORT`, as a browser).
pub async fn preflight_tls(
    addr: SocketAddr,
    path: &str,
    origin: &str,
    tls: &common::tls::ClientTls,
) -> Result<(u16, HeaderMap), String> {
    let mut request = preflight_request(format!("https://localhost:{}{path}", addr.port()), origin);
    let host =
        http::HeaderValue::from_str(&format!("localhost:{}", addr.port())).map_err(|e| e.to_string())?;
    request.headers_mut().insert(http::header::HOST, host);
    let response = send_tls(addr, request, tls).await?;
    Ok((response.status().as_u16(), response.headers().clone()))
}

/// A plain HTTP/1.1 request, not gRPC-Web: the status, headers and body text.
pub async fn plain(
    addr: SocketAddr,
    method: Method,
    path: &str,
    content_type: Option<&str>,
) -> (u16, HeaderMap, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let request = request.body(Full::new(Bytes::new())).expect("request");
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.expect("HTTP/1.1 request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.expect("body").to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// A plain HTTP/1.1 GET (for `/metrics`): the status and the body as text.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = plain(addr, Method::GET, path, None).await;
    (status, body)
}
