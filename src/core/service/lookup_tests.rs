//! Unit tests of the lookup-by-email rules and cache.

use async_trait::async_trait;

use super::*;
use crate::core::ids::RoleKey;

const POLICY: &str = r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://unused.db"
[[person]]
id = "alice"
upn = "alice@contoso.com"
object_id = "a0000000-0000-0000-0000-00000000000a"
slack = "U0ALICE"
[[break_glass]]
upn = "bg1@contoso.onmicrosoft.com"
object_id = "bb000000-0000-0000-0000-0000000000bb"
[[role]]
key = "global-admin"
name = "Global Administrator"
kind = "entra-role"
directory_id = "62e90394-69f5-4237-9190-012177145e10"
tier = "critical"
require_mfa = false
approver_mfa = false
approvals_required = 0
eligible = ["alice"]
[[role]]
key = "reader"
name = "Global Reader"
kind = "entra-role"
directory_id = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
tier = "standard"
eligible = ["alice"]
"#;

fn policy() -> Policy {
    let config = crate::config::from_toml_str_with_env(POLICY, &|_| None).expect("parses");
    config.validate(Utc::now()).expect("valid")
}

fn user(upn: &str, object_id: &str, enabled: bool) -> DirectoryUser {
    DirectoryUser { object_id: object_id.into(), upn: upn.into(), account_enabled: enabled }
}

fn dave() -> DirectoryUser {
    user("Dave@Contoso.com", "d0000000-0000-0000-0000-00000000000d", true)
}

#[test]
fn a_found_account_becomes_a_transient_person_named_by_upn() {
    let person = transient_person(&dave(), Some(&ChatUser::slack("U0DAVE")));
    assert_eq!(person.id, PersonId::from("dave@contoso.com"));
    assert_eq!(person.upn, "Dave@Contoso.com");
    assert_eq!(person.object_id.as_deref(), Some("d0000000-0000-0000-0000-00000000000d"));
    assert_eq!(person.slack.as_deref(), Some("U0DAVE"));
    assert_eq!(person.discord, None);
    assert!(is_transient(&policy(), &person));
    assert!(!is_transient(&policy(), policy().person(&"alice".into()).expect("alice")));
}

#[test]
fn disabled_break_glass_and_listed_accounts_are_refused() {
    let policy = policy();
    assert!(check_found(&policy, &dave()).is_ok());
    let disabled = check_found(&policy, &user("dave@contoso.com", "d0", false)).expect_err("disabled");
    assert!(disabled.to_string().contains("disabled"), "{disabled}");
    let glass = check_found(&policy, &user("BG1@contoso.onmicrosoft.com", "x", true)).expect_err("bg");
    assert!(glass.to_string().contains("break-glass"), "{glass}");
    let by_oid =
        check_found(&policy, &user("other@contoso.com", "BB000000-0000-0000-0000-0000000000BB", true));
    assert!(by_oid.is_err());
    let listed = check_found(&policy, &user("alice@contoso.com", "x", true)).expect_err("listed");
    assert!(listed.to_string().contains("`alice`"), "{listed}");
}

#[test]
fn critical_roles_are_refused_to_transient_people_only() {
    let policy = policy();
    let ga = policy.role(&RoleKey::from("global-admin")).expect("ga");
    let reader = policy.role(&RoleKey::from("reader")).expect("reader");
    let stranger = transient_person(&dave(), None);
    let refused = check_transient_role(&policy, ga, &stranger).expect_err("critical");
    assert!(refused.to_string().contains("critical role"), "{refused}");
    assert!(check_transient_role(&policy, reader, &stranger).is_ok());
    let alice = policy.person(&"alice".into()).expect("alice");
    assert!(check_transient_role(&policy, ga, alice).is_ok());
}

struct NoEmail;

#[async_trait]
impl ChatIdentity for NoEmail {
    async fn email(&self, _: &ChatUser) -> Result<Option<String>> {
        Ok(None)
    }
}

#[test]
fn found_people_are_reused_for_the_ttl_and_keep_their_chat_ids() {
    let lookup = Lookup::new(Arc::new(NoEmail));
    let now = Utc::now();
    let slack = ChatUser::slack("U0DAVE");
    let person = transient_person(&dave(), Some(&slack));
    lookup.remember(&slack, now, person.clone());
    assert_eq!(lookup.fresh(&slack, now + LOOKUP_TTL - Duration::seconds(1)), Some(person.clone()));
    assert_eq!(lookup.fresh(&slack, now + LOOKUP_TTL), None);
    assert_eq!(lookup.fresh(&ChatUser::slack("U0OTHER"), now), None);
    assert_eq!(lookup.chat_ids(&person.id), (Some("U0DAVE".into()), None));
    assert_eq!(lookup.chat_ids(&"nobody".into()), (None, None));
}
