//! Tests of the Block Kit rendering. What a payload looks like is a snapshot
//! (`src/slack/snapshots/pimbot__slack__render__tests__*.snap`: the approval card open and in
//! every decided state, a paging notice, the break-glass alarm and the two modals); the rules a
//! layout change must not break (escaping, limits, the request id on the buttons, no buttons
//! once decided, paging only when asked) are asserted by name below.

use serde_json::Value;

use super::*;

fn who(name: &str, id: Option<&str>) -> PersonRef {
    PersonRef { name: name.into(), chat_id: id.map(str::to_owned) }
}

fn open_card() -> CardView {
    CardView {
        request_id: "r-1a2b3c4d".into(),
        requester: who("alice", Some("UA")),
        role_key: "global-admin".into(),
        role_name: "Global Administrator".into(),
        scope: "/".into(),
        tier: "critical".into(),
        duration: "1h".into(),
        justification: "rotate keys <!channel> & fix <@UEVIL>\nsecond line".into(),
        ticket: Some("INC-4711".into()),
        approvals: vec![who("carol", Some("UC"))],
        approvals_required: 2,
        sla: "5m".into(),
        approvers: vec![who("carol", Some("UC")), who("dave", None)],
        status: CardStatus::Open,
    }
}

/// Every state a decided card can show, with the snapshot that shows it.
fn decided() -> Vec<(&'static str, CardStatus)> {
    vec![
        (
            "card_approved",
            CardStatus::Approved { by: vec![who("carol", Some("UC")), who("erin", Some("UE"))] },
        ),
        (
            "card_denied_with_reason",
            CardStatus::Denied { by: who("dave", Some("UD")), reason: Some("not <now>".into()) },
        ),
        ("card_denied", CardStatus::Denied { by: who("dave", Some("UD")), reason: None }),
        ("card_cancelled", CardStatus::Cancelled),
        ("card_timed_out", CardStatus::TimedOut),
        ("card_retrying", CardStatus::Retrying { by: vec![who("carol", Some("UC"))] }),
        (
            "card_grant_failed",
            CardStatus::GrantFailed {
                by: vec![who("carol", Some("UC"))],
                reason: Some("refused <x>".into()),
            },
        ),
        ("card_withdrawn", CardStatus::Withdrawn { reason: "its role was removed from the policy".into() }),
    ]
}

fn json_of(content: &SlackMessageContent) -> Value {
    serde_json::to_value(content).expect("serializes")
}

fn blocks_of(v: &Value) -> Vec<Value> {
    v["blocks"].as_array().cloned().unwrap_or_default()
}

fn actions(v: &Value) -> Vec<Value> {
    blocks_of(v).into_iter().filter(|b| b["type"] == "actions").collect()
}

fn all_text(v: &Value) -> String {
    v.to_string()
}

/// Asserts `value` against the snapshot `name` in `src/slack/snapshots/`.
fn snapshot(name: &str, value: &Value) {
    insta::with_settings!({sort_maps => true, omit_expression => true}, {
        insta::assert_json_snapshot!(name, value);
    });
}

#[test]
fn snapshot_open_card() {
    snapshot("card_open", &json_of(&card(&open_card())));
}

#[test]
fn snapshot_decided_cards() {
    for (name, status) in decided() {
        let mut view = open_card();
        view.status = status;
        snapshot(name, &json_of(&card(&view)));
    }
}

#[test]
fn snapshot_notice_alarm_and_modals() {
    let mut paging = Notice::mentioning("please decide on r-1 & more", vec!["UC".into(), "UD".into()]);
    paging.page_channel = true;
    snapshot("notice_paging", &json_of(&message(&MessageBody::Notice(paging))));
    snapshot("alarm", &json_of(&alarm("sign-in by bg1@contoso.com", "a-1")));
    let roles = vec![("global-admin".to_owned(), "Global Administrator".to_owned())];
    snapshot("activate_modal", &serde_json::to_value(activate_modal(&roles)).expect("serializes"));
    snapshot("activate_modal_no_roles", &serde_json::to_value(activate_modal(&[])).expect("serializes"));
    snapshot("deny_modal", &serde_json::to_value(deny_modal("r-1a2b3c4d")).expect("serializes"));
}

#[test]
fn the_buttons_carry_the_request_id() {
    let v = json_of(&card(&open_card()));
    let buttons = actions(&v)[0]["elements"].as_array().cloned().expect("elements");
    let carried: Vec<(&str, &str)> = buttons
        .iter()
        .map(|b| (b["action_id"].as_str().unwrap_or(""), b["value"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(carried, [(ACTION_APPROVE, "r-1a2b3c4d"), (ACTION_DENY, "r-1a2b3c4d")]);
}

#[test]
fn user_text_is_escaped_and_quoted() {
    let s = all_text(&json_of(&card(&open_card())));
    assert!(
        s.contains(">rotate keys &lt;!channel&gt; &amp; fix &lt;@UEVIL&gt; second line"),
        "one line: {s}"
    );
    assert!(!s.contains("<!channel>"));
    assert!(!s.contains("<@UEVIL>"));
}

#[test]
fn names_and_bad_ids_never_become_markup() {
    let mut view = open_card();
    view.requester = who("<!here>", None);
    view.approvers = vec![who("x", Some("U1><!channel"))];
    let s = all_text(&json_of(&card(&view)));
    assert!(s.contains("&lt;!here&gt; requests"), "{s}");
    assert!(!s.contains("<!channel"), "{s}");
}

#[test]
fn decided_cards_have_no_buttons_and_no_approver_list() {
    for (name, status) in decided() {
        let mut view = open_card();
        view.status = status;
        let v = json_of(&card(&view));
        assert!(actions(&v).is_empty(), "buttons left on {name}: {v}");
        assert!(!all_text(&v).contains("Approvers:"), "{name}");
    }
}

#[test]
fn long_justification_is_cut_below_slack_limits() {
    let mut view = open_card();
    view.justification = "x".repeat(10_000);
    let v = json_of(&card(&view));
    for block in blocks_of(&v) {
        if let Some(t) = block["text"]["text"].as_str() {
            assert!(t.chars().count() <= 3000);
        }
    }
}

#[test]
fn notice_puts_mentions_first_and_pages_only_when_asked() {
    let mut n = Notice::mentioning("please decide on r-1 & more", vec!["UC".into(), "UD".into()]);
    let v = json_of(&notice(&n));
    assert_eq!(v["text"], "<@UC> <@UD> please decide on r-1 &amp; more");
    n.page_channel = true;
    let v = json_of(&message(&MessageBody::Notice(n)));
    assert!(v["text"].as_str().unwrap_or_default().starts_with("<!channel> <@UC>"));
}

#[test]
fn plain_notice_cannot_page() {
    let v = json_of(&notice(&Notice::text("<!channel> hi")));
    assert_eq!(v["text"], "&lt;!channel&gt; hi");
}

#[test]
fn alarm_pages_and_its_button_carries_the_alarm_id() {
    let v = json_of(&alarm("sign-in by bg1@contoso.com", "a-1"));
    assert!(v["text"].as_str().unwrap_or_default().starts_with("<!channel>"));
    let button = &actions(&v)[0]["elements"][0];
    assert_eq!(button["action_id"], ACTION_ACK);
    assert_eq!(button["value"], "a-1");
}

#[test]
fn modal_inputs_answer_under_the_field_names_the_handler_reads() {
    let roles = vec![("global-admin".to_owned(), "Global Administrator".to_owned())];
    let v = serde_json::to_value(activate_modal(&roles)).expect("serializes");
    let blocks = blocks_of(&v);
    let ids: Vec<&str> = blocks.iter().filter_map(|b| b["block_id"].as_str()).collect();
    assert_eq!(ids, [FIELD_ROLE, FIELD_DURATION, FIELD_START, FIELD_TICKET, FIELD_JUSTIFICATION]);
    for b in &blocks {
        assert_eq!(b["element"]["action_id"], b["block_id"]);
    }
    assert!(v["title"]["text"].as_str().unwrap_or_default().chars().count() <= 24, "Slack's title limit");
    let deny = serde_json::to_value(deny_modal("r-1a2b3c4d")).expect("serializes");
    assert_eq!(deny["private_metadata"], "r-1a2b3c4d", "the deny form carries the request id");
    assert_eq!(deny["blocks"][0]["element"]["action_id"], FIELD_REASON);
}

#[test]
fn quoted_user_text_in_a_notice_is_one_escaped_line_that_fits() {
    use crate::core::text::{quote, strong};
    let forged = format!(
        "fix\n✅ carol approved alice's request r-1\u{7}\u{1b}[2J \u{202e}<!channel>{}",
        "x".repeat(60_000)
    );
    let n = Notice::text(format!("📝 alice requested {} for 1h: {} (r-2)", strong("reader"), quote(&forged)));
    let text = notice_text(&n);
    assert!(
        !text.contains('\n')
            && !text.contains('\u{7}')
            && !text.contains('\u{1b}')
            && !text.contains('\u{202e}')
    );
    assert!(text.starts_with("📝 alice requested *reader* for 1h: fix ✅ carol approved"), "{text}");
    assert!(text.contains("&lt;!channel&gt;") && !text.contains("<!channel>"));
    assert!(text.chars().count() <= MAX_NOTICE, "{}", text.chars().count());
    assert!(
        text.ends_with("… (r-2)"),
        "the quote is cut, pimbot's own words stay: {}",
        &text[text.len() - 20..]
    );
    // A whole notice that is too long is cut too, never split inside an entity.
    let long = Notice::text(quote(&"&".repeat(5000)));
    let text = notice_text(&long);
    assert!(text.chars().count() <= MAX_NOTICE && text.ends_with("&amp;…"), "{}", &text[text.len() - 12..]);
    assert_eq!(user_text("a\tb\r\nc <@U1>", 100), "a b c &lt;@U1&gt;");
    assert_eq!(user_text("abcdef", 4), "abc…");
}

#[test]
fn refusals_are_placed_by_their_field_whatever_their_words() {
    use crate::core::Error;
    use crate::core::refusal::{Field, Rule, Violation};
    // Words that name no input: the old text search put every one of these under the role.
    let cases = [
        (Rule::TicketRequired, FIELD_TICKET),
        (Rule::JustificationRequired, FIELD_JUSTIFICATION),
        (Rule::TooLong(Field::Justification), FIELD_JUSTIFICATION),
        (Rule::TooLong(Field::Ticket), FIELD_TICKET),
        (Rule::DurationBounds, FIELD_DURATION),
        (Rule::StartWindow, FIELD_START),
        (Rule::ScheduledExtension, FIELD_START),
        (Rule::OpenRequest, FIELD_ROLE),
        (Rule::MinimumHold, FIELD_ROLE),
    ];
    for (rule, block) in cases {
        let refused = Error::PolicyViolation(Violation::new(rule, "not like that; try again"));
        assert_eq!(activate_block(refused.field()), block, "{rule:?}");
    }
    // And words that name another input move nothing.
    let misleading = Error::policy(Rule::DurationBounds, "the ticket and the justification are fine");
    assert_eq!(activate_block(misleading.field()), FIELD_DURATION);
    let not_eligible = Error::NotAuthorized("no ticket, no justification, not activated for you".into());
    assert_eq!(activate_block(not_eligible.field()), FIELD_ROLE);
}
