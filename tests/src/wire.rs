//! A raw HTTP/1.1 client: exactly the bytes a sender would put on the wire,
//! including the malformed ones, over a fresh connection per request.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use hookgate::testing;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::table::{Case, Framing};
use crate::Sender;

/// A response read off the wire.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Header lines, names in lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl Reply {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// Reads one HTTP/1.1 response (Content-Length or to EOF).
pub async fn read_response(stream: &mut TcpStream) -> Reply {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut chunk).await.expect("read head");
        assert!(
            n > 0,
            "connection closed before a response: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = head
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = buf[head_end..].to_vec();
    loop {
        if length.is_some_and(|len| body.len() >= len) {
            break;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Reply {
        status,
        headers,
        body: Bytes::from(body),
    }
}

/// POSTs `body` with `headers` to `addr` over a fresh connection.
pub async fn post(addr: SocketAddr, path: &str, headers: &[(&str, String)], body: &[u8]) -> Reply {
    let mut wire = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for (name, value) in headers {
        wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    wire.extend_from_slice(b"\r\n");
    wire.extend_from_slice(body);
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.write_all(&wire).await;
    tokio::time::timeout(Duration::from_secs(20), read_response(&mut stream))
        .await
        .expect("response within 20 s")
}

/// POSTs a delivery signed for `sender` with `secret`.
pub async fn post_signed(addr: SocketAddr, sender: Sender, secret: &str, body: &[u8]) -> Reply {
    let headers = testing::sign(sender.scheme(), secret, body);
    post(addr, sender.path(), &headers, body).await
}

/// Sends `case` over a fresh TCP connection to `addr`, framed as the case
/// says (a stalled body sends half and then nothing).
pub async fn send(case: &Case, addr: SocketAddr) -> Reply {
    let mut wire = format!(
        "POST {} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\n",
        case.sender.path()
    )
    .into_bytes();
    for (name, value) in &case.headers {
        wire.extend_from_slice(name.as_bytes());
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(value);
        wire.extend_from_slice(b"\r\n");
    }
    match case.framing {
        Framing::Length | Framing::Stall => {
            wire.extend_from_slice(
                format!("content-length: {}\r\n\r\n", case.body.len()).as_bytes(),
            );
            let end = if case.framing == Framing::Stall {
                case.body.len() / 2
            } else {
                case.body.len()
            };
            wire.extend_from_slice(&case.body[..end]);
        }
        Framing::Chunked => {
            wire.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
            for chunk in case.body.chunks(512) {
                wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                wire.extend_from_slice(chunk);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(b"0\r\n\r\n");
        }
    }
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // One write: the server may answer (413) before reading the body.
    let _ = stream.write_all(&wire).await;
    tokio::time::timeout(Duration::from_secs(10), read_response(&mut stream))
        .await
        .expect("response within 10 s")
}
