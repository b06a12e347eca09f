//! The whole verify call on a real delivery of each built-in scheme, then
//! changed by the fuzzer (bytes of its headers or body overwritten,
//! inserted or removed): never a panic; a delivery whose body changed never
//! verifies (Twilio aside: it signs the decoded form parameters, so two
//! spellings of one form are the same delivery).

#![no_main]

#[path = "common.rs"]
mod common;

use arbitrary::Arbitrary;
use bytes::Bytes;
use hookgate::testing;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Edit {
    Set { at: u16, byte: u8 },
    Insert { at: u16, byte: u8 },
    Remove { at: u16 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    scheme: u8,
    note: String,
    age: u8,
    /// Which part each list edits: 0 the body, n the n-th header.
    edits: Vec<(u8, Edit)>,
    query: Option<String>,
}

fn apply(bytes: &mut Vec<u8>, edit: &Edit) {
    let len = bytes.len();
    match *edit {
        Edit::Set { at, byte } if len > 0 => bytes[at as usize % len] = byte,
        Edit::Insert { at, byte } => bytes.insert(at as usize % (len + 1), byte),
        Edit::Remove { at } if len > 0 => {
            bytes.remove(at as usize % len);
        }
        _ => {}
    }
}

fuzz_target!(|input: Input| {
    let name = common::scheme_name(input.scheme);
    let verifier = common::verifier(name);
    let scheme = verifier.scheme();
    let body = if name == "twilio" {
        let note: String = input
            .note
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        format!("MessageSid=SM1&Body={note}").into_bytes()
    } else {
        let at = time::OffsetDateTime::from(
            common::now() - std::time::Duration::from_secs(input.age.into()),
        );
        testing::sample_body(
            scheme,
            "wh_fuzz",
            "thing.happened",
            serde_json::json!({ "note": input.note }),
            at,
        )
    };
    let mut headers = common::sign(name, &body, "wh_fuzz", u64::from(input.age % 50));
    let mut changed = body.clone();
    for (part, edit) in input.edits.iter().take(16) {
        match *part as usize % (headers.len() + 1) {
            0 => apply(&mut changed, edit),
            n => apply(&mut headers[n - 1].1, edit),
        }
    }
    let verdict = verifier.verify_with_query(
        &headers,
        input.query.as_deref(),
        Bytes::from(changed.clone()),
    );
    if changed != body && name != "twilio" {
        assert!(verdict.is_err(), "{name}: a changed body verified");
    }
});
