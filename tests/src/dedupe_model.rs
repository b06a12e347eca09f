//! A model of the dedupe store contract, and a property check that holds a
//! real store (memory or Redis) to it over generated sequences of claims,
//! commits, releases and clock steps.
//!
//! The model is the contract of [`DedupeStore`] written as plain data: a
//! key is free, held by one token until its lease ends, or done until its
//! retention ends. `commit` and `release` act only for the key's holder
//! (or, for `commit`, when the lease lapsed and nobody claimed since). Every
//! claim's answer from the store must be the model's, so a store that lets
//! a stale holder undo a newer claim, forgets a commit, or answers `New`
//! twice for a held key fails the check with the sequence that shows it.

use std::collections::HashMap;
use std::time::Duration;

use hookgate::dedupe::{Claim, DedupeStore};
use hookgate::store::Token;
use hookgate::ManualClock;
use proptest::prelude::*;

/// How many distinct keys a sequence touches: few, so that operations on
/// the same key meet often.
pub const KEYS: u8 = 4;

/// Which token an operation uses.
#[derive(Debug, Clone, Copy)]
pub enum Holder {
    /// The `n`-th token issued so far in the sequence (modulo how many),
    /// whatever key it was issued for: the current holder, a stale one, or
    /// another key's.
    Issued(usize),
    /// A token the store never issued.
    Foreign,
}

/// One step of a sequence.
#[derive(Debug, Clone)]
pub enum Op {
    /// `claim(key, lease)`.
    Claim {
        /// Which key.
        key: u8,
        /// The lease, in milliseconds.
        lease_ms: u64,
    },
    /// `commit(key, token, retention)`.
    Commit {
        /// Which key.
        key: u8,
        /// Whose token.
        holder: Holder,
        /// The retention, in milliseconds.
        retention_ms: u64,
    },
    /// `release(key, token)`.
    Release {
        /// Which key.
        key: u8,
        /// Whose token.
        holder: Holder,
    },
    /// The clock moves forward (only for stores on a settable clock).
    Advance {
        /// By how many milliseconds.
        ms: u64,
    },
}

fn holder() -> impl Strategy<Value = Holder> {
    prop_oneof![
        4 => (0usize..64).prop_map(Holder::Issued),
        1 => Just(Holder::Foreign),
    ]
}

/// Sequences of up to `len` operations. With `clock`, leases and
/// retentions are short and the clock moves (landing exactly on an expiry
/// now and then); without, they are long enough never to expire during the
/// check (for a store on real time, such as Redis).
pub fn ops(len: usize, clock: bool) -> impl Strategy<Value = Vec<Op>> {
    let span = if clock {
        1u64..=40
    } else {
        600_000u64..=600_001
    };
    let key = 0..KEYS;
    let op = prop_oneof![
        3 => (key.clone(), span.clone()).prop_map(|(key, lease_ms)| Op::Claim { key, lease_ms }),
        2 => (key.clone(), holder(), span.clone()).prop_map(|(key, holder, retention_ms)| {
            Op::Commit { key, holder, retention_ms }
        }),
        2 => (key, holder()).prop_map(|(key, holder)| Op::Release { key, holder }),
        if clock { 2 } else { 0 } => (1u64..=25).prop_map(|ms| Op::Advance { ms }),
    ];
    proptest::collection::vec(op, 1..=len)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Held(Token),
    Done,
}

/// The contract as data: each key's state and when it ends.
#[derive(Debug, Default)]
struct Model {
    now: u64,
    keys: HashMap<u8, (State, u64)>,
}

impl Model {
    fn live(&self, key: u8) -> Option<State> {
        self.keys
            .get(&key)
            .filter(|(_, until)| *until > self.now)
            .map(|(state, _)| *state)
    }

    fn claim(&self, key: u8) -> Result<(), Claim> {
        match self.live(key) {
            Some(State::Done) => Err(Claim::Done),
            Some(State::Held(_)) => Err(Claim::InFlight),
            None => Ok(()),
        }
    }

    fn hold(&mut self, key: u8, token: Token, lease: u64) {
        self.keys
            .insert(key, (State::Held(token), self.now.saturating_add(lease)));
    }

    fn commit(&mut self, key: u8, token: Token, retention: u64) {
        let mine = match self.keys.get(&key) {
            Some((State::Held(t), _)) if *t == token => true,
            Some(_) => self.live(key).is_none(),
            None => true,
        };
        if mine {
            self.keys
                .insert(key, (State::Done, self.now.saturating_add(retention)));
        }
    }

    fn release(&mut self, key: u8, token: Token) {
        if matches!(self.keys.get(&key), Some((State::Held(t), _)) if *t == token) {
            self.keys.remove(&key);
        }
    }
}

/// Runs `ops` against `store` and the model; `Err` names the first step
/// where the store's answer differs. `clock` is the store's clock, moved by
/// `Advance` steps; `name` prefixes every key (a fresh one per sequence
/// keeps sequences apart on a shared server).
pub async fn check<S: DedupeStore>(
    store: &S,
    clock: Option<&ManualClock>,
    name: &str,
    ops: &[Op],
) -> Result<(), String> {
    let mut model = Model::default();
    let mut issued: Vec<Token> = Vec::new();
    let key_of = |k: u8| format!("{name}:{k}");
    let pick = |issued: &[Token], holder: Holder| match holder {
        Holder::Issued(n) if !issued.is_empty() => issued[n % issued.len()],
        _ => Token::new(),
    };
    let fail = |step: usize, what: String| Err(format!("step {step} ({:?}): {what}", ops[step]));
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Claim { key, lease_ms } => {
                let got = store
                    .claim(&key_of(key), Duration::from_millis(lease_ms))
                    .await
                    .map_err(|e| format!("step {step}: {e}"))?;
                match (model.claim(key), got) {
                    (Ok(()), Claim::New(token)) => {
                        if issued.contains(&token) {
                            return fail(step, format!("token {token:?} issued twice"));
                        }
                        issued.push(token);
                        model.hold(key, token, lease_ms);
                    }
                    (Err(want), got) if want == got => {}
                    (want, got) => {
                        return fail(step, format!("store answered {got:?}, model {want:?}"))
                    }
                }
            }
            Op::Commit {
                key,
                holder,
                retention_ms,
            } => {
                let token = pick(&issued, holder);
                store
                    .commit(&key_of(key), token, Duration::from_millis(retention_ms))
                    .await
                    .map_err(|e| format!("step {step}: {e}"))?;
                model.commit(key, token, retention_ms);
            }
            Op::Release { key, holder } => {
                let token = pick(&issued, holder);
                store
                    .release(&key_of(key), token)
                    .await
                    .map_err(|e| format!("step {step}: {e}"))?;
                model.release(key, token);
            }
            Op::Advance { ms } => match clock {
                Some(clock) => {
                    clock.advance(Duration::from_millis(ms));
                    model.now += ms;
                }
                None => return fail(step, "no clock to move".into()),
            },
        }
    }
    // Every key's final state, read back with a claim.
    for key in 0..KEYS {
        let got = store
            .claim(&key_of(key), Duration::from_millis(1))
            .await
            .map_err(|e| format!("final claim: {e}"))?;
        let want = model.claim(key);
        let same = matches!((&want, &got), (Ok(()), Claim::New(_)))
            || matches!((&want, &got), (Err(w), g) if w == g);
        if !same {
            return Err(format!(
                "after the sequence, key {key}: store answered {got:?}, model {want:?}"
            ));
        }
    }
    Ok(())
}
