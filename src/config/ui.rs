//! `[ui]`: the read-only web view at `/ui` and who may sign in to it. Only parsing and the
//! cross-field rule live here; the viewers are resolved with the rest of the policy
//! (`resolve`), the view itself is `crate::ui`.

use serde::Deserialize;

use super::file::Config;
use super::validate::Problems;

/// `[ui]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiConfig {
    /// Who may sign in to the view: person ids or `@group`. Everyone else is refused after
    /// signing in (403). Empty: nobody.
    #[serde(default)]
    pub viewers: Vec<String>,
}

/// `[ui]` needs `[oidc]` (viewers sign in with it) and at least one viewer.
pub(super) fn check(config: &Config, p: &mut Problems) {
    let Some(ui) = &config.ui else { return };
    if config.oidc.is_none() {
        p.push("ui", "the web view signs viewers in with the OpenID provider: configure [oidc] too");
    }
    if ui.viewers.is_empty() {
        p.push("ui.viewers", "nobody could sign in; list person ids or `@group`s, or remove [ui]");
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use crate::core::ids::PersonId;

    const BASE: &str = r#"
[server]
listen = "127.0.0.1:8080"
[database]
url = "sqlite://pimbot.db"
[[person]]
id = "alice"
upn = "alice@contoso.com"
[[person]]
id = "bob"
upn = "bob@contoso.com"
[[group]]
name = "secops"
members = ["bob"]
"#;

    const OIDC: &str = r#"
[oidc]
issuer = "https://login.microsoftonline.com/t/v2.0"
client_id = "c"
client_secret = "s"
public_url = "https://pimbot.example.com"
"#;

    fn check(text: &str) -> Result<Vec<PersonId>, String> {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 9, 0, 0).single().expect("time");
        let config = crate::config::from_toml_str_with_env(text, &|_| None).map_err(|e| e.to_string())?;
        config.validate(now).map(|p| p.viewers).map_err(|e| e.to_string())
    }

    #[test]
    fn viewers_resolve_people_and_groups_and_need_oidc() {
        let ok = check(&format!("{BASE}{OIDC}\n[ui]\nviewers = [\"alice\", \"@secops\"]\n"));
        assert_eq!(ok, Ok(vec![PersonId::from("alice"), PersonId::from("bob")]));
        let no_oidc = check(&format!("{BASE}\n[ui]\nviewers = [\"alice\"]\n")).expect_err("needs [oidc]");
        assert!(no_oidc.contains("configure [oidc] too"), "{no_oidc}");
        let nobody = check(&format!("{BASE}{OIDC}\n[ui]\nviewers = []\n")).expect_err("nobody");
        assert!(nobody.contains("nobody could sign in"), "{nobody}");
        let unknown = check(&format!("{BASE}{OIDC}\n[ui]\nviewers = [\"mallory\"]\n")).expect_err("unknown");
        assert!(unknown.contains("ui.viewers"), "{unknown}");
        let typo = check(&format!("{BASE}{OIDC}\n[ui]\nviewer = [\"alice\"]\n")).expect_err("unknown key");
        assert!(typo.contains("viewer"), "{typo}");
        assert_eq!(check(&format!("{BASE}{OIDC}")), Ok(vec![]), "no [ui], no viewers");
    }
}
