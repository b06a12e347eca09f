//! A lean HTTP/1.1 load client on raw tokio `TcpStream`s with keep-alive:
//! each connection writes one pre-built request (head and body in one
//! buffer), reads the whole answer (Content-Length or chunked), and takes
//! the next request from a shared pool. Nothing is signed or serialized
//! during a measured window.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One answer, as much of it as the benchmark looks at.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// `hookgate-dedupe: duplicate` was on the answer.
    pub duplicate: bool,
    pub close: bool,
    pub body: Vec<u8>,
}

pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    pub async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
        })
    }

    /// Sends `request` (a complete HTTP/1.1 request) and reads the answer.
    /// `keep_body`: keep the answer's body (checks); the load loop drops it.
    pub async fn exchange(&mut self, request: &[u8], keep_body: bool) -> io::Result<Answer> {
        self.stream.write_all(request).await?;
        self.read_answer(keep_body).await
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(16 * 1024);
        }
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        Ok(())
    }

    async fn read_answer(&mut self, keep_body: bool) -> io::Result<Answer> {
        // The head.
        let (head_len, status, length, chunked, close, duplicate) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut res = httparse::Response::new(&mut headers);
            match res.parse(&self.buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = res.code.unwrap_or(0);
                    let (mut length, mut chunked, mut close, mut duplicate) =
                        (None, false, false, false);
                    for h in res.headers.iter() {
                        let name = h.name;
                        if name.eq_ignore_ascii_case("content-length") {
                            length = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse::<usize>().ok());
                        } else if name.eq_ignore_ascii_case("transfer-encoding") {
                            chunked = h.value.eq_ignore_ascii_case(b"chunked");
                        } else if name.eq_ignore_ascii_case("connection") {
                            close = h.value.eq_ignore_ascii_case(b"close");
                        } else if name.eq_ignore_ascii_case("hookgate-dedupe") {
                            duplicate = h.value.eq_ignore_ascii_case(b"duplicate");
                        }
                    }
                    break (n, status, length, chunked, close, duplicate);
                }
                Ok(httparse::Status::Partial) => self.fill().await?,
                Err(e) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("bad answer head: {e}"),
                    ))
                }
            }
        };
        self.buf.advance(head_len);
        let mut body = Vec::new();
        if chunked {
            loop {
                let (skip, size) = loop {
                    match httparse::parse_chunk_size(&self.buf) {
                        Ok(httparse::Status::Complete((skip, size))) => break (skip, size as usize),
                        Ok(httparse::Status::Partial) => self.fill().await?,
                        Err(_) => {
                            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))
                        }
                    }
                };
                // size bytes, then CRLF (for the last chunk: the final CRLF,
                // no trailers expected).
                while self.buf.len() < skip + size + 2 {
                    self.fill().await?;
                }
                if keep_body {
                    body.extend_from_slice(&self.buf[skip..skip + size]);
                }
                self.buf.advance(skip + size + 2);
                if size == 0 {
                    break;
                }
            }
        } else {
            let length = length.unwrap_or(0);
            while self.buf.len() < length {
                self.fill().await?;
            }
            if keep_body {
                body.extend_from_slice(&self.buf[..length]);
            }
            self.buf.advance(length);
        }
        Ok(Answer {
            status,
            duplicate,
            close,
            body,
        })
    }
}

/// One request of the checks, on its own connection.
pub async fn once(addr: SocketAddr, request: &[u8]) -> io::Result<Answer> {
    let mut conn = Conn::connect(addr).await?;
    conn.exchange(request, true).await
}

/// A complete HTTP/1.1 request.
pub fn build(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\n");
    if method == "POST" {
        head.push_str("content-type: application/json\r\n");
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// What one load phase measured.
pub struct LoadResult {
    pub ok: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub duplicates: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub first_bad_body: Option<String>,
    pub hist: Histogram<u64>,
    pub elapsed: Duration,
    pub exhausted: bool,
}

impl LoadResult {
    pub fn answered(&self) -> u64 {
        self.statuses.values().sum()
    }
    pub fn bad(&self) -> u64 {
        self.answered() - self.ok + self.errors + self.duplicates
    }
}

fn hist() -> Histogram<u64> {
    // Nanoseconds, 100 ns .. 120 s, 3 significant digits.
    Histogram::new_with_bounds(100, 120_000_000_000, 3).expect("histogram bounds")
}

/// `conns` connections send requests from `pool` until `window` has passed
/// (each connection finishes its request in flight) or the pool is used up.
pub async fn load(addr: SocketAddr, pool: Arc<Vec<Vec<u8>>>, conns: usize, window: Duration) -> LoadResult {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + window;
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (pool, next) = (pool.clone(), next.clone());
        tasks.push(tokio::spawn(async move { connection(addr, pool, next, deadline).await }));
    }
    let mut total = LoadResult {
        ok: 0,
        statuses: BTreeMap::new(),
        duplicates: 0,
        errors: 0,
        first_error: None,
        first_bad_body: None,
        hist: hist(),
        elapsed: Duration::ZERO,
        exhausted: false,
    };
    for t in tasks {
        let r = match t.await {
            Ok(r) => r,
            Err(e) => {
                total.errors += 1;
                total.first_error.get_or_insert(format!("client task failed: {e}"));
                continue;
            }
        };
        total.ok += r.ok;
        for (s, n) in r.statuses {
            *total.statuses.entry(s).or_default() += n;
        }
        total.duplicates += r.duplicates;
        total.errors += r.errors;
        if total.first_error.is_none() {
            total.first_error = r.first_error;
        }
        if total.first_bad_body.is_none() {
            total.first_bad_body = r.first_bad_body;
        }
        total.exhausted |= r.exhausted;
        let _ = total.hist.add(&r.hist);
    }
    total.elapsed = start.elapsed();
    total
}

async fn connection(
    addr: SocketAddr,
    pool: Arc<Vec<Vec<u8>>>,
    next: Arc<AtomicUsize>,
    deadline: Instant,
) -> LoadResult {
    let mut r = LoadResult {
        ok: 0,
        statuses: BTreeMap::new(),
        duplicates: 0,
        errors: 0,
        first_error: None,
        first_bad_body: None,
        hist: hist(),
        elapsed: Duration::ZERO,
        exhausted: false,
    };
    let mut conn: Option<Conn> = None;
    let mut failures_in_a_row = 0;
    loop {
        if Instant::now() >= deadline {
            break;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(request) = pool.get(i) else {
            r.exhausted = true;
            break;
        };
        if conn.is_none() {
            match Conn::connect(addr).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    r.errors += 1;
                    r.first_error.get_or_insert(format!("connect {addr}: {e}"));
                    failures_in_a_row += 1;
                    if failures_in_a_row > 3 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected above");
        let t0 = Instant::now();
        match c.exchange(request, false).await {
            Ok(answer) => {
                let ns = t0.elapsed().as_nanos() as u64;
                let _ = r.hist.record(ns.clamp(100, 120_000_000_000));
                *r.statuses.entry(answer.status).or_default() += 1;
                failures_in_a_row = 0;
                if answer.status == 200 {
                    r.ok += 1;
                } else if r.first_bad_body.is_none() {
                    r.first_bad_body = Some(format!("status {}", answer.status));
                }
                if answer.duplicate {
                    r.duplicates += 1;
                }
                if answer.close {
                    conn = None;
                }
            }
            Err(e) => {
                r.errors += 1;
                r.first_error.get_or_insert(format!("request: {e}"));
                conn = None;
                failures_in_a_row += 1;
                if failures_in_a_row > 3 {
                    break;
                }
            }
        }
    }
    r
}
