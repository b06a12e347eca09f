//! What a hostile internet does to a server, as checks against a running
//! process on 127.0.0.1: many idle connections, request heads sent a byte
//! at a time, a kept-alive connection left idle; and how the process copes
//! (its open descriptors, its memory, its CPU time, read from `/proc`).

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The process's resident memory, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// How many file descriptors the process has open.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// The CPU time the process has used (user + system), in clock ticks
/// (1/100 s on Linux).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Opens `n` connections that send nothing.
pub async fn idle_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(TcpStream::connect(addr).await.unwrap());
    }
    conns
}

/// Waits until the peer has closed `conn` (a read sees the end or an
/// error), for at most `within`; returns whether it did.
pub async fn closed_within(conn: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // An answer (a 408, say) before the close: keep reading.
            Ok(Ok(_)) => {}
        }
    }
}

/// How many of `conns` the peer has closed or written to already (so it
/// has accepted them), without waiting.
pub fn closed_by_peer(conns: &[TcpStream]) -> usize {
    let mut buf = [0u8; 256];
    conns
        .iter()
        .filter(|conn| match conn.try_read(&mut buf) {
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            Ok(_) => true,
        })
        .count()
}

/// How many of `conns` the peer has not closed within `within`.
pub async fn still_open_after(conns: Vec<TcpStream>, within: Duration) -> usize {
    let waits = conns
        .into_iter()
        .map(|mut conn| tokio::spawn(async move { closed_within(&mut conn, within).await }));
    let mut open = 0;
    for wait in waits.collect::<Vec<_>>() {
        if !wait.await.unwrap() {
            open += 1;
        }
    }
    open
}

/// Sends a request head one byte every `every`, for at most `for_at_most`;
/// returns how long the server let it go on (`None`: it never closed).
pub async fn slow_head(
    addr: SocketAddr,
    every: Duration,
    for_at_most: Duration,
) -> Option<Duration> {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let head = b"POST /webhooks/aexo HTTP/1.1\r\nhost: x\r\nx-padding: ".repeat(50);
    let started = Instant::now();
    for byte in head {
        if started.elapsed() > for_at_most {
            return None;
        }
        if conn.write_all(&[byte]).await.is_err() {
            return Some(started.elapsed());
        }
        if closed_within(&mut conn, every).await {
            return Some(started.elapsed());
        }
    }
    None
}

/// Sends one complete request on a new connection, reads the answer, then
/// leaves the connection idle; returns how long after the answer the
/// server closed it (`None`: not within `within`).
pub async fn idle_after_a_request(
    addr: SocketAddr,
    path: &str,
    within: Duration,
) -> Option<Duration> {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let answered = Instant::now();
    closed_within(&mut conn, within)
        .await
        .then(|| answered.elapsed())
}

/// The check the issue names, for any server process `pid` listening on
/// `addr` whose header-read and idle timeouts are `timeout`: 1,000 idle
/// connections and 20 slow request heads are all closed within the
/// timeout (plus a second of slack), the process's memory stays bounded
/// while they are open, a valid delivery sent meanwhile (`deliver`, which
/// returns the status) is answered 2xx, and the descriptors are given back.
pub async fn idle_and_slow_connections_are_closed_and_deliveries_pass<F, Fut>(
    addr: SocketAddr,
    pid: u32,
    timeout: Duration,
    deliver: F,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = u16>,
{
    let slack = Duration::from_secs(1);
    let (rss_before, fds_before) = (rss_kib(pid), open_fds(pid));
    let opened = Instant::now();
    let idle = idle_connections(addr, 1000).await;
    let slow: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn(slow_head(
                addr,
                Duration::from_millis(300),
                timeout * 6 + slack,
            ))
        })
        .collect();
    let kept_alive = tokio::spawn(idle_after_a_request(addr, "/healthz", timeout * 3));
    // A busy machine's server takes a while to accept 1,000 connections
    // from its backlog, and closes the first ones (their timeout) before
    // it has taken the last: count as accepted those it holds open and
    // those it has already closed, and time the closes from when the last
    // was taken.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let accepted = |fds: usize| fds.saturating_sub(fds_before) + closed_by_peer(&idle);
    let mut fds_during = open_fds(pid);
    while accepted(fds_during) < 900 && opened.elapsed() < timeout * 4 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        fds_during = open_fds(pid);
    }
    let taken = opened.elapsed();
    assert!(
        accepted(fds_during) >= 900,
        "the server did not accept the connections in {taken:?}: {fds_before} -> {fds_during} \
         descriptors, {} closed",
        closed_by_peer(&idle)
    );
    let status = deliver().await;
    assert!(
        (200..300).contains(&status),
        "a valid delivery got {status} while 1,000 connections idled"
    );
    let rss_during = rss_kib(pid);
    // Bounded: well under 64 KiB per open connection.
    assert!(
        rss_during.saturating_sub(rss_before) < 64 * 1000,
        "memory grew from {rss_before} KiB to {rss_during} KiB with 1,000 idle connections"
    );

    let due = taken + timeout + slack;
    let left = due.saturating_sub(opened.elapsed());
    let open = still_open_after(idle, left + slack).await;
    assert_eq!(
        open,
        0,
        "idle connections still open after {:?}",
        opened.elapsed()
    );
    for slow in slow {
        let lasted = slow.await.unwrap();
        assert!(
            // Opened with the idle ones, so it may wait as long to be taken.
            lasted.is_some_and(|d| d <= taken + timeout + slack * 2),
            "a request head sent a byte at a time lasted {lasted:?} (timeout {timeout:?})"
        );
    }
    let idle_for = kept_alive.await.unwrap();
    assert!(
        idle_for.is_some_and(|d| d <= timeout + slack),
        "a kept-alive connection stayed open {idle_for:?} after its answer (timeout {timeout:?})"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_fds(pid) > fds_before + 10 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        open_fds(pid) <= fds_before + 10,
        "descriptors not given back: {fds_before} before, {} after",
        open_fds(pid)
    );
}
