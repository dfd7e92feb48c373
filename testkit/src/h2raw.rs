//! A raw HTTP/2 client that writes frames itself, so that it can do what well-behaved
//! clients (h2, tonic) never do: open more streams than the server allows, or never
//! finish a request.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Frame type DATA (RFC 9113 §6.1): a request or response body.
pub const DATA: u8 = 0x0;
/// Frame type HEADERS (§6.2): opens a stream.
pub const HEADERS: u8 = 0x1;
/// Frame type RST_STREAM (§6.4): ends one stream, with an error code.
pub const RST_STREAM: u8 = 0x3;
/// Frame type SETTINGS (§6.5): each side's limits, acknowledged with [`ACK`].
pub const SETTINGS: u8 = 0x4;
/// Frame type GOAWAY (§6.8): the server is closing the connection, with an error code.
pub const GOAWAY: u8 = 0x7;

/// Flag on DATA or HEADERS: the sender's last frame on the stream.
pub const END_STREAM: u8 = 0x1;
/// Flag on SETTINGS or PING: an acknowledgement (same bit as [`END_STREAM`]).
pub const ACK: u8 = 0x1;
/// Flag on HEADERS: the header block is complete (no CONTINUATION follows).
pub const END_HEADERS: u8 = 0x4;

/// SETTINGS id of the streams one connection may have open at once.
pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
/// SETTINGS id of a stream's initial receive window.
pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
/// SETTINGS id of the largest header list accepted.
pub const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// The RST_STREAM error code for a stream the server would not open.
pub const REFUSED_STREAM: u32 = 0x7;

/// One frame as read.
#[derive(Debug)]
pub struct Frame {
    /// The frame type ([`DATA`], [`HEADERS`], ...).
    pub kind: u8,
    /// The flags byte ([`END_STREAM`], [`ACK`], ...).
    pub flags: u8,
    /// The stream id, reserved bit cleared; 0 for connection frames.
    pub stream: u32,
    /// The payload as sent: HPACK blocks are not decoded.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The error code of a RST_STREAM or GOAWAY frame.
    pub fn error_code(&self) -> Option<u32> {
        let at = match self.kind {
            RST_STREAM => 0,
            GOAWAY => 4,
            _ => return None,
        };
        let bytes = self.payload.get(at..at + 4)?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    }
}

/// A connection that has exchanged SETTINGS with the server.
pub struct RawH2 {
    tcp: TcpStream,
    /// What the server advertised in its first SETTINGS frame.
    pub settings: HashMap<u16, u32>,
}

impl RawH2 {
    /// Connects, sends the preface and empty SETTINGS, reads the server's SETTINGS and
    /// acknowledges them.
    pub async fn connect(addr: SocketAddr) -> Self {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let mut conn = Self {
            tcp,
            settings: HashMap::new(),
        };
        conn.tcp
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .expect("preface");
        conn.write_frame(SETTINGS, 0, 0, &[]).await;
        loop {
            let frame = conn.read_frame().await.expect("server SETTINGS");
            if frame.kind == SETTINGS && frame.flags & ACK == 0 {
                for setting in frame.payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([setting[0], setting[1]]);
                    let value = u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]]);
                    conn.settings.insert(id, value);
                }
                break;
            }
        }
        conn.write_frame(SETTINGS, ACK, 0, &[]).await;
        conn
    }

    /// Writes one frame as given: no flow control, no checks, so a test can send what a
    /// real client would not.
    pub async fn write_frame(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let len = u32::try_from(payload.len()).expect("small frame").to_be_bytes();
        let mut frame = vec![len[1], len[2], len[3], kind, flags];
        frame.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
        frame.extend_from_slice(payload);
        self.tcp.write_all(&frame).await.expect("write frame");
    }

    /// The next frame, or `None` when the connection closes or nothing comes within 10 s.
    pub async fn read_frame(&mut self) -> Option<Frame> {
        let read = async {
            let mut head = [0u8; 9];
            self.tcp.read_exact(&mut head).await.ok()?;
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0u8; len];
            self.tcp.read_exact(&mut payload).await.ok()?;
            Some(Frame {
                kind: head[3],
                flags: head[4],
                stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
                payload,
            })
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .ok()
            .flatten()
    }

    /// Opens stream `id` with a gRPC POST to `path` whose body never comes (no
    /// END_STREAM), so the stream stays open on the server.
    pub async fn open_grpc(&mut self, id: u32, path: &str) {
        let block = header_block(&[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "localhost"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ]);
        self.write_frame(HEADERS, END_HEADERS, id, &block).await;
    }

    /// Sends a gRPC message (length-prefixed, uncompressed) and ends the stream.
    pub async fn finish_grpc(&mut self, id: u32, message: &[u8]) {
        let mut body = vec![0u8];
        body.extend_from_slice(&u32::try_from(message.len()).expect("small").to_be_bytes());
        body.extend_from_slice(message);
        self.write_frame(DATA, END_STREAM, id, &body).await;
    }
}

/// An HPACK block of literal fields, never indexed or Huffman-coded (short strings only).
fn header_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in fields {
        assert!(name.len() < 127 && value.len() < 127, "short header fields only");
        block.push(0x00);
        block.push(name.len() as u8);
        block.extend_from_slice(name.as_bytes());
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    block
}
