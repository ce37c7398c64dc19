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
