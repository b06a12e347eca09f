//! hookgate-loadbench: `server --row R --port P ...` runs one row's server;
//! `run [--quick]` drives the whole matrix and writes the report. See
//! bench/load/README.md, and `bash scripts/bench-load.sh` to run it all.

mod client;
mod driver;
mod events;
mod server;

use std::process::ExitCode;

/// The secrets every row verifies with (bench-only values).
pub const AEXO_SECRET: &str = "hookgate-bench-aexo-secret";
pub const AXIFI_SECRET: &str = "hookgate-bench-axifi-secret";

fn usage() -> ExitCode {
    eprintln!(
        "usage:\n  hookgate-loadbench server --row ROW --port PORT [--redis URL] [--sqlite PATH]\n  \
         hookgate-loadbench run [--quick] --tmp DIR --hookgate-bin PATH [--redis URL --redis-pid PID]\n      \
         [--rounds N] [--secs S] [--warmup S] [--rows a,b,...] [--out DIR] [--client-threads N]\n\
         rows: {}",
        driver::ROWS.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        return usage();
    }
    let role = args.remove(0);
    let mut flags = std::collections::HashMap::<String, String>::new();
    let mut switches = std::collections::HashSet::<String>::new();
    let mut it = args.into_iter().peekable();
    while let Some(a) = it.next() {
        let Some(name) = a.strip_prefix("--") else {
            eprintln!("unexpected argument {a:?}");
            return usage();
        };
        match it.peek() {
            Some(v) if !v.starts_with("--") => {
                flags.insert(name.to_owned(), it.next().unwrap_or_default());
            }
            _ => {
                switches.insert(name.to_owned());
            }
        }
    }
    let result = match role.as_str() {
        "server" => {
            let (Some(row), Some(port)) = (flags.get("row"), flags.get("port")) else {
                return usage();
            };
            let Ok(port) = port.parse() else { return usage() };
            server::run(server::ServerArgs {
                row: row.clone(),
                port,
                redis: flags.get("redis").cloned(),
                sqlite: flags.get("sqlite").cloned(),
            })
        }
        "run" => driver::run(&flags, &switches),
        _ => return usage(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
