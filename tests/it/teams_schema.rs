//! Teams JSON against Microsoft's published schemas (vendored in `tests/schemas/`, sources and
//! licences in its README): every Adaptive Card pimbot sends to Teams — the approval card in
//! each state, the clicker's invoke answer, alarm pages (with and without the on-call tag, and
//! acknowledged), review and renewal cards open and decided (also as the clicker's invoke
//! answer), and the notification-only webhook's feed and alarm cards, with and without the
//! on-call tag named — validates against the Adaptive Cards 1.5 schema, the
//! version the cards declare; the app manifest, as shipped and as `pimbot teams package`
//! fills it in, validates against the v1.17 Teams app manifest schema it names.
//!
//! The card schema forbids properties it does not define, and Teams' own `msteams` extension
//! (mention entities) is one, so it is checked here on its own and taken off before the card
//! is validated.

use chrono::{TimeZone, Utc};
use pimbot::core::alarm::Severity;
use pimbot::core::ids::{AlarmId, RequestId};
use pimbot::core::reviews::ReviewDecision;
use pimbot::core::view::{
    AlarmStatus, AlarmView, CardStatus, CardView, MessageBody, Notice, PersonRef, RenewalCardView,
    ReviewCardView, ReviewStatus,
};
use pimbot::teams::render::{self, Tag};
use pimbot::teams::{package, render_review, webhook};
use pimbot::testing::FAKE_TEAMS_APP_ID;
use serde_json::{Value, json};

const CARD_SCHEMA: &str = include_str!("../schemas/adaptive-cards-1.5/adaptive-card.json");
const MANIFEST_SCHEMA: &str = include_str!("../schemas/teams-manifest-1.17/MicrosoftTeams.schema.json");

fn validator(schema: &str) -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(schema).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator.iter_errors(instance).map(|e| e.to_string()).collect()
}

/// Checks Teams' `msteams` extension (mention entities whose text the card carries) and
/// returns the card without it.
fn without_teams_extension(card: &Value) -> Value {
    let text = card.to_string();
    for e in card["msteams"]["entities"].as_array().into_iter().flatten() {
        assert_eq!(e["type"], "mention", "{e}");
        let at = e["text"].as_str().expect("entity text");
        assert!(at.starts_with("<at>") && at.ends_with("</at>"), "{e}");
        assert!(text.matches(at).count() >= 2, "the mention occurs in the card: {e}");
        assert!(e["mentioned"]["id"].as_str().is_some_and(|i| !i.is_empty()), "{e}");
        assert!(e["mentioned"]["name"].as_str().is_some_and(|n| !n.is_empty()), "{e}");
        assert!(matches!(e["mentioned"]["type"].as_str(), None | Some("tag")), "{e}");
    }
    let mut bare = card.clone();
    if let Some(map) = bare.as_object_mut() {
        map.remove("msteams");
    }
    bare
}

fn person(name: &str, id: Option<&str>) -> PersonRef {
    PersonRef { name: name.into(), chat_id: id.map(str::to_owned) }
}

fn approval(status: CardStatus) -> CardView {
    CardView {
        request_id: RequestId::from("r-1a2b3c4d"),
        requester: person("alice", Some("7faf8ab2-3d56-4244-b585-20c8a42ed2b8")),
        role_key: "global-admin".into(),
        role_name: "Global Administrator".into(),
        scope: "/".into(),
        tier: "critical".into(),
        duration: "1h".into(),
        justification: "rotate the <at>leaked</at> *secret*".into(),
        ticket: Some("INC-4711".into()),
        approvals: vec![],
        approvals_required: 1,
        sla: "5m".into(),
        approvers: vec![person("carol", Some("c4a7e2d1-0b3f-4c5e-9d6a-1f2e3d4c5b6a")), person("dave", None)],
        status,
    }
}

fn alarm(status: AlarmStatus, page: i32) -> AlarmView {
    AlarmView {
        alarm_id: AlarmId::from("a-1"),
        headline: "Break-glass account signed in".into(),
        account: "bg1@contoso.onmicrosoft.com".into(),
        at: Utc.with_ymd_and_hms(2026, 1, 1, 3, 0, 0).single().expect("time"),
        ip: Some("203.0.113.7".into()),
        location: Some("Oslo, NO".into()),
        app: Some("Azure Portal".into()),
        client: None,
        ca_status: Some("success".into()),
        succeeded: true,
        severity: Severity::High.as_str().into(),
        page,
        status,
        signins: 1,
        first_at: None,
    }
}

fn review(status: ReviewStatus) -> ReviewCardView {
    ReviewCardView {
        item_id: "ri-1".into(),
        person: person("bob", Some("b130c271-d2eb-45f9-83ab-9eb3fe3788bc")),
        role_key: "global-admin".into(),
        role_name: "Global Administrator".into(),
        tier: "critical".into(),
        history: "3 activation(s) since 2025-10-01; last used 2025-12-20".into(),
        deadline: Utc.with_ymd_and_hms(2026, 1, 3, 0, 0, 0).single().expect("time"),
        default: ReviewDecision::Remove,
        status,
    }
}

fn renewal(decided: Option<(bool, PersonRef)>) -> RenewalCardView {
    RenewalCardView {
        extension_id: "e-1".into(),
        person: person("alice", Some("7faf8ab2-3d56-4244-b585-20c8a42ed2b8")),
        role_key: "user-admin".into(),
        current_until: Some(Utc.with_ymd_and_hms(2026, 1, 4, 0, 0, 0).single().expect("time")),
        requested_until: Utc.with_ymd_and_hms(2026, 2, 3, 0, 0, 0).single().expect("time"),
        justification: "still on the migration".into(),
        approvers: vec![person("carol", Some("c4a7e2d1-0b3f-4c5e-9d6a-1f2e3d4c5b6a"))],
        decided,
    }
}

/// Every card pimbot sends to Teams, named.
fn every_card() -> Vec<(String, Value)> {
    let carol = person("carol", Some("c4a7e2d1-0b3f-4c5e-9d6a-1f2e3d4c5b6a"));
    let tag =
        Tag { id: "MjQzMmI1N2ItMGFiZC00M2RiLWFhN2ItMTZlYWRiMzg2YjMx".into(), name: "SecOps on-call".into() };
    let mut cards = Vec::new();
    let statuses = [
        CardStatus::Open,
        CardStatus::Approved { by: vec![carol.clone()] },
        CardStatus::Approved { by: vec![] },
        CardStatus::Denied { by: carol.clone(), reason: Some("use the runbook".into()) },
        CardStatus::Cancelled,
        CardStatus::TimedOut,
        CardStatus::Withdrawn { reason: "no longer needed".into() },
        CardStatus::Retrying { by: vec![carol.clone()] },
        CardStatus::GrantFailed { by: vec![carol.clone()], reason: Some("directory refused".into()) },
    ];
    for status in statuses {
        let name = format!("approval card {status:?}");
        let card = render::card(&approval(status));
        cards.push((
            format!("{name} as the clicker's invoke answer"),
            render::invoke_card(card.clone())["value"].clone(),
        ));
        cards.push((name, card));
    }
    let acked = AlarmStatus::Acknowledged {
        by: carol.clone(),
        at: Utc.with_ymd_and_hms(2026, 1, 1, 3, 5, 0).single().expect("time"),
        reason: "planned DR test".into(),
    };
    cards.push(("alarm page".into(), render::alarm_card(&alarm(AlarmStatus::Open, 1))));
    cards.push((
        "alarm repeat paging the tag".into(),
        render::alarm_card_paging(&alarm(AlarmStatus::Open, 2), Some(&tag)),
    ));
    cards
        .push(("alarm acknowledged".into(), render::alarm_card_paging(&alarm(acked.clone(), 2), Some(&tag))));
    cards.push(("review open".into(), render_review::review(&review(ReviewStatus::Open))));
    let by_reviewer = ReviewStatus::Decided { decision: ReviewDecision::Keep, by: Some(carol.clone()) };
    cards.push(("review kept".into(), render_review::review(&review(by_reviewer))));
    let by_default = ReviewStatus::Decided { decision: ReviewDecision::Remove, by: None };
    cards.push(("review removed by default".into(), render_review::review(&review(by_default))));
    cards.push(("renewal open".into(), render_review::renewal(&renewal(None))));
    cards.push(("renewal approved".into(), render_review::renewal(&renewal(Some((true, carol.clone()))))));
    cards.push(("renewal denied".into(), render_review::renewal(&renewal(Some((false, carol.clone()))))));
    let kept = ReviewStatus::Decided { decision: ReviewDecision::Keep, by: Some(carol.clone()) };
    for (name, card) in [
        ("review kept", render_review::review(&review(kept))),
        ("renewal approved", render_review::renewal(&renewal(Some((true, carol))))),
    ] {
        cards.push((
            format!("{name} as the clicker's invoke answer"),
            render::invoke_card(card)["value"].clone(),
        ));
    }
    let webhook_bodies = [
        ("webhook feed line", MessageBody::Notice(Notice::text("✅ carol approved `r-1a2b3c4d`"))),
        ("webhook alarm", MessageBody::Alarm(Box::new(alarm(AlarmStatus::Open, 1)))),
        ("webhook alarm acknowledged", MessageBody::Alarm(Box::new(alarm(acked, 1)))),
    ];
    for (name, body) in webhook_bodies {
        for on_call in [None, Some(&tag)] {
            let card = webhook::webhook_card(&body, on_call).expect("a webhook card");
            assert_eq!(webhook::envelope(card.clone())["attachments"][0]["content"], card);
            assert!(card["msteams"].is_null(), "a webhook card mentions nobody: {card}");
            cards.push((format!("{name} (on call named: {})", on_call.is_some()), card));
        }
    }
    // What a real message body renders to (review and renewal bodies included).
    for body in [
        MessageBody::Review(Box::new(review(ReviewStatus::Open))),
        MessageBody::Renewal(Box::new(renewal(None))),
    ] {
        let activity = render::activity(&body, &|id| id.to_owned());
        assert_eq!(activity["attachments"][0]["contentType"], render::CARD_CONTENT_TYPE);
        cards.push((format!("{} body", body.summary()), activity["attachments"][0]["content"].clone()));
    }
    cards
}

/// Fails unless `card` (as sent, with Teams' `msteams` extension) validates against the
/// vendored Adaptive Cards 1.5 schema; for cards other tests take from the wire.
#[track_caller]
pub(crate) fn assert_valid_card(name: &str, card: &Value) {
    assert_eq!(card["version"], render::CARD_VERSION, "{name} declares the schema's version");
    assert_eq!(card["type"], "AdaptiveCard", "{name}");
    let problems = errors(&validator(CARD_SCHEMA), &without_teams_extension(card));
    assert!(problems.is_empty(), "{name}: {problems:?}\n{card}");
}

#[test]
fn every_card_sent_to_teams_validates_against_the_adaptive_cards_schema_it_declares() {
    let schema: Value = serde_json::from_str(CARD_SCHEMA).expect("json");
    assert_eq!(schema["id"], "http://adaptivecards.io/schemas/adaptive-card.json");
    assert!(schema["definitions"]["Table"]["version"] == "1.5", "the vendored schema is version 1.5");
    let validator = validator(CARD_SCHEMA);
    let cards = every_card();
    assert!(cards.len() >= 30, "{}", cards.len());
    for (name, card) in &cards {
        assert_eq!(card["version"], render::CARD_VERSION, "{name} declares the schema's version");
        assert_eq!(card["type"], "AdaptiveCard", "{name}");
        let problems = errors(&validator, &without_teams_extension(card));
        assert!(problems.is_empty(), "{name}: {problems:?}\n{card}");
    }
    // The validator does bite: an element type or an action the schema lacks is refused.
    let mut broken = cards[0].1.clone();
    broken["body"][0]["type"] = json!("Marquee");
    assert!(!errors(&validator, &without_teams_extension(&broken)).is_empty());
    let mut broken = cards[0].1.clone();
    broken["msteams"] = json!({"entities": []});
    assert!(!errors(&validator, &broken).is_empty(), "msteams is Teams' extension, not the schema's");
}

#[test]
fn the_app_manifest_validates_against_the_teams_schema_it_names() {
    let validator = validator(MANIFEST_SCHEMA);
    let shipped: Value = serde_json::from_str(package::MANIFEST).expect("json");
    assert_eq!(
        shipped["$schema"],
        "https://developer.microsoft.com/json-schemas/teams/v1.17/MicrosoftTeams.schema.json",
        "the vendored schema is the one the manifest names"
    );
    assert_eq!(errors(&validator, &shipped), Vec::<String>::new());
    let filled = package::manifest(FAKE_TEAMS_APP_ID, Some("pimbot.example.com")).expect("manifest");
    assert_eq!(errors(&validator, &filled), Vec::<String>::new());
    // The validator does bite: a short name over 30 characters and a non-GUID id are refused.
    let mut long = filled.clone();
    long["name"]["short"] = json!("pimbot privileged access manager");
    assert!(!errors(&validator, &long).is_empty());
    let mut bad_id = filled;
    bad_id["id"] = json!("not-a-guid");
    assert!(!errors(&validator, &bad_id).is_empty());
}
