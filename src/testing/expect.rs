//! What a test expected a fake to be sent, and what it was sent besides. Each fake keeps the
//! indices of the calls a test has taken (`expect_*`, `take_*`); `assert_nothing_unexpected`
//! then fails listing every accepted outgoing call no test took, so an extra post, edit or DM
//! fails the test that did not ask for it. Reads (`users.info`, `GET /channels/…`) and calls
//! the fake refused are not "sent" and never left over.

use std::collections::BTreeSet;

/// A recorded call as the ledger sees it.
pub trait Sent {
    /// Whether the call delivered something (a post, an edit, a modal), as opposed to a read
    /// or a call the fake refused.
    fn is_sent(&self) -> bool;
    /// One line naming the call, for failure messages.
    fn describe(&self) -> String;
}

/// Indices of the calls a test has taken.
#[derive(Debug, Default)]
pub struct Taken(BTreeSet<usize>);

impl Taken {
    /// Forgets every index (the fake dropped its calls).
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Takes the first sent call not taken yet that `want` accepts.
    pub fn first<C: Sent + Clone>(&mut self, calls: &[C], want: impl Fn(&C) -> bool) -> Option<C> {
        let i = (0..calls.len()).find(|i| !self.0.contains(i) && calls[*i].is_sent() && want(&calls[*i]))?;
        self.0.insert(i);
        Some(calls[i].clone())
    }

    /// Takes every sent call not taken yet that `want` accepts, in order.
    pub fn all<C: Sent + Clone>(&mut self, calls: &[C], want: impl Fn(&C) -> bool) -> Vec<C> {
        let mut out = Vec::new();
        for (i, call) in calls.iter().enumerate() {
            if !self.0.contains(&i) && call.is_sent() && want(call) {
                self.0.insert(i);
                out.push(call.clone());
            }
        }
        out
    }

    /// The sent calls no test took, described.
    pub fn leftovers<C: Sent>(&self, calls: &[C]) -> Vec<String> {
        calls
            .iter()
            .enumerate()
            .filter(|(i, c)| !self.0.contains(i) && c.is_sent())
            .map(|(_, c)| c.describe())
            .collect()
    }
}

/// Panics naming `what` was expected and listing the calls still not taken.
#[track_caller]
pub fn missing(fake: &str, what: &str, leftovers: &[String]) -> ! {
    panic!("{fake} was not sent {what}; calls not yet expected:\n{}", list(leftovers))
}

/// Panics unless `leftovers` is empty (skipped while the thread is already panicking, so a
/// failing test reports its own failure).
#[track_caller]
pub fn nothing_left(fake: &str, leftovers: &[String]) {
    if !leftovers.is_empty() && !std::thread::panicking() {
        panic!("{fake} was sent {} call(s) no test expected:\n{}", leftovers.len(), list(leftovers));
    }
}

fn list(calls: &[String]) -> String {
    if calls.is_empty() {
        return "  (none)".into();
    }
    calls.iter().map(|c| format!("  - {c}")).collect::<Vec<_>>().join("\n")
}

/// A body shortened for a failure line.
pub fn short(body: &serde_json::Value) -> String {
    let text = body.to_string();
    match text.char_indices().nth(240) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
