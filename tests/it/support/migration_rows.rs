//! Rows as earlier versions of pimbot wrote them, inserted with the SQL of their version, for
//! `tests/it/migrations.rs`. Each part names the migration whose schema its SQL is written
//! against; a database at version V gets every part up to V, each inserted when the schema was
//! at the part's version (see [`build`]). `$N` placeholders and values bound
//! from Rust serve SQLite and PostgreSQL alike, as in `storage::queries`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use pimbot::core::audit::{Actor, AuditEvent, GENESIS_HASH};
use pimbot::core::state::RequestState;
use pimbot::testing::audit::test_linker;
use sqlx::migrate::Migrator;

use super::migration_conn::t;
pub use super::migration_conn::{Conn, Val};

/// The first schema: requests, approvals, grants, outbox and posted cards of the first release.
pub const FIRST_VERSION: i64 = 1;
/// The schema the base part is written against (governance tables, keyed audit, identity).
pub const BASE_VERSION: i64 = 8;
/// The part with a scheduled start (`requests.starts_at`).
pub const SCHEDULE_VERSION: i64 = 10;
/// The part with a Teams conversation.
pub const TEAMS_VERSION: i64 = 11;

/// The open grant (of the active request).
pub const OPEN_GRANT: &str = "g-0000000a";
/// The ended grant (of the expired request).
pub const ENDED_GRANT: &str = "g-0000000b";
/// How many audit events the base part chains.
pub const AUDIT_EVENTS: usize = 3;
/// alice's Entra object id in her Slack link.
pub const ALICE_OBJECT_ID: &str = "0c0e8f0a-1111-4a4a-9b9b-a11ce0000001";
/// The open alarm's id and account.
pub const ALARM_ID: &str = "a-0000000c";
/// The break-glass account of the alarm.
pub const BREAK_GLASS_UPN: &str = "bg-admin@contoso.com";
/// Key of the stored Teams conversation.
pub const CONVERSATION_KEY: &str = "user:0c0e8f0a-1111-4a4a-9b9b-a11ce0000001";

/// The fixture's "now": every row is written at or before it.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).single().expect("a valid time")
}

/// Id of the `i`th request (one per state in `RequestState::ALL`).
pub fn request_id(i: usize) -> String {
    format!("r-{i:08x}")
}

/// The role of the request in `state` (one role each, so open ones never collide).
pub fn role_of(state: RequestState) -> String {
    format!("role-{}", state.as_str().replace('_', "-"))
}

/// The posted-ref key of the pending request's card.
pub fn card_ref() -> String {
    format!("card:{}", request_id(pending_index()))
}

fn pending_index() -> usize {
    RequestState::ALL.iter().position(|s| *s == RequestState::Pending).expect("pending is a state")
}

fn index_of(state: RequestState) -> usize {
    RequestState::ALL.iter().position(|s| *s == state).expect("every state is listed")
}

/// One part of the fixture: the version its SQL is written for, and what it inserts.
type Part = (i64, fn() -> Vec<(&'static str, Vec<Val>)>);

const PARTS: &[Part] =
    &[(FIRST_VERSION, first), (BASE_VERSION, base), (SCHEDULE_VERSION, scheduled), (TEAMS_VERSION, teams)];

/// The parts a database at `version` gets.
pub fn parts_at(version: i64) -> Vec<Part> {
    PARTS.iter().copied().filter(|(v, _)| *v <= version).collect()
}

/// Brings a fresh database to `version` as it would have grown: each part's rows are inserted
/// once the schema reaches the part's version, then the later migrations carry them on.
pub async fn build(conn: &mut Conn, migrator: &Migrator, version: i64) {
    for (at, part) in parts_at(version) {
        conn.migrate_to(migrator, at).await;
        for (sql, vals) in part() {
            conn.exec(sql, &vals).await;
        }
    }
    conn.migrate_to(migrator, version).await;
}

const INSERT_REQUEST: &str = "INSERT INTO requests (id, requester, role, duration_secs, justification, \
     ticket, state, version, origin, created_at, decided_at, decided_by, reason, nudge_stage, \
     next_nudge_at, grant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";

const INSERT_GRANT: &str = "INSERT INTO grants (id, request_id, person, role, starts_at, ends_at, ended_at, \
     end_reason, version, target_kind, target_directory_id, target_scope, target_principal, granting) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, 'entra-role', $9, '/', $10, $11)";

const INSERT_AUDIT: &str = "INSERT INTO audit_events (seq, at, actor_kind, actor, kind, request_id, role, \
     detail, prev_hash, hash, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// bob's requests of the first release: two pending for the same role (0004 keeps the newer
/// and cancels the older), one active with its approval and grant (no directory target yet).
pub const FIRST_REQUESTS: [&str; 3] = ["r-f1257001", "r-f1257002", "r-f1257003"];
/// bob's grant of the first release.
pub const FIRST_GRANT: &str = "g-f12570030000";

/// Rows of schema 0001: bob's requests (see [`FIRST_REQUESTS`]), the grant, a delivered
/// outbox row and the posted card.
fn first() -> Vec<(&'static str, Vec<Val>)> {
    let now = now();
    let sql = "INSERT INTO requests (id, requester, role, duration_secs, justification, ticket, state, version, \
               origin, created_at, decided_at, decided_by, reason, nudge_stage, next_nudge_at, grant_id) \
               VALUES ($1, 'bob', $2, 1800, 'first release', NULL, $3, 1, 'slack', $4, $5, $6, NULL, 'none', NULL, $7)";
    let request = |i: usize, role: &str, state: &str, created: DateTime<Utc>, active: bool| {
        let decided = active.then_some(created + Duration::minutes(1));
        let vals = vec![
            t(FIRST_REQUESTS[i]),
            t(role),
            t(state),
            Val::Time(created),
            Val::OptTime(decided),
            Val::OptText(active.then(|| "carol".to_owned())),
            Val::OptText(active.then(|| FIRST_GRANT.to_owned())),
        ];
        (sql, vals)
    };
    let active_at = now - Duration::minutes(20);
    vec![
        request(0, "legacy-reader", "pending", now - Duration::hours(3), false),
        request(1, "legacy-reader", "pending", now - Duration::hours(2), false),
        request(2, "legacy-admin", "active", active_at, true),
        (
            "INSERT INTO approvals (request_id, approver, at) VALUES ($1, 'carol', $2)",
            vec![t(FIRST_REQUESTS[2]), Val::Time(active_at + Duration::minutes(1))],
        ),
        (
            "INSERT INTO grants (id, request_id, person, role, starts_at, ends_at, ended_at, end_reason, version) \
             VALUES ($1, $2, 'bob', 'legacy-admin', $3, $4, NULL, NULL, 1)",
            vec![
                t(FIRST_GRANT),
                t(FIRST_REQUESTS[2]),
                Val::Time(active_at + Duration::minutes(1)),
                Val::Time(active_at + Duration::minutes(31)),
            ],
        ),
        (
            "INSERT INTO outbox (platform, order_key, message, state, due_at, attempts, created_at, delivered_at) \
             VALUES ('slack', 'feed', $1, 'done', $2, 1, $2, $2)",
            vec![t(feed_notice("bob is now legacy-admin")), Val::Time(active_at)],
        ),
        (
            "INSERT INTO posted_refs (platform, ref_key, channel, message_id) VALUES ('slack', $1, 'C0APPROVERS', '1772340000.000100')",
            vec![t(format!("card:{}", FIRST_REQUESTS[2]))],
        ),
    ]
}

/// A feed notice as the outbox stores it.
fn feed_notice(text: &str) -> String {
    serde_json::json!({
        "platform": "slack",
        "target": {"to": "channel", "channel": "C0FEED"},
        "body": {"kind": "notice", "text": text, "mentions": [], "page_channel": false},
        "order_key": "feed",
        "remember_as": null
    })
    .to_string()
}

/// Rows of schema 0008: a request in every state (approvals on the decided ones, a grant for
/// the active and the expired), a keyed audit chain and its head, outbox rows pending, done and
/// rejected, a posted card, a Slack identity link, an open break-glass alarm with its sign-in.
fn base() -> Vec<(&'static str, Vec<Val>)> {
    let now = now();
    let created = now - Duration::hours(2);
    let decided = now - Duration::hours(1);
    let mut rows = Vec::new();
    for (i, state) in RequestState::ALL.into_iter().enumerate() {
        let decided_state = !matches!(state, RequestState::AwaitingMfa | RequestState::Pending);
        let grant = match state {
            RequestState::Active => Some(OPEN_GRANT.to_owned()),
            RequestState::Expired => Some(ENDED_GRANT.to_owned()),
            _ => None,
        };
        let nudge = (state == RequestState::Pending).then_some(now + Duration::minutes(5));
        rows.push((
            INSERT_REQUEST,
            vec![
                t(request_id(i)),
                t("alice"),
                t(role_of(state)),
                Val::Int(3600),
                t(format!("fixture request in state {state}")),
                Val::OptText(Some("INC-4711".into())),
                t(state.as_str()),
                Val::Int(if decided_state { 2 } else { 1 }),
                t("slack"),
                Val::Time(created),
                Val::OptTime(decided_state.then_some(decided)),
                Val::OptText(decided_state.then(|| "carol".to_owned())),
                Val::OptText((state == RequestState::Denied).then(|| "no incident open".to_owned())),
                t("none"),
                Val::OptTime(nudge),
                Val::OptText(grant),
            ],
        ));
    }
    for state in [RequestState::Approved, RequestState::Active, RequestState::Expired] {
        rows.push((
            "INSERT INTO approvals (request_id, approver, at) VALUES ($1, $2, $3)",
            vec![t(request_id(index_of(state))), t("carol"), Val::Time(decided)],
        ));
    }
    for (grant, state, ended) in
        [(OPEN_GRANT, RequestState::Active, None), (ENDED_GRANT, RequestState::Expired, Some(now))]
    {
        rows.push((
            INSERT_GRANT,
            vec![
                t(grant),
                t(request_id(index_of(state))),
                t("alice"),
                t(role_of(state)),
                Val::Time(decided),
                Val::Time(decided + Duration::hours(1)),
                Val::OptTime(ended),
                Val::OptText(ended.map(|_| "expired".to_owned())),
                t("62e90394-69f5-4237-9190-012177145e10"),
                t(ALICE_OBJECT_ID),
                Val::Bool(false),
            ],
        ));
    }
    rows.extend(audit_chain(created, decided));
    rows.extend(outbox(now));
    rows.push((
        "INSERT INTO posted_refs (platform, ref_key, channel, message_id) VALUES ('slack', $1, 'C0APPROVERS', $2)",
        vec![t(card_ref()), t("1772350200.000100")],
    ));
    rows.push((
        "INSERT INTO identity_links (platform, chat_id, object_id, tenant_id, username, linked_at) \
         VALUES ('slack', 'U0ALICE', $1, '0d9b645f-597b-41f0-a2a3-ef103fbd91bb', 'alice@contoso.com', $2)",
        vec![t(ALICE_OBJECT_ID), Val::Time(created)],
    ));
    rows.push((
        "INSERT INTO alarms (id, signin_id, account_upn, signed_in_at, raised_at, ip, location, app, client, \
         ca_status, succeeded, severity, next_page_at, pages, version, signins, first_signed_in_at, open_account) \
         VALUES ($1, 'signin:5f0c', $2, $3, $3, '203.0.113.7', 'Oslo, NO', 'Azure Portal', 'Browser', \
         'notApplied', $4, 'high', $5, 2, 1, 1, $3, $2)",
        vec![t(ALARM_ID), t(BREAK_GLASS_UPN), Val::Time(decided), Val::Bool(true), Val::Time(now)],
    ));
    rows.push((
        "INSERT INTO alarm_signins (signin_id, alarm_id, signed_in_at, ip, app, succeeded) \
         VALUES ('signin:5f0c', $1, $2, '203.0.113.7', 'Azure Portal', $3)",
        vec![t(ALARM_ID), Val::Time(decided), Val::Bool(true)],
    ));
    rows
}

/// Three events chained with the test key, and the head moved to the last.
fn audit_chain(created: DateTime<Utc>, decided: DateTime<Utc>) -> Vec<(&'static str, Vec<Val>)> {
    let linker = test_linker();
    let active = index_of(RequestState::Active);
    let role = role_of(RequestState::Active);
    let events = [
        (
            created,
            Actor::Person("alice".into()),
            "request.submitted",
            serde_json::json!({"duration_secs": 3600}),
        ),
        (
            decided,
            Actor::Person("carol".into()),
            "request.approved",
            serde_json::json!({"time_to_decision_secs": 3600}),
        ),
        (decided, Actor::System, "grant.activated", serde_json::json!({"grant_id": OPEN_GRANT})),
    ];
    let mut prev = GENESIS_HASH.to_owned();
    let mut rows = Vec::new();
    for (seq, (at, actor, kind, detail)) in events.into_iter().enumerate() {
        let event = AuditEvent {
            at,
            actor: actor.clone(),
            kind: kind.into(),
            request_id: Some(request_id(active).as_str().into()),
            role: Some(role.as_str().into()),
            detail,
        };
        let record = linker.chain(seq as i64 + 1, event, &prev);
        let (actor_kind, actor_id) = match &actor {
            Actor::Person(p) => ("person", p.to_string()),
            Actor::System => ("system", "system".to_owned()),
        };
        rows.push((
            INSERT_AUDIT,
            vec![
                Val::Int(record.seq),
                Val::Time(record.event.at),
                t(actor_kind),
                t(actor_id),
                t(record.event.kind.clone()),
                Val::OptText(Some(request_id(active))),
                Val::OptText(Some(role.clone())),
                t(record.event.detail.to_string()),
                t(record.prev_hash.clone()),
                t(record.hash.clone()),
                t(record.key_id.clone()),
            ],
        ));
        prev = record.hash;
    }
    rows.push((
        "UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1",
        vec![Val::Int(AUDIT_EVENTS as i64), t(prev)],
    ));
    rows
}

/// A feed notice as the outbox stored it: pending, delivered, and refused for good.
fn outbox(now: DateTime<Utc>) -> Vec<(&'static str, Vec<Val>)> {
    let message = feed_notice("alice activated Global Reader for 1h");
    let sql = "INSERT INTO outbox (platform, order_key, message, state, due_at, attempts, last_error, \
               created_at, delivered_at, in_doubt, rejected_at) VALUES ('slack', 'feed', $1, $2, $3, $4, $5, $3, $6, $7, $8)";
    vec![
        (
            sql,
            vec![
                t(&message),
                t("pending"),
                Val::Time(now),
                Val::Int(0),
                Val::OptText(None),
                Val::OptTime(None),
                Val::Bool(false),
                Val::OptTime(None),
            ],
        ),
        (
            sql,
            vec![
                t(&message),
                t("done"),
                Val::Time(now - Duration::hours(1)),
                Val::Int(1),
                Val::OptText(None),
                Val::OptTime(Some(now - Duration::hours(1))),
                Val::Bool(false),
                Val::OptTime(None),
            ],
        ),
        (
            sql,
            vec![
                t(&message),
                t("rejected"),
                Val::Time(now - Duration::hours(1)),
                Val::Int(1),
                Val::OptText(Some("channel_not_found".into())),
                Val::OptTime(None),
                Val::Bool(false),
                Val::OptTime(Some(now - Duration::minutes(59))),
            ],
        ),
    ]
}

/// Schema 0010: the approved request waits for a scheduled start.
fn scheduled() -> Vec<(&'static str, Vec<Val>)> {
    vec![(
        "UPDATE requests SET starts_at = $1 WHERE id = $2",
        vec![Val::Time(now() + Duration::hours(12)), t(request_id(index_of(RequestState::Approved)))],
    )]
}

/// Schema 0011: a Teams personal conversation learned from a message.
fn teams() -> Vec<(&'static str, Vec<Val>)> {
    vec![(
        "INSERT INTO teams_conversations (key, conversation_id, service_url, user_id, updated_at) \
         VALUES ($1, 'a:1fakePersonalChat', 'https://smba.trafficmanager.net/amer/', '29:1fakeUserId', $2)",
        vec![t(CONVERSATION_KEY), Val::Time(now())],
    )]
}
