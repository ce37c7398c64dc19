//! `[directory] lookup_by_email`: off by default, needs `kind = "graph"` and `[slack]`.

use super::*;

const GRAPH: &str =
    "[directory]\nkind = \"graph\"\ntenant_id = \"t\"\nclient_id = \"c\"\nclient_secret = \"s\"\n";
const SLACK: &str = "[slack]\nsigning_secret = \"x\"\nbot_token = \"xoxb-1\"\napprover_channel = \"C1\"\n";

#[test]
fn lookup_by_email_is_off_by_default() {
    let config = parse(BASE);
    assert!(!config.directory.lookup_by_email);
    assert!(!config.lookup_by_email());
}

#[test]
fn lookup_by_email_needs_graph_and_slack() {
    assert_problem(
        &format!("{BASE}{SLACK}[directory]\nlookup_by_email = true\n"),
        "directory.lookup_by_email",
        "kind = \"graph\"",
    );
    assert_problem(&format!("{BASE}{GRAPH}lookup_by_email = true\n"), "directory.lookup_by_email", "[slack]");
    let text = format!("{BASE}{SLACK}{GRAPH}lookup_by_email = true\n");
    let config = parse(&text);
    assert!(config.lookup_by_email());
    if let Err(errs) = config.validate(now()) {
        assert!(!errs.0.iter().any(|e| e.key == "directory.lookup_by_email"), "{errs:?}");
    }
}
