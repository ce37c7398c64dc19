//! Tests of the Discord rendering. What a payload looks like is a snapshot
//! (`src/discord/snapshots/pimbot__discord__render__tests__*.snap`: the approval card open and
//! decided, the edit that closes a denied card, two notices and the deny form); the rules a
//! layout change must not break (who is pinged, the request id in every `custom_id`, no
//! buttons once decided, Discord's limits, escaping) are asserted by name below.

use serde_json::{Value, json};

use super::*;
use crate::core::ids::RequestId;

fn who(name: &str, id: Option<&str>) -> PersonRef {
    PersonRef { name: name.into(), chat_id: id.map(Into::into) }
}

fn view(status: CardStatus) -> CardView {
    CardView {
        request_id: RequestId::from("r-1a2b3c4d"),
        requester: who("alice", Some("111")),
        role_key: "global-admin".into(),
        role_name: "Global Administrator".into(),
        scope: "/".into(),
        tier: "critical".into(),
        duration: "1h".into(),
        justification: "rotate leaked secret @everyone".into(),
        ticket: Some("INC-4711".into()),
        approvals: vec![],
        approvals_required: 1,
        sla: "5m".into(),
        approvers: vec![who("carol", Some("333")), who("dave", Some("444")), who("zed", None)],
        status,
    }
}

/// The decided states, with the snapshot that shows each.
fn decided() -> Vec<(&'static str, CardStatus)> {
    vec![
        ("card_approved", CardStatus::Approved { by: vec![who("carol", Some("333"))] }),
        ("card_retrying", CardStatus::Retrying { by: vec![who("carol", Some("333"))] }),
        (
            "card_grant_failed",
            CardStatus::GrantFailed {
                by: vec![who("carol", Some("333"))],
                reason: Some("the directory refused the grant".into()),
            },
        ),
    ]
}

fn json_of(r: Rendered) -> Value {
    serde_json::to_value(r.create(None)).expect("serializes")
}

fn denied_edit() -> Value {
    let denied = card(&view(CardStatus::Denied { by: who("dave", Some("444")), reason: Some("no".into()) }));
    serde_json::to_value(denied.edit()).expect("serializes")
}

/// Asserts `value` against the snapshot `name` in `src/discord/snapshots/`.
fn snapshot(name: &str, value: &Value) {
    insta::with_settings!({sort_maps => true, omit_expression => true}, {
        insta::assert_json_snapshot!(name, value);
    });
}

#[test]
fn snapshot_cards() {
    snapshot("card_open", &json_of(card(&view(CardStatus::Open))));
    for (name, status) in decided() {
        snapshot(name, &json_of(card(&view(status))));
    }
    snapshot("card_denied_edit", &denied_edit());
}

#[test]
fn snapshot_notices_and_deny_modal() {
    let page = Notice { text: "break-glass sign-in".into(), mentions: vec![], page_channel: true };
    snapshot("notice_paging", &json_of(notice(&page)));
    let plain = Notice::mentioning("please decide @here", vec!["333".into(), "not-a-snowflake".into()]);
    snapshot("notice_mentioning", &json_of(notice(&plain)));
    snapshot("deny_modal", &serde_json::to_value(deny_modal("r-1")).expect("serializes"));
}

#[test]
fn an_open_card_pings_the_approvers_only_and_its_buttons_carry_the_request_id() {
    let v = json_of(card(&view(CardStatus::Open)));
    assert_eq!(v["allowed_mentions"], json!({"parse": [], "users": ["333", "444"], "roles": []}));
    let buttons = &v["components"][0]["components"];
    assert_eq!(buttons[0]["custom_id"], "approve:r-1a2b3c4d");
    assert_eq!(buttons[1]["custom_id"], "deny:r-1a2b3c4d");
    let embed = v["embeds"][0].to_string();
    assert!(!embed.contains("@everyone"), "typed @everyone is defused: {embed}");
}

#[test]
fn a_decided_card_has_no_buttons_and_pings_nobody() {
    for (name, status) in decided() {
        let v = json_of(card(&view(status)));
        assert_eq!(v["components"], json!([]), "{name}");
        assert_eq!(v["allowed_mentions"]["users"], json!([]), "{name}");
    }
    assert_eq!(denied_edit()["components"], json!([]));
}

#[test]
fn notices_ping_exactly_their_mentions_and_only_paging_allows_everyone() {
    let page = Notice { text: "break-glass sign-in".into(), mentions: vec![], page_channel: true };
    let v = json_of(notice(&page));
    assert_eq!(v["content"], "@everyone break-glass sign-in");
    assert_eq!(v["allowed_mentions"]["parse"], json!(["everyone"]));
    let plain = Notice::mentioning("please decide @here", vec!["333".into(), "not-a-snowflake".into()]);
    let v = json_of(notice(&plain));
    assert_eq!(v["allowed_mentions"], json!({"parse": [], "users": ["333"], "roles": []}));
    let content = v["content"].as_str().expect("content");
    assert!(content.starts_with("<@333> @not-a-snowflake please decide @\u{200B}here"), "{content}");
}

#[test]
fn user_text_is_cut_to_discords_limits() {
    let mut long = view(CardStatus::Denied { by: who("dave", Some("444")), reason: Some("r".repeat(5000)) });
    long.justification = "j".repeat(5000);
    long.role_name = "n".repeat(400);
    long.scope = "s".repeat(3000);
    long.ticket = Some("t".repeat(3000));
    let text = card_embed(&long);
    assert!(text.total() <= MAX_EMBED_TOTAL, "total {}", text.total());
    assert!(text.title.chars().count() <= MAX_TITLE);
    assert!(text.fields.iter().all(|(n, v, _)| n.chars().count() <= MAX_FIELD_NAME
        && v.chars().count() <= MAX_FIELD_VALUE
        && !v.is_empty()));
    let v = json_of(card(&long));
    assert!(v["content"].as_str().expect("content").chars().count() <= MAX_CONTENT);

    let mut crowd = view(CardStatus::Open);
    crowd.approvers =
        (0..300).map(|i| who("x", Some(&format!("{}", 100_000_000_000_000_000u64 + i)))).collect();
    let v = json_of(card(&crowd));
    assert!(v["content"].as_str().expect("content").chars().count() <= MAX_CONTENT);
    assert!(v["components"][0]["components"].as_array().expect("row").len() <= MAX_BUTTONS_PER_ROW);

    let n = Notice::mentioning("x".repeat(3000), vec!["333".into()]);
    let content = notice_content(&n);
    assert_eq!(content.chars().count(), MAX_CONTENT);
    assert!(content.starts_with("<@333> xxx") && content.ends_with('…'));
}

#[test]
fn the_deny_form_carries_the_request_id_and_answers_as_reason() {
    let v = serde_json::to_value(deny_modal("r-1")).expect("serializes");
    assert_eq!(v["custom_id"], "deny_reason:r-1");
    assert_eq!(v["components"][0]["components"][0]["custom_id"], "reason");
}

#[test]
fn quoted_user_text_in_a_notice_is_one_escaped_line_that_fits() {
    use crate::core::text::{quote, strong};
    let forged = format!("fix\n✅ **carol** approved <@100> @everyone\u{7}\u{202e}{}", "x".repeat(60_000));
    let n = Notice::text(format!("📝 alice requested {}: {} (r-2)", strong("reader"), quote(&forged)));
    let content = notice_content(&n);
    assert!(!content.contains('\n') && !content.contains('\u{7}') && !content.contains('\u{202e}'));
    assert!(
        content.starts_with(
            "📝 alice requested **reader**: fix ✅ \\*\\*carol\\*\\* approved \\<@100\\> @\u{200B}everyone"
        ),
        "{content}"
    );
    assert!(content.chars().count() <= MAX_CONTENT);
    assert!(content.ends_with("… (r-2)"), "{}", &content[content.len() - 20..]);
    assert_eq!(user_text("a_b\n#c", 100), "a\\_b \\#c");
    assert_eq!(user_text("\\\\\\", 3), "\\\\…", "an escape is never split");
}

#[test]
fn emphasis_in_a_notice_is_discord_bold_never_slack_bold() {
    use crate::core::text::strong;
    let n =
        Notice::text(format!("🔓 You are now {} until 10:00 ({})", strong("global-admin"), strong("r-1")));
    let content = notice_content(&n);
    assert_eq!(content, "🔓 You are now **global-admin** until 10:00 (**r-1**)");
    // Single asterisks would be italics on Discord.
    assert!(!content.replace("**", "").contains('*'), "{content}");
}
