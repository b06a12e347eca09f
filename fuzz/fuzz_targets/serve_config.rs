//! `hookgate serve`'s config parser on any text: an error with a line, or
//! a config; never a panic. The parser's files are included by path from
//! the CLI crate (a binary, which cannot be depended on).

#![no_main]

// Siblings at the crate root, as they are under `serve` in the CLI, so
// that their `super::` paths resolve the same.
#[path = "../../crates/hookgate-cli/src/serve/config.rs"]
#[allow(dead_code, unreachable_pub)]
mod config;
#[path = "../../crates/hookgate-cli/src/serve/scheme_config.rs"]
#[allow(dead_code, unreachable_pub)]
mod scheme_config;
#[path = "../../crates/hookgate-cli/src/serve/tenants_config.rs"]
#[allow(dead_code, unreachable_pub)]
mod tenants_config;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    // Secret files are looked up under a directory that does not exist.
    let _ = config::parse(text, std::path::Path::new("/nonexistent-hookgate-fuzz"));
});
