//! `pimbot posture` (the four verification questions; exit 4 when any fails) and `pimbot review
//! changes` (the policy-file edit that catches the file up with review removals, as a unified
//! diff the operator applies and commits).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use clap::Subcommand;
use similar::TextDiff;

use super::{Globals, database_url, exit};
use crate::app::channels_of as all_channels;
use crate::core::policy::Policy;
use crate::core::ports::{EligibilityRemoval, SystemClock};
use crate::core::posture::{AlertRoute, Evidence, PostureInput, assess, render_text};
use crate::core::renewal::EligibilityExtension;
use crate::core::service::AccessService;

/// `pimbot review …`.
#[derive(Debug, Subcommand)]
pub enum ReviewCmd {
    /// Print the policy-file edit (a unified diff) that removes the eligibility reviews took
    /// away and the renewals approvers granted; apply it and commit it to the policy repository.
    Changes,
}

/// `pimbot posture [--json] [--offline]`.
pub async fn posture(globals: &Globals, json: bool, offline: bool) -> anyhow::Result<ExitCode> {
    let (config, policy) = globals.load_policy()?;
    let report = if offline {
        let routes = all_channels(&config)
            .into_iter()
            .map(|c| AlertRoute {
                platform: c.platform,
                alert_channel: (c.alert != c.approver).then_some(c.alert),
            })
            .collect();
        let why = "not checked (--offline)".to_owned();
        let input = PostureInput {
            policy: &policy,
            now: Utc::now(),
            assignments: Evidence::NotAvailable(why.clone()),
            campaigns: Evidence::NotAvailable(why.clone()),
            routes,
            refused_alerts: Evidence::NotAvailable(why),
        };
        assess(&input)
    } else {
        let store = crate::storage::connect(database_url(&config)?).await?;
        let clock: Arc<dyn crate::core::ports::Clock> = Arc::new(SystemClock);
        let directory = crate::directory::from_config(&config.directory, clock.clone())?;
        let service = AccessService::new(store, directory, clock, policy, all_channels(&config));
        service.posture().await?
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report).context("serializing the report")?);
    } else {
        print!("{}", render_text(&report));
    }
    Ok(if report.ok { ExitCode::SUCCESS } else { exit::code(exit::CHECK_FAILED) })
}

/// `pimbot review changes`.
pub async fn changes(globals: &Globals) -> anyhow::Result<ExitCode> {
    let (config, policy) = globals.load_valid()?;
    let path = globals.config_path()?;
    let store = crate::storage::connect(database_url(&config)?).await?;
    let removals = store.eligibility_removals().await?;
    let extensions = store.approved_extensions().await?;
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (edited, notes) = policy_edits(&text, &policy, &removals, &extensions)?;
    for note in &notes {
        eprintln!("note: {note}");
    }
    if edited == text {
        println!("# the policy file already reflects every review removal and renewal");
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", unified_diff(path, &text, &edited));
    Ok(ExitCode::SUCCESS)
}

/// A unified diff of the policy file before and after.
pub fn unified_diff(path: &Path, before: &str, after: &str) -> String {
    let name = path.display().to_string();
    TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// The policy file caught up with pimbot's records (comments and layout kept, through
/// `toml_edit`): removed eligibilities taken out, approved renewals written as `until`; and
/// notes for edits it cannot make (a person eligible through a group).
pub fn policy_edits(
    text: &str,
    policy: &Policy,
    removals: &[EligibilityRemoval],
    extensions: &[EligibilityExtension],
) -> anyhow::Result<(String, Vec<String>)> {
    let mut doc: toml_edit::DocumentMut = text.parse().context("parsing the policy file")?;
    let mut notes = Vec::new();
    let Some(roles) = doc.get_mut("role").and_then(|r| r.as_array_of_tables_mut()) else {
        return Ok((text.to_owned(), notes));
    };
    for removal in removals {
        let Some(table) =
            roles.iter_mut().find(|t| t.get("key").and_then(|k| k.as_str()) == Some(removal.role.as_str()))
        else {
            continue;
        };
        let Some(list) = table.get_mut("eligible").and_then(|e| e.as_array_mut()) else { continue };
        let before = list.len();
        list.retain(|v| {
            let who = v
                .as_str()
                .or_else(|| v.as_inline_table().and_then(|t| t.get("who")).and_then(|w| w.as_str()));
            who != Some(removal.person.as_str())
        });
        let still =
            policy.role(&removal.role).is_ok_and(|r| r.eligible.iter().any(|e| e.person == removal.person));
        if list.len() == before && still {
            notes.push(format!(
                "{} is eligible for `{}` through a group; remove them from that group (or give the role its own list)",
                removal.person, removal.role
            ));
        }
    }
    for e in extensions {
        let Some(table) =
            roles.iter_mut().find(|t| t.get("key").and_then(|k| k.as_str()) == Some(e.role.as_str()))
        else {
            continue;
        };
        let Some(list) = table.get_mut("eligible").and_then(|l| l.as_array_mut()) else { continue };
        let entry = list.iter_mut().find_map(|v| {
            v.as_inline_table_mut()
                .filter(|t| t.get("who").and_then(|w| w.as_str()) == Some(e.person.as_str()))
        });
        let until = e.requested_until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match entry {
            Some(t) => {
                let later = t
                    .get("until")
                    .and_then(|u| u.as_str())
                    .and_then(|u| chrono::DateTime::parse_from_rfc3339(u).ok())
                    .is_some_and(|u| u.with_timezone(&Utc) >= e.requested_until);
                if !later {
                    t.insert("until", until.as_str().into());
                }
            }
            None => notes.push(format!(
                "{}'s renewal of `{}` until {until}: no `{{ who = \"{}\", until = … }}` entry to update; edit it by hand",
                e.person, e.role, e.person
            )),
        }
    }
    Ok((doc.to_string(), notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::renewal::ExtensionState;

    #[test]
    fn the_edit_removes_direct_entries_keeps_comments_and_notes_groups() {
        let text = r#"[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://unused.db"
[[person]]
id = "alice"
[[person]]
id = "bob"
[[person]]
id = "erin"
[[group]]
name = "ops"
members = ["erin"]
[[role]]
key = "reader"
kind = "entra-role"
tier = "standard"
# who may read
eligible = [
  "alice",
  { who = "bob", until = "2027-01-31" },  # contractor
  "@ops",
]
"#;
        let config = crate::config::from_toml_str_with_env(text, &|_| None).expect("parses");
        let policy = config.validate(Utc::now()).expect("valid");
        let removal = |p: &str| EligibilityRemoval {
            person: p.into(),
            role: "reader".into(),
            removed_at: Utc::now(),
            item_id: None,
        };
        let (edited, notes) =
            policy_edits(text, &policy, &[removal("bob"), removal("erin")], &[]).expect("edits");
        assert!(edited.contains("# who may read"));
        assert!(!edited.contains("who = \"bob\""), "{edited}");
        assert!(edited.contains("\"alice\""));
        assert_eq!(notes.len(), 1, "erin comes from @ops: {notes:?}");
        let diff = unified_diff(Path::new("pimbot.toml"), text, &edited);
        assert!(diff.contains("--- a/pimbot.toml") && diff.contains("-  { who = \"bob\""), "{diff}");
        // The edited file is still a valid policy without bob.
        let again = crate::config::from_toml_str_with_env(&edited, &|_| None).expect("parses");
        let policy = again.validate(Utc::now()).expect("valid");
        assert!(!policy.roles[0].eligible.iter().any(|e| e.person.as_str() == "bob"));
    }

    #[test]
    fn approved_renewals_become_the_entry_until() {
        let text = "[[role]]\nkey = \"reader\"\neligible = [\"alice\", { who = \"erin\", until = \"2027-01-31\" }]\n";
        let end =
            chrono::DateTime::parse_from_rfc3339("2027-03-02T00:00:00Z").expect("valid").with_timezone(&Utc);
        let extension = EligibilityExtension {
            id: "e-1".into(),
            person: "erin".into(),
            role: "reader".into(),
            current_until: None,
            requested_until: end,
            justification: "project".into(),
            state: ExtensionState::Approved,
            decided_by: Some("carol".into()),
            decided_at: None,
            created_at: end,
            version: 2,
        };
        let stranger = EligibilityExtension { person: "alice".into(), ..extension.clone() };
        let (edited, notes) =
            policy_edits(text, &Policy::default(), &[], &[extension, stranger]).expect("edits");
        assert!(edited.contains("{ who = \"erin\", until = \"2027-03-02T00:00:00Z\" }"), "{edited}");
        assert_eq!(notes.len(), 1, "alice's entry is permanent text: {notes:?}");
    }
}
