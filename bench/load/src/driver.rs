//! `hookgate-loadbench run`: starts each row's server(s), checks that the
//! row really verifies (and de-duplicates), then measures every cell of the
//! matrix in alternating rounds, and reports medians, spreads, ratios to
//! row (a) and the targets.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client;
use crate::events::{self, Kind};

/// How a row is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serve {
    /// This binary's `server --row NAME`.
    Own,
    /// `hookgate serve` in front of this binary's `server --row upstream`.
    Proxy,
}

#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub name: &'static str,
    /// The label of the brief (a, b, ...).
    pub label: &'static str,
    pub kind: Kind,
    pub serve: Serve,
    /// Signatures are checked (a forged one must get 401).
    pub verifies: bool,
    /// Event ids are de-duplicated (a replay must not run the handler).
    pub dedupes: bool,
    /// The handler runs from an inbox, after the answer.
    pub inbox: bool,
    /// Needs the Redis server (its CPU is reported beside the row's).
    pub redis: bool,
    pub what: &'static str,
}

const fn row(
    name: &'static str,
    label: &'static str,
    kind: Kind,
    verifies: bool,
    dedupes: bool,
    what: &'static str,
) -> Row {
    Row {
        name,
        label,
        kind,
        serve: Serve::Own,
        verifies,
        dedupes,
        inbox: false,
        redis: false,
        what,
    }
}

pub const ROWS: &[Row] = &[
    row("plain-axum", "a", Kind::Aexo, false, false, "axum, `Bytes` + serde_json into `AexoEnvelope`, no verification (also the upstream of g, alone)"),
    row("plain-axum-hmac", "a+hmac", Kind::Aexo, true, false, "(a) + a hand-written check: the header's hex decoded, HMAC-SHA256 of the body (key schedule done once) compared in constant time (`hmac` `verify_slice`); 401 otherwise. What any HMAC verifier costs at least"),
    row("hookgate-axum", "b", Kind::Aexo, true, false, "axum + `WebhookLayer::aexo`, handler `Webhook<AexoEvent>`"),
    row("hookgate-axum-memory", "c", Kind::Aexo, true, true, "(b) + `.with_dedupe(MemoryStore::new())`"),
    Row { redis: true, ..row("hookgate-axum-redis", "d", Kind::Aexo, true, true, "(b) + `.with_dedupe(RedisStore)` (redis-server on 127.0.0.1)") },
    row("plain-actix", "e1", Kind::Aexo, false, false, "actix-web, `web::Bytes` + serde_json into `AexoEnvelope`"),
    row("hookgate-actix", "e2", Kind::Aexo, true, false, "actix-web + `VerifyWebhook::aexo`, handler `Webhook<AexoEvent>`"),
    row("hookgate-actix-memory", "e3", Kind::Aexo, true, true, "(e2) + `.with_dedupe(MemoryStore::new())`"),
    Row { inbox: true, ..row("inbox-sqlite", "f", Kind::Aexo, true, true, "axum + `WebhookLayer` + `Inbox` on `SqliteInbox` (200 once stored; 2 workers run the handler)") },
    Row { serve: Serve::Proxy, ..row("serve", "g", Kind::Aexo, true, true, "`hookgate serve` (memory dedupe, always on) in front of the row-a app as upstream") },
    row("webhook-verify", "peer", Kind::GitHubPeer, true, false, "axum + webhook-verify 0.1.0 `VerifyLayer` (GitHub provider), `Bytes` + serde_json into `AxifiEnvelope`"),
    row("hookgate-axum-axifi", "b-axifi", Kind::Axifi, true, false, "axum + `WebhookLayer::axifi`, handler `Webhook<AxifiEvent>` (same HMAC and header format as the peer)"),
];

const SIZES: &[usize] = &[512, 2048, 3072];
const CONCS: &[usize] = &[1, 32];

struct Settings {
    rounds: usize,
    window: Duration,
    warmup: Duration,
    rows: Vec<Row>,
    tmp: PathBuf,
    out: PathBuf,
    hookgate_bin: PathBuf,
    redis_url: Option<String>,
    redis_pid: Option<u32>,
    client_threads: usize,
    quick: bool,
    pin: Pin,
    cpus: usize,
}

/// Where the processes run at 1 connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pin {
    /// Client on CPU 0, the server side on CPU 1: every request wakes the
    /// other core, which adds about 30 µs of CPU per request to every row
    /// here and makes the ratios noisy.
    Split,
    /// Everything on CPU 1 (the default): client and server take turns on
    /// one core, and the server's CPU per request is its own work.
    Same,
    /// Wherever the scheduler puts them.
    None,
}

fn settings(flags: &HashMap<String, String>, switches: &HashSet<String>) -> Result<Settings, String> {
    let quick = switches.contains("quick");
    let num = |name: &str, default: f64| -> Result<f64, String> {
        flags
            .get(name)
            .map(|v| v.parse::<f64>().map_err(|_| format!("--{name} {v:?} is not a number")))
            .unwrap_or(Ok(default))
    };
    let rows = match flags.get("rows") {
        None => ROWS.to_vec(),
        Some(list) => list
            .split(',')
            .map(|n| {
                ROWS.iter()
                    .find(|r| r.name == n || r.label == n)
                    .copied()
                    .ok_or_else(|| format!("unknown row {n:?}"))
            })
            .collect::<Result<_, _>>()?,
    };
    let path = |name: &str| flags.get(name).map(PathBuf::from).ok_or(format!("run needs --{name}"));
    Ok(Settings {
        rounds: num("rounds", if quick { 1.0 } else { 3.0 })? as usize,
        window: Duration::from_secs_f64(num("secs", if quick { 1.0 } else { 2.0 })?),
        warmup: Duration::from_secs_f64(num("warmup", if quick { 0.25 } else { 0.5 })?),
        rows,
        tmp: path("tmp")?,
        out: flags.get("out").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/bench-load")),
        hookgate_bin: path("hookgate-bin")?,
        redis_url: flags.get("redis").cloned(),
        redis_pid: flags.get("redis-pid").and_then(|p| p.parse().ok()),
        client_threads: num("client-threads", 1.0)? as usize,
        quick,
        pin: match flags.get("pin").map(String::as_str) {
            Some("split") => Pin::Split,
            None | Some("same") => Pin::Same,
            Some("none") => Pin::None,
            Some(other) => return Err(format!("--pin {other:?}: split, same or none")),
        },
        cpus: (unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).max(1) as usize,
    })
}

// ------------------------------------------------------------- processes

/// utime + stime of `pid`, in nanoseconds (from /proc/PID/stat, clock ticks).
fn proc_cpu_ns(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    let after = stat.rsplit_once(')').map(|(_, a)| a).ok_or("bad /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    let ticks: u64 = fields.get(11).and_then(|v| v.parse::<u64>().ok()).ok_or("no utime")?
        + fields.get(12).and_then(|v| v.parse::<u64>().ok()).ok_or("no stime")?;
    // SAFETY-free: sysconf is a plain libc call.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(ticks * 1_000_000_000 / hz)
}

/// This process's own CPU (the client), from getrusage, in nanoseconds.
fn self_cpu_ns() -> u64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Pins every thread of `pid` to `cpus` (new threads inherit it).
fn set_affinity(pid: u32, cpus: &[usize]) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return };
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    for t in tasks.flatten() {
        if let Some(tid) = t.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) {
            unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        }
    }
}

/// At 1 connection, every row gets the same placement (unpinned, a
/// 1-connection ping-pong lands on one core or on two by chance, and the
/// server's CPU per request differs 4-fold between the two): by default
/// the client and the server side (server, upstream, redis) all on CPU 1;
/// `--pin split`: the client on CPU 0. At 32 connections: every process on
/// every CPU.
fn place(s: &Settings, pids: &[u32], conns: usize) {
    // Not available_parallelism: it follows this process's own (pinned) mask.
    let n = s.cpus;
    if n < 2 || s.pin == Pin::None {
        return;
    }
    let me = std::process::id();
    if conns == 1 {
        set_affinity(me, if s.pin == Pin::Same { &[1] } else { &[0] });
        for &p in pids {
            set_affinity(p, &[1]);
        }
    } else {
        let all: Vec<usize> = (0..n).collect();
        set_affinity(me, &all);
        for &p in pids {
            set_affinity(p, &all);
        }
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts `cmd` (stdout read for `ready`, stderr to `log`), and waits
    /// for the line for which `ready` is true.
    fn start(name: &str, mut cmd: Command, log: PathBuf, ready: fn(&str) -> bool) -> Result<Self, String> {
        let err = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(err);
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {name}: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mut proc = Proc { name: name.to_owned(), child, log };
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) if ready(&line) => return Ok(proc),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(100));
                    let status = proc.child.try_wait().ok().flatten();
                    return Err(format!("{name} exited before it was ready ({status:?}); {}", proc.log_tail()));
                }
            }
            if let Ok(Some(status)) = proc.child.try_wait() {
                return Err(format!("{name} exited before it was ready ({status}); {}", proc.log_tail()));
            }
            if Instant::now() > until {
                proc.stop();
                return Err(format!("{name} not ready after 60 s; {}", proc.log_tail()));
            }
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n  ");
        format!("stderr ({}):\n  {tail}", self.log.display())
    }

    /// Still running?
    fn alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("{} died ({status}); {}", self.name, self.log_tail())),
            Err(e) => Err(e.to_string()),
        }
    }

    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A row's processes: the server under test, and the upstream for (g).
struct Running {
    addr: SocketAddr,
    main: Proc,
    upstream: Option<(Proc, SocketAddr)>,
}

impl Running {
    /// Where `/stats` (the handler count) is.
    fn stats_addr(&self) -> SocketAddr {
        self.upstream.as_ref().map_or(self.addr, |(_, a)| *a)
    }
    /// The server side's processes, to place on CPUs.
    fn pids(&self, row: &Row, s: &Settings) -> Vec<u32> {
        let mut v = vec![self.main.pid()];
        if let Some((p, _)) = &self.upstream {
            v.push(p.pid());
        }
        if row.redis {
            v.extend(s.redis_pid);
        }
        v
    }
    fn alive(&mut self) -> Result<(), String> {
        self.main.alive()?;
        if let Some((p, _)) = &mut self.upstream {
            p.alive()?;
        }
        Ok(())
    }
}

fn start_row(s: &Settings, row: &Row, round: usize) -> Result<Running, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let logs = s.tmp.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let own = |name: &str, port: u16, extra: &[String]| -> Result<Proc, String> {
        let mut cmd = Command::new(&me);
        cmd.args(["server", "--row", name, "--port", &port.to_string()]).args(extra);
        Proc::start(name, cmd, logs.join(format!("{}-r{round}-{name}.log", row.name)), |l| l == "ready")
    };
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    match row.serve {
        Serve::Own => {
            let mut extra = Vec::new();
            if row.redis {
                let url = s.redis_url.clone().ok_or("row hookgate-axum-redis needs --redis URL")?;
                flush_redis(&url)?;
                extra.extend(["--redis".to_owned(), url]);
            }
            if row.inbox {
                let file = s.tmp.join(format!("inbox-r{round}.sqlite3"));
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
                extra.extend(["--sqlite".to_owned(), file.display().to_string()]);
            }
            Ok(Running { addr, main: own(row.name, port, &extra)?, upstream: None })
        }
        Serve::Proxy => {
            let up_port = free_port()?;
            let upstream = own("upstream", up_port, &[])?;
            let dir = s.tmp.join("serve");
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("aexo.secret"), format!("{}\n", crate::AEXO_SECRET)).map_err(|e| e.to_string())?;
            let config = dir.join("hookgate.toml");
            std::fs::write(
                &config,
                format!(
                    "# Written by hookgate-loadbench for row g.\n\
                     [server]\nlisten = \"127.0.0.1:{port}\"\nallow_plain_loopback = true\nlog_format = \"text\"\n\n\
                     [dedupe]\nstore = \"memory\"\n\n\
                     [[route]]\npath = \"/webhook\"\nscheme = \"aexo\"\nsecrets = [{{ file = \"aexo.secret\" }}]\n\
                     upstream = \"http://127.0.0.1:{up_port}/webhook\"\n"
                ),
            )
            .map_err(|e| e.to_string())?;
            let mut cmd = Command::new(&s.hookgate_bin);
            cmd.args(["serve", "--config"]).arg(&config);
            let main = Proc::start(
                "hookgate serve",
                cmd,
                logs.join(format!("serve-r{round}-hookgate.log")),
                |l| l.starts_with("listening on"),
            )?;
            Ok(Running { addr, main, upstream: Some((upstream, ([127, 0, 0, 1], up_port).into())) })
        }
    }
}

/// Empties the bench's Redis between rounds (RESP `FLUSHALL`).
fn flush_redis(url: &str) -> Result<(), String> {
    let hostport = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut s = std::net::TcpStream::connect(&hostport).map_err(|e| format!("redis {hostport}: {e}"))?;
    s.write_all(b"*1\r\n$8\r\nFLUSHALL\r\n").map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).map_err(|e| e.to_string())?;
    if !buf[..n].starts_with(b"+OK") {
        return Err(format!("redis FLUSHALL: {:?}", String::from_utf8_lossy(&buf[..n])));
    }
    Ok(())
}

// ---------------------------------------------------------------- checks

static SEQ: AtomicU64 = AtomicU64::new(1);

fn next_ids(n: usize) -> u64 {
    SEQ.fetch_add(n as u64, Ordering::Relaxed)
}

async fn handled(addr: SocketAddr) -> Result<u64, String> {
    let req = client::build(addr, "GET", "/stats", &[], b"");
    let a = client::once(addr, &req).await.map_err(|e| format!("GET /stats: {e}"))?;
    let v: serde_json::Value = serde_json::from_slice(&a.body).map_err(|e| format!("GET /stats: {e}"))?;
    v["handled"].as_u64().ok_or_else(|| "GET /stats: no count".to_owned())
}

/// Waits (inbox rows: the workers run later) until the handler count
/// reaches `want`; returns the count.
async fn handled_reaching(addr: SocketAddr, want: u64, wait: Duration) -> Result<u64, String> {
    let until = Instant::now() + wait;
    loop {
        let n = handled(addr).await?;
        if n >= want || Instant::now() > until {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Before the timed windows: a genuine delivery runs the handler once; a
/// forged one gets 401 (and does not run it); on dedupe rows, a replay of
/// the genuine one does not run the handler again. Returns the lines to log.
async fn checks(row: &Row, run: &Running, tag: &str) -> Result<Vec<String>, String> {
    let (addr, stats) = (run.addr, run.stats_addr());
    let wait = if row.inbox { Duration::from_secs(10) } else { Duration::ZERO };
    let mut notes = Vec::new();
    let before = handled(stats).await?;
    let n = next_ids(2);
    let genuine = events::request(addr, row.kind, tag, n, 1024, false);
    let a = client::once(addr, &genuine).await.map_err(|e| format!("{}: genuine delivery: {e}", row.name))?;
    if a.status != 200 {
        return Err(format!(
            "{}: a genuine delivery got {} {:?}, not 200",
            row.name,
            a.status,
            String::from_utf8_lossy(&a.body)
        ));
    }
    let after = handled_reaching(stats, before + 1, wait).await?;
    if after != before + 1 {
        return Err(format!("{}: a genuine delivery ran the handler {} times, not once", row.name, after - before));
    }
    notes.push(format!("genuine delivery: 200, handler ran once ({:?})", String::from_utf8_lossy(&a.body)));
    if row.verifies {
        let forged = events::request(addr, row.kind, tag, n + 1, 1024, true);
        let f = client::once(addr, &forged).await.map_err(|e| format!("{}: forged delivery: {e}", row.name))?;
        if f.status != 401 {
            return Err(format!(
                "{}: a forged signature got {} {:?}, not 401: verification is not on",
                row.name,
                f.status,
                String::from_utf8_lossy(&f.body)
            ));
        }
        if row.inbox {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let now = handled(stats).await?;
        if now != after {
            return Err(format!("{}: a forged delivery ran the handler", row.name));
        }
        notes.push(format!("forged signature: 401 {:?}", String::from_utf8_lossy(&f.body)));
    }
    if row.dedupes {
        let r = client::once(addr, &genuine).await.map_err(|e| format!("{}: replay: {e}", row.name))?;
        // README: a duplicate of a processed event is 200 with
        // `hookgate-dedupe: duplicate`, and the handler is not called.
        if r.status != 200 || !r.duplicate {
            return Err(format!(
                "{}: a replayed id got {} (hookgate-dedupe duplicate: {}) {:?}; expected 200 duplicate",
                row.name,
                r.status,
                r.duplicate,
                String::from_utf8_lossy(&r.body)
            ));
        }
        if row.inbox {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let now = handled(stats).await?;
        if now != after {
            return Err(format!("{}: a replayed id ran the handler again ({} runs)", row.name, now - before));
        }
        notes.push(format!(
            "replayed id: 200 + hookgate-dedupe: duplicate {:?}, handler not run again",
            String::from_utf8_lossy(&r.body)
        ));
    }
    Ok(notes)
}

// ------------------------------------------------------------ measuring

#[derive(Debug, Clone, Serialize)]
struct Cell {
    round: usize,
    row: &'static str,
    size: usize,
    conns: usize,
    requests: u64,
    secs: f64,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    /// The server under test (for g: the `hookgate serve` process).
    cpu_us_per_req: f64,
    /// g: the upstream's; d: redis-server's.
    aux_cpu_us_per_req: Option<f64>,
    client_cpu_us_per_req: f64,
    /// CPU seconds per wall second: server, client.
    server_cores: f64,
    client_cores: f64,
    pool_exhausted: bool,
    /// f: events acknowledged but not yet handled when the window ended,
    /// and how long the workers took to handle them.
    backlog_at_end: Option<u64>,
    drain_secs: Option<f64>,
}

struct Runtimes {
    single: tokio::runtime::Runtime,
    multi: tokio::runtime::Runtime,
}

impl Runtimes {
    fn for_conns(&self, conns: usize) -> &tokio::runtime::Runtime {
        if conns == 1 {
            &self.single
        } else {
            &self.multi
        }
    }
}

fn bad_statuses(row: &Row, what: &str, r: &client::LoadResult) -> Result<(), String> {
    if r.bad() == 0 && r.ok > 0 {
        return Ok(());
    }
    Err(format!(
        "{}: {what}: {} answered, {} were 200; statuses {:?}; {} duplicate answers; {} errors{}{}",
        row.name,
        r.answered(),
        r.ok,
        r.statuses,
        r.duplicates,
        r.errors,
        r.first_error.as_ref().map(|e| format!("; first error: {e}")).unwrap_or_default(),
        r.first_bad_body.as_ref().map(|e| format!("; first non-200: {e}")).unwrap_or_default(),
    ))
}

#[allow(clippy::too_many_arguments)]
fn measure(
    s: &Settings,
    rt: &Runtimes,
    row: &Row,
    run: &mut Running,
    tag: &str,
    round: usize,
    size: usize,
    conns: usize,
    base: u64,
    sent_ok: &mut u64,
) -> Result<Cell, String> {
    let addr = run.addr;
    let stats = run.stats_addr();
    let pids = run.pids(row, s);
    let pid = run.main.pid();
    // g: the upstream's CPU; d: redis-server's.
    let aux_pid = match (&run.upstream, row.redis) {
        (Some((p, _)), _) => Some(p.pid()),
        (None, true) => s.redis_pid,
        _ => None,
    };
    // Warm-up: its own distinct events. (Pools are built on every CPU, the
    // load runs placed as `place` says.)
    let warm_count = match (conns, row.inbox) {
        (1, _) => 4_000,
        (_, true) => 5_000,
        _ => 30_000,
    };
    place(s, &pids, 32);
    let warm_pool = Arc::new(events::pool(addr, row.kind, tag, next_ids(warm_count), warm_count, size));
    place(s, &pids, conns);
    let w = rt.for_conns(conns).block_on(client::load(addr, warm_pool, conns, s.warmup));
    bad_statuses(row, "warm-up", &w)?;
    *sent_ok += w.ok;
    let warm_rps = w.ok as f64 / w.elapsed.as_secs_f64();
    // The measured window's pool: 1.3 times what the warm-up rate needs.
    // The inbox row's workers drain far slower than it acknowledges, and
    // each window is drained before the next: its pool is capped, so a
    // 32-connection window may end early (then it is shorter, not wrong).
    let cap = match (row.inbox, s.quick) {
        (true, true) => 8_000,
        (true, false) => 20_000,
        _ => 400_000,
    };
    let count = ((warm_rps * s.window.as_secs_f64() * 1.3) as usize + 500).min(cap);
    place(s, &pids, 32);
    let pool = Arc::new(events::pool(addr, row.kind, tag, next_ids(count), count, size));
    if row.inbox {
        // The warm-up's events are handled before the window starts.
        let want = base + *sent_ok;
        let got = rt.single.block_on(handled_reaching(stats, want, Duration::from_secs(60)))?;
        if got < want {
            return Err(format!("{}: the inbox workers did not handle the warm-up's events within 60 s ({got} of {want})", row.name));
        }
    }
    run.alive()?;
    place(s, &pids, conns);
    let (cpu0, aux0, self0) = (proc_cpu_ns(pid)?, aux_pid.map(proc_cpu_ns).transpose()?, self_cpu_ns());
    let r = rt.for_conns(conns).block_on(client::load(addr, pool, conns, s.window));
    let (cpu1, aux1, self1) = (proc_cpu_ns(pid)?, aux_pid.map(proc_cpu_ns).transpose()?, self_cpu_ns());
    bad_statuses(row, &format!("{size} B, {conns} conn"), &r)?;
    *sent_ok += r.ok;
    // The inbox row: the workers' catch-up after the window, timed and
    // charged to the window's events as `aux` (same process).
    let mut drain = None;
    if row.inbox {
        let want = base + *sent_ok;
        let left = want.saturating_sub(rt.single.block_on(handled(stats))?);
        let t = Instant::now();
        let got = rt.single.block_on(handled_reaching(stats, want, Duration::from_secs(120)))?;
        let secs = t.elapsed().as_secs_f64();
        if got < want {
            return Err(format!("{}: the inbox workers did not catch up within 120 s ({got} of {want})", row.name));
        }
        let cpu2 = proc_cpu_ns(pid)?;
        drain = Some((left, secs, cpu2 - cpu1));
    }
    let n = r.ok as f64;
    let secs = r.elapsed.as_secs_f64();
    let us = |ns: u64| ns as f64 / 1000.0;
    Ok(Cell {
        round,
        row: row.name,
        size,
        conns,
        requests: r.ok,
        secs,
        rps: n / secs,
        p50_us: us(r.hist.value_at_quantile(0.50)),
        p99_us: us(r.hist.value_at_quantile(0.99)),
        cpu_us_per_req: us(cpu1 - cpu0) / n,
        aux_cpu_us_per_req: match (aux0, aux1, drain) {
            (Some(a0), Some(a1), _) => Some(us(a1 - a0) / n),
            (_, _, Some((_, _, ns))) => Some(us(ns) / n),
            _ => None,
        },
        backlog_at_end: drain.map(|(left, _, _)| left),
        drain_secs: drain.map(|(_, secs, _)| secs),
        client_cpu_us_per_req: us(self1 - self0) / n,
        server_cores: (cpu1 - cpu0) as f64 / 1e9 / secs,
        client_cores: (self1 - self0) as f64 / 1e9 / secs,
        pool_exhausted: r.exhausted,
    })
}

// ------------------------------------------------------------- the run

pub fn run(flags: &HashMap<String, String>, switches: &HashSet<String>) -> Result<(), String> {
    let s = settings(flags, switches)?;
    std::fs::create_dir_all(&s.out).map_err(|e| format!("{}: {e}", s.out.display()))?;
    let started = Instant::now();
    let date = Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output().ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default();
    let rt = Runtimes {
        single: tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?,
        multi: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(s.client_threads.max(1))
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?,
    };
    let header = format!(
        "hookgate load benchmark, {date}{}\n\
         {} round(s) x {} rows x sizes {:?} B x connections {:?}; {:.1} s measured per cell after {:.2} s warm-up.\n\
         Client and servers share this machine's {} CPU(s): the client competes with the server for CPU, so \
         requests/s are a floor and the headline figure is the server's CPU time per request at 1 connection \
         (utime+stime of the server process from /proc/PID/stat over the window / requests answered; 10 ms ticks). \
         {}\n\
         Every request is a distinct event (own id, own body), signed with the row's scheme via hookgate::testing \
         before the window (pre-built pool; nothing is signed on the client's clock). Client: raw HTTP/1.1 keep-alive \
         on tokio, current-thread runtime for 1 connection, {} worker thread(s) for 32.",
        if s.quick { " (--quick: for checking the script; numbers are noisy)" } else { "" },
        s.rounds,
        s.rows.len(),
        SIZES,
        CONCS,
        s.window.as_secs_f64(),
        s.warmup.as_secs_f64(),
        s.cpus,
        match s.pin {
            Pin::Split => "At 1 connection the client is pinned to CPU 0 and the server side (server, upstream, redis) to CPU 1 (--pin split, as if on two hosts); at 32 nothing is pinned.",
            Pin::Same => "At 1 connection the client and the server side (server, upstream, redis) are pinned to one CPU and take turns on it (--pin same, the default), so the server's CPU per request is its own work without cross-core wake-ups; at 32 nothing is pinned.",
            Pin::None => "Nothing is pinned (--pin none).",
        },
        s.client_threads,
    );
    println!("{header}\n");
    let mut cells: Vec<Cell> = Vec::new();
    let mut check_log: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let run_tag = format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis()));
    for round in 1..=s.rounds {
        // Every row's server is started (and checked) first; then each
        // cell (size, connections) is measured for every row back to back,
        // the order turning by one row each round. A row's cells and its
        // baseline's are seconds apart, not a whole row's run apart, so a
        // burst of noise on the host lands on both or on neither.
        let t0 = Instant::now();
        let mut live = Vec::with_capacity(s.rows.len());
        for row in &s.rows {
            let tag = format!("{run_tag}r{round}{}", row.label.replace('-', ""));
            let running = start_row(&s, row, round)?;
            let notes = rt.single.block_on(checks(row, &running, &tag))?;
            check_log.entry(row.name).or_insert(notes);
            let base = rt.single.block_on(handled(running.stats_addr()))?;
            live.push((row, running, tag, base, 0u64));
        }
        let n = live.len();
        for &size in SIZES {
            for &conns in CONCS {
                for k in 0..n {
                    let (row, running, tag, base, sent_ok) = &mut live[(k + round - 1) % n];
                    let cell = measure(&s, &rt, row, running, tag, round, size, conns, *base, sent_ok)?;
                    println!(
                        "  r{round} {:22} {:5} B c={:<2}  {:8.0} req/s  p50 {:7.1} us  p99 {:8.1} us  cpu {:6.1} us/req{}  client {:5.1} us/req  ({:.2}+{:.2} cores){}",
                        row.name, size, conns, cell.rps, cell.p50_us, cell.p99_us, cell.cpu_us_per_req,
                        cell.aux_cpu_us_per_req.map(|a| format!(" + aux {a:.1}")).unwrap_or_default(),
                        cell.client_cpu_us_per_req, cell.server_cores, cell.client_cores,
                        if cell.pool_exhausted { "  [pool used up: shorter window]" } else { "" },
                    );
                    if let (Some(left), Some(secs)) = (cell.backlog_at_end, cell.drain_secs) {
                        println!("      inbox: {left} events still to handle at the window's end, handled in {secs:.1} s by the workers (aux = their CPU)");
                    }
                    cells.push(cell);
                }
            }
        }
        for (row, mut running, _, base, sent_ok) in live {
            // Every 200 ran the handler exactly once (inbox: the workers
            // catch up after the answers).
            let stats = running.stats_addr();
            let wait = if row.inbox { Duration::from_secs(30) } else { Duration::from_millis(200) };
            let now = rt.single.block_on(handled_reaching(stats, base + sent_ok, wait))?;
            if now != base + sent_ok {
                return Err(format!(
                    "{}: {} deliveries answered 200 but the handler ran {} times",
                    row.name, sent_ok, now - base
                ));
            }
            running.alive()?;
            drop(running);
            println!("  r{round} {:22} {} deliveries, handler ran for each", row.name, sent_ok);
        }
        println!("  r{round} done in {:.1} s", t0.elapsed().as_secs_f64());
    }
    let report = report(&s, &header, &cells, &check_log, started.elapsed());
    println!("\n{report}");
    let md = s.out.join("results.md");
    std::fs::write(&md, &report).map_err(|e| format!("{}: {e}", md.display()))?;
    let json = s.out.join("results.json");
    let doc = serde_json::json!({
        "date": date,
        "quick": s.quick,
        "rounds": s.rounds,
        "window_secs": s.window.as_secs_f64(),
        "warmup_secs": s.warmup.as_secs_f64(),
        "checks": check_log,
        "cells": cells,
    });
    std::fs::write(&json, serde_json::to_string_pretty(&doc).unwrap_or_default()).map_err(|e| format!("{}: {e}", json.display()))?;
    println!("written: {} and {} (total {:.0} s)", md.display(), json.display(), started.elapsed().as_secs_f64());
    Ok(())
}

// ------------------------------------------------------------- reporting

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn spread(v: &[f64]) -> (f64, f64) {
    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}

/// `median [min–max]` of the values, formatted with `f`.
fn mm(v: &[f64], f: impl Fn(f64) -> String) -> String {
    if v.is_empty() {
        return "–".to_owned();
    }
    let (lo, hi) = spread(v);
    if v.len() == 1 {
        f(v[0])
    } else {
        format!("{} [{}–{}]", f(median(v.to_vec())), f(lo), f(hi))
    }
}

fn report(s: &Settings, header: &str, cells: &[Cell], checks: &BTreeMap<&'static str, Vec<String>>, took: Duration) -> String {
    let get = |row: &str, size: usize, conns: usize| -> Vec<&Cell> {
        cells.iter().filter(|c| c.row == row && c.size == size && c.conns == conns).collect()
    };
    // Per round: the value of `row` over the value of the base row.
    let per_round = |row: &str, base: &str, size: usize, conns: usize, f: &dyn Fn(&Cell, &Cell) -> f64| -> Vec<f64> {
        let b = get(base, size, conns);
        get(row, size, conns)
            .into_iter()
            .filter_map(|c| b.iter().find(|x| x.round == c.round).map(|x| f(c, x)))
            .collect()
    };
    let cpu_ratio = |c: &Cell, a: &Cell| c.cpu_us_per_req / a.cpu_us_per_req;
    let rps_ratio = |c: &Cell, a: &Cell| c.rps / a.rps;
    let p99_added = |c: &Cell, a: &Cell| c.p99_us - a.p99_us;
    let f1 = |x: f64| format!("{x:.1}");
    let f0 = |x: f64| format!("{x:.0}");
    let f2 = |x: f64| format!("{x:.2}");
    let fs = |x: f64| format!("{x:+.0}");
    let mut out = String::new();
    let w = &mut out;
    use std::fmt::Write as _;
    let _ = writeln!(w, "## Load benchmark results\n");
    for line in header.lines() {
        let _ = writeln!(w, "{line}  ");
    }
    let _ = writeln!(w, "\nValues are the median over rounds, with the [min–max] across rounds. Ratios are taken within \
        one round against row (a) `plain-axum` of that round, then the median and spread of those ratios. \
        CPU is the server process's own; `aux` is, not included in it: the upstream's (row g), redis-server's (row d), or, for row f, the inbox workers' CPU while they handle the window's backlog after the window (same process).\n");
    let _ = writeln!(w, "Rows:\n");
    for r in &s.rows {
        let _ = writeln!(w, "- ({}) `{}`: {}", r.label, r.name, r.what);
    }
    let base_present = s.rows.iter().any(|r| r.name == "plain-axum");
    for &conns in CONCS {
        let _ = writeln!(w, "\n### {conns} connection{}\n", if conns == 1 { "" } else { "s" });
        let _ = writeln!(w, "| row | size | req/s | p50 µs | p99 µs | server CPU µs/req | aux CPU µs/req | CPU/req ÷ (a) | req/s ÷ (a) | p99 − (a) µs | client CPU µs/req |");
        let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for r in &s.rows {
            for &size in SIZES {
                let c = get(r.name, size, conns);
                if c.is_empty() {
                    continue;
                }
                let col = |f: &dyn Fn(&Cell) -> f64| c.iter().map(|x| f(x)).collect::<Vec<f64>>();
                let aux: Vec<f64> = c.iter().filter_map(|x| x.aux_cpu_us_per_req).collect();
                let (cr, rr, pa) = if base_present && r.name != "plain-axum" {
                    (
                        mm(&per_round(r.name, "plain-axum", size, conns, &cpu_ratio), f2),
                        mm(&per_round(r.name, "plain-axum", size, conns, &rps_ratio), f2),
                        mm(&per_round(r.name, "plain-axum", size, conns, &p99_added), fs),
                    )
                } else {
                    ("1".into(), "1".into(), "0".into())
                };
                let _ = writeln!(
                    w,
                    "| ({}) {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    r.label, r.name, size,
                    mm(&col(&|x| x.rps), f0),
                    mm(&col(&|x| x.p50_us), f1),
                    mm(&col(&|x| x.p99_us), f1),
                    mm(&col(&|x| x.cpu_us_per_req), f1),
                    if aux.is_empty() { "–".into() } else { mm(&aux, f1) },
                    cr, rr, pa,
                    mm(&col(&|x| x.client_cpu_us_per_req), f1),
                );
            }
        }
    }
    // All in: the row's CPU plus its aux, against (a).
    if base_present {
        for r in s.rows.iter().filter(|r| r.redis || r.inbox || r.serve == Serve::Proxy) {
            let _ = writeln!(w, "\n({}) `{}` all in (server + aux), CPU/req ÷ (a) at 1 connection: {}", r.label, r.name,
                SIZES.iter().map(|&size| format!("{size} B {}", mm(&per_round(r.name, "plain-axum", size, 1,
                    &|c: &Cell, a: &Cell| (c.cpu_us_per_req + c.aux_cpu_us_per_req.unwrap_or(0.0)) / a.cpu_us_per_req), f2)))
                    .collect::<Vec<_>>().join("; "));
        }
    }
    // The peer.
    let has = |n: &str| s.rows.iter().any(|r| r.name == n);
    if has("webhook-verify") {
        let _ = writeln!(w, "\nAgainst the peer, server CPU/req at 1 connection, ratio within each round (below 1: hookgate cheaper):\n");
        for other in ["hookgate-axum-axifi", "hookgate-axum"] {
            if has(other) {
                let _ = writeln!(w, "- `{other}` ÷ `webhook-verify`: {}",
                    SIZES.iter().map(|&size| format!("{size} B {}", mm(&per_round(other, "webhook-verify", size, 1, &cpu_ratio), f2)))
                        .collect::<Vec<_>>().join("; "));
            }
        }
    }
    // Targets.
    let _ = writeln!(w, "\n### Targets (median over rounds; PASS/MISS is a report, not a failure)\n");
    let _ = writeln!(w, "| target | size | value [min–max] | verdict |");
    let _ = writeln!(w, "|---|---:|---:|---|");
    let mut target = |name: &str, row: &str, base: &str, conns: usize, f: &dyn Fn(&Cell, &Cell) -> f64, pass: &dyn Fn(f64) -> bool, fmt: &dyn Fn(f64) -> String| {
        if !(has(row) && has(base)) {
            return;
        }
        for &size in SIZES {
            let v = per_round(row, base, size, conns, f);
            if v.is_empty() {
                continue;
            }
            let m = median(v.clone());
            let _ = writeln!(w, "| {name} | {size} | {} | {} |", mm(&v, fmt), if pass(m) { "PASS" } else { "MISS" });
        }
    };
    target("(b) CPU/req ≤ 1.10 × (a), 1 conn", "hookgate-axum", "plain-axum", 1, &cpu_ratio, &|m| m <= 1.10, &f2);
    target("(b) req/s ≥ 0.95 × (a), 32 conns", "hookgate-axum", "plain-axum", 32, &rps_ratio, &|m| m >= 0.95, &f2);
    target("(c) CPU/req ≤ 1.15 × (a), 1 conn", "hookgate-axum-memory", "plain-axum", 1, &cpu_ratio, &|m| m <= 1.15, &f2);
    target("p99 added by (b) < 50 µs, 1 conn", "hookgate-axum", "plain-axum", 1, &p99_added, &|m| m < 50.0, &fs);
    target("p99 added by (b) < 50 µs, 32 conns (reported)", "hookgate-axum", "plain-axum", 32, &p99_added, &|m| m < 50.0, &fs);
    // The floor: the same targets applied to a hand-written HMAC check,
    // and hookgate's rows against it, so a miss can be read as the HMAC's
    // or hookgate's own.
    target("floor: (a+hmac) CPU/req ≤ 1.10 × (a), 1 conn (reported)", "plain-axum-hmac", "plain-axum", 1, &cpu_ratio, &|m| m <= 1.10, &f2);
    target("floor: (a+hmac) req/s ≥ 0.95 × (a), 32 conns (reported)", "plain-axum-hmac", "plain-axum", 32, &rps_ratio, &|m| m >= 0.95, &f2);
    target("(b) CPU/req ≤ 1.10 × (a+hmac), 1 conn (reported)", "hookgate-axum", "plain-axum-hmac", 1, &cpu_ratio, &|m| m <= 1.10, &f2);
    target("(b) req/s ≥ 0.95 × (a+hmac), 32 conns (reported)", "hookgate-axum", "plain-axum-hmac", 32, &rps_ratio, &|m| m >= 0.95, &f2);
    target("(c) CPU/req ≤ 1.15 × (a+hmac), 1 conn (reported)", "hookgate-axum-memory", "plain-axum-hmac", 1, &cpu_ratio, &|m| m <= 1.15, &f2);
    target("hookgate-axum-axifi CPU/req < webhook-verify, 1 conn", "hookgate-axum-axifi", "webhook-verify", 1, &cpu_ratio, &|m| m < 1.0, &f2);
    target("(b) CPU/req < webhook-verify, 1 conn", "hookgate-axum", "webhook-verify", 1, &cpu_ratio, &|m| m < 1.0, &f2);
    let _ = writeln!(w, "\n### Checks before the timed windows (each round; first round's answers shown)\n");
    for (row, notes) in checks {
        let _ = writeln!(w, "- `{row}`: {}", notes.join("; "));
    }
    let _ = writeln!(w, "\nEvery request of every window was answered 200 (anything else fails the run), and after each row \
        the handler count equalled the number of 200s. Took {:.0} s.", took.as_secs_f64());
    out
}

