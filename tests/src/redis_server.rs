//! A real `redis-server` for tests: started on a free port of 127.0.0.1
//! with append-only persistence (`appendfsync always`), stopped and
//! restarted on the same port and data directory.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running (or stopped) redis-server owned by one test.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
    durable: bool,
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts a server on a free port, in a fresh data directory.
    ///
    /// Panics with instructions when `redis-server` is not installed: the
    /// project's test command (`bash scripts/test.sh`) installs it.
    pub fn start() -> Self {
        Self::start_with(true, &[])
    }

    /// Starts a durable server with more command-line settings, e.g.
    /// `["--rename-command", "CONFIG", ""]` for a managed server that hides
    /// `CONFIG`.
    pub fn start_with_settings(settings: &[&str]) -> Self {
        Self::start_with(true, settings)
    }

    /// Starts a server without persistence (`appendonly no`), for
    /// benchmarks of round trips that should not include an fsync.
    pub fn start_volatile() -> Self {
        Self::start_with(false, &[])
    }

    fn start_with(durable: bool, settings: &[&str]) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = std::env::temp_dir().join(format!(
            "hookgate-redis-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("redis data dir");
        let mut server = Self {
            port,
            dir,
            child: None,
            durable,
            extra: settings.iter().map(|s| (*s).to_owned()).collect(),
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Kills the server (SIGKILL). With `appendfsync always` every
    /// acknowledged write is already on disk.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Wait until the port refuses connections.
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(self.addr()).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same port and data directory, and
    /// waits until it answers PING.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(if self.durable {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "no"]
            })
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "yes"])
            .args(["--logfile", "redis.log"])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}). The Redis tests need a real server: \
                     `bash scripts/test.sh` installs it (apt-get install redis-server)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if ping(self.addr()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on {}",
                self.addr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn ping(addr: SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
