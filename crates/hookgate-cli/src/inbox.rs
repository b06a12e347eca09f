//! `hookgate inbox ...`: look at and operate a durable inbox.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Subcommand;
use hookgate::inbox::{EventInfo, InboxStore, Replay, State};
use hookgate_sqlite::SqliteInbox;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("store").required(true).args(["sqlite", "redis"])))]
pub(crate) struct InboxArgs {
    /// The SQLite inbox file (the embedded store).
    #[arg(long, value_name = "FILE")]
    sqlite: Option<PathBuf>,
    /// A Redis Streams inbox: the server's URL (with --prefix).
    #[arg(long, value_name = "URL", requires = "prefix")]
    redis: Option<String>,
    /// The Redis inbox's key prefix, e.g. hookgate:inbox:aexo.
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    #[command(subcommand)]
    op: Op,
}

#[derive(Debug, Subcommand)]
enum Op {
    /// Counts by state, the age of the oldest pending event, paused or not.
    Stats,
    /// Lists events, newest first.
    Ls {
        /// Only this state: pending, leased, done, dead.
        #[arg(long)]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One event, with its body.
    Show {
        /// The event's inbox id (first column of `ls`).
        id: i64,
    },
    /// Makes done or dead events pending again. Signatures are not re-checked.
    Replay {
        /// One event by id.
        #[arg(conflicts_with_all = ["dead", "since"], required_unless_present_any = ["dead", "since"])]
        id: Option<i64>,
        /// Every dead event.
        #[arg(long)]
        dead: bool,
        /// Every dead event, and every done one whose body was kept, received
        /// at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME", conflicts_with = "dead")]
        since: Option<String>,
        /// Only say which events would be replayed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Stops every worker on this inbox from taking events.
    Pause,
    /// Lets the workers take events again.
    Resume,
    /// Deletes dead events.
    Purge {
        /// Dead events (the only kind purged).
        #[arg(long, required = true)]
        dead: bool,
        /// Only those that died longer ago than this: 90s, 30m, 12h, 7d.
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: Duration,
    },
}

impl Op {
    /// Whether the command only reads (then the file is opened read-only).
    fn only_reads(&self) -> bool {
        matches!(self, Op::Stats | Op::Ls { .. } | Op::Show { .. })
    }
}

fn parse_age(text: &str) -> Result<Duration, String> {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: want a number and a unit, like 7d"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

fn when(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn line(e: &EventInfo) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
        e.id,
        e.state,
        e.attempts,
        e.event_type,
        e.event_id.as_deref().unwrap_or("-"),
        when(e.received_at),
        e.last_error.as_deref().unwrap_or("")
    )
}

pub(crate) fn run(args: &InboxArgs) -> Result<bool, String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    match (&args.sqlite, &args.redis, &args.prefix) {
        (Some(path), _, _) => {
            if !path.exists() {
                return Err(format!("no inbox at {}", path.display()));
            }
            // Refuses a file that is not an inbox before anything writes to it.
            let read_only = SqliteInbox::open_read_only(path).map_err(|e| e.0)?;
            let result = if args.op.only_reads() {
                runtime.block_on(op(&read_only, &args.op))
            } else {
                drop(read_only);
                let store = SqliteInbox::open(path).map_err(|e| e.to_string())?;
                runtime.block_on(op(&store, &args.op))
            };
            result.map_err(|e| e.to_string())
        }
        (None, Some(url), Some(prefix)) => runtime.block_on(async {
            // Operating an inbox needs no durability verdict: the receiver made it.
            let check = hookgate_redis::DurabilityCheck::TrustOperator;
            // One command, one connection (the pool is for receivers' enqueues).
            let store = hookgate_redis::RedisInbox::connect_with(url, prefix, check, 1)
                .await
                .map_err(|e| e.to_string())?;
            op(&store, &args.op).await.map_err(|e| e.to_string())
        }),
        _ => Err("give --sqlite FILE, or --redis URL --prefix PREFIX".into()),
    }
}

async fn op<S: InboxStore>(store: &S, op: &Op) -> Result<bool, Box<dyn std::error::Error>> {
    let now = SystemTime::now();
    match op {
        Op::Stats => {
            let s = store.stats(now).await?;
            println!(
                "pending {}\nleased {}\ndone {}\ndead {}",
                s.pending, s.leased, s.done, s.dead
            );
            match s.oldest_pending {
                Some(age) => println!("oldest pending {}s", age.as_secs()),
                None => println!("oldest pending -"),
            }
            println!("paused {}", if s.paused { "yes" } else { "no" });
        }
        Op::Ls { state, limit } => {
            let state = match state {
                Some(text) => {
                    Some(State::parse(text).ok_or_else(|| format!("unknown state {text:?}"))?)
                }
                None => None,
            };
            println!("id\tstate\tattempts\tevent\tevent_id\treceived\tlast_error");
            for e in store.list(state, *limit).await? {
                println!("{}", line(&e));
            }
        }
        Op::Show { id } => match store.show(*id).await? {
            Some((e, body)) => {
                println!("{}", line(&e));
                println!("key {}", e.key);
                if let Some(due) = e.due_at {
                    println!("due {}", when(due));
                }
                if body.is_empty() && e.state == State::Done {
                    println!("(handled: only its marker is kept, the body was dropped)");
                } else {
                    println!("{}", String::from_utf8_lossy(&body));
                }
            }
            None => return Err(format!("no event {id}").into()),
        },
        Op::Replay {
            id,
            dead,
            since,
            dry_run,
        } => {
            let which = match (id, dead, since) {
                (Some(id), _, _) => Replay::One(*id),
                (None, true, _) => Replay::Dead,
                (None, false, Some(t)) => Replay::Since(SystemTime::from(
                    OffsetDateTime::parse(t, &Rfc3339).map_err(|e| format!("--since {t}: {e}"))?,
                )),
                _ => return Err("say which: ID, --dead or --since TIME".into()),
            };
            let ids = store.replay(which.clone(), *dry_run, now).await?;
            if let (Replay::One(id), true) = (&which, ids.is_empty()) {
                return Err(match store.show(*id).await? {
                    None => format!("no event {id}"),
                    Some((e, body)) if e.state == State::Done && body.is_empty() => format!(
                        "event {id} was handled and only its marker is kept (its body was dropped); \
                         workers configured with keep_done_bodies keep handled events replayable"
                    ),
                    Some((e, _)) => format!("event {id} is {}: only done or dead events are replayed", e.state),
                }
                .into());
            }
            for id in &ids {
                println!("{id}");
            }
            let verb = if *dry_run { "would replay" } else { "replayed" };
            if matches!(which, Replay::Since(_)) {
                println!("handled events kept only as markers (bodies dropped) are not replayable");
            }
            println!(
                "{verb} {} events; replay does not re-check signatures (the signed timestamps are stale by now)",
                ids.len()
            );
        }
        Op::Pause => {
            store.set_paused(true).await?;
            println!("paused: workers take no events until `hookgate inbox resume`");
        }
        Op::Resume => {
            store.set_paused(false).await?;
            println!("resumed");
        }
        Op::Purge {
            dead: _,
            older_than,
        } => {
            // Longer ago than 1970: nothing died that long ago.
            let before = now
                .checked_sub(*older_than)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let n = store.purge_dead(before).await?;
            println!("purged {n} dead events");
        }
    }
    Ok(true)
}
