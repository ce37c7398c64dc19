//! Tests of the Block Kit rendering: what Slack receives, asserted on the JSON.

use serde_json::{Value, json};

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

#[test]
fn open_card_has_approve_and_deny_buttons_carrying_the_request_id() {
    let v = json_of(&card(&open_card()));
    let actions = actions(&v);
    assert_eq!(actions.len(), 1);
    let buttons = actions[0]["elements"].as_array().expect("elements");
    assert_eq!(buttons.len(), 2);
    assert_eq!(buttons[0]["type"], "button");
    assert_eq!(buttons[0]["action_id"], ACTION_APPROVE);
    assert_eq!(buttons[0]["value"], "r-1a2b3c4d");
    assert_eq!(buttons[0]["style"], "primary");
    assert_eq!(buttons[0]["text"], json!({"type": "plain_text", "text": "Approve"}));
    assert_eq!(buttons[1]["action_id"], ACTION_DENY);
    assert_eq!(buttons[1]["value"], "r-1a2b3c4d");
    assert_eq!(buttons[1]["style"], "danger");
}

#[test]
fn card_shows_requester_role_progress_and_approvers() {
    let v = json_of(&card(&open_card()));
    let s = all_text(&v);
    assert!(s.contains("<@UA> requests *Global Administrator* (`global-admin`) for *1h*"), "{s}");
    for needle in ["*Scope*", "critical", "INC-4711", "r-1a2b3c4d", "1/2 by <@UC>", "*SLA*\\n5m"] {
        assert!(s.contains(needle), "missing {needle} in {s}");
    }
    assert!(s.contains("Approvers: <@UC>, dave"), "{s}");
    assert_eq!(v["text"], "PIM request r-1a2b3c4d: alice wants Global Administrator for 1h");
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
fn decided_cards_have_no_buttons_and_say_who_decided() {
    let cases = [
        (
            CardStatus::Approved { by: vec![who("carol", Some("UC")), who("erin", Some("UE"))] },
            "✅ Approved by <@UC>, <@UE>",
        ),
        (
            CardStatus::Denied { by: who("dave", Some("UD")), reason: Some("not <now>".into()) },
            "❌ Denied by <@UD>: not &lt;now&gt;",
        ),
        (CardStatus::Denied { by: who("dave", Some("UD")), reason: None }, "❌ Denied by <@UD>"),
        (CardStatus::Cancelled, "Cancelled by the requester"),
        (CardStatus::TimedOut, "Timed out: nobody decided in time"),
        (
            CardStatus::Retrying { by: vec![who("carol", Some("UC"))] },
            "✅ Approved by <@UC>: granting… (retrying)",
        ),
        (
            CardStatus::GrantFailed {
                by: vec![who("carol", Some("UC"))],
                reason: Some("refused <x>".into()),
            },
            "❌ Approved by <@UC>, but the grant failed: refused &lt;x&gt;",
        ),
        (
            CardStatus::Withdrawn { reason: "its role was removed from the policy".into() },
            "↩️ Cancelled: its role was removed from the policy",
        ),
    ];
    for (status, line) in cases {
        let mut view = open_card();
        view.status = status;
        let v = json_of(&card(&view));
        assert!(actions(&v).is_empty(), "buttons left on {v}");
        assert!(all_text(&v).contains(line), "missing {line} in {v}");
        assert!(v["text"].as_str().unwrap_or_default().contains(line));
        assert!(!all_text(&v).contains("Approvers:"));
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
fn notice_puts_mentions_first_and_pages_with_channel() {
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
fn alarm_pages_and_carries_the_ack_button() {
    let v = json_of(&alarm("sign-in by bg1@contoso.com", "a-1"));
    assert!(v["text"].as_str().unwrap_or_default().starts_with("<!channel>"));
    let button = &actions(&v)[0]["elements"][0];
    assert_eq!(button["action_id"], ACTION_ACK);
    assert_eq!(button["value"], "a-1");
}

#[test]
fn activate_modal_has_the_five_inputs() {
    let roles = vec![("global-admin".to_owned(), "Global Administrator".to_owned())];
    let v = serde_json::to_value(activate_modal(&roles)).expect("serializes");
    assert_eq!(v["type"], "modal");
    assert_eq!(v["callback_id"], CALLBACK_ACTIVATE);
    let blocks = blocks_of(&v);
    let ids: Vec<&str> = blocks.iter().filter_map(|b| b["block_id"].as_str()).collect();
    assert_eq!(ids, [FIELD_ROLE, FIELD_DURATION, FIELD_START, FIELD_TICKET, FIELD_JUSTIFICATION]);
    for b in &blocks {
        assert_eq!(b["type"], "input");
        assert_eq!(b["element"]["action_id"], b["block_id"]);
    }
    assert_eq!(blocks[0]["element"]["type"], "static_select");
    assert_eq!(blocks[0]["element"]["options"][0]["value"], "global-admin");
    assert_eq!(blocks[2]["optional"], true);
    assert_eq!(blocks[3]["optional"], true);
    assert_eq!(blocks[4]["element"]["multiline"], true);
    assert!(v["title"]["text"].as_str().unwrap_or_default().chars().count() <= 24);

    let v = serde_json::to_value(activate_modal(&[])).expect("serializes");
    assert_eq!(v["blocks"][0]["element"]["type"], "plain_text_input");
}

#[test]
fn deny_modal_carries_the_request_id() {
    let v = serde_json::to_value(deny_modal("r-1a2b3c4d")).expect("serializes");
    assert_eq!(v["callback_id"], CALLBACK_DENY_REASON);
    assert_eq!(v["private_metadata"], "r-1a2b3c4d");
    assert_eq!(v["blocks"][0]["block_id"], FIELD_REASON);
    assert_eq!(v["blocks"][0]["element"]["action_id"], FIELD_REASON);
    assert_eq!(v["blocks"][0]["element"]["multiline"], true);
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
