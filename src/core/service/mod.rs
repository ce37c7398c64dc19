//! Use cases: submit, decide, activate, cancel, deactivate, expire and nudge. Each reads the
//! clock once, decides with the pure rules, and writes one `Commit`.
