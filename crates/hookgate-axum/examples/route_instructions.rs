//! Sends N AEXO deliveries through one axum route in process, for counting
//! instructions under callgrind (`scripts/route-instructions.sh` runs it).
//!
//! `cargo run --release -p hookgate-axum --example route_instructions -- ROUTE N [SIZE]`
//! with ROUTE one of `plain`, `hookgate`, `hookgate_memory` (see
//! `benches/support/routes.rs`, which the criterion bench `route` shares).
//! Every delivery is a distinct event of SIZE bytes (default 512), built and
//! signed before the first is sent; each answer must be 200.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../benches/support/routes.rs"]
mod routes;

fn main() {
    let usage = format!(
        "usage: route_instructions {} N [SIZE]",
        routes::ROUTES.join("|")
    );
    let mut args = std::env::args().skip(1);
    let mut router = args.next().and_then(|r| routes::router(&r)).expect(&usage);
    let n: u64 = args.next().and_then(|n| n.parse().ok()).expect(&usage);
    let size: usize = args.next().map_or(512, |s| s.parse().expect(&usage));
    let deliveries: Vec<_> = (0..n).map(|i| routes::delivery(i, size)).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for req in deliveries {
            routes::answer(&mut router, req).await;
        }
    });
}
