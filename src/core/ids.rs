//! Identifier newtypes shared by every layer: requests, people, roles, grants and chat identities.
//! Owns only naming and formatting of ids; no lookups, no I/O.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

string_id!(
    /// One activation request, as users type it (`r-3f9a1c2b`).
    RequestId
);
string_id!(
    /// A person's id in the policy file (`alice`).
    PersonId
);
string_id!(
    /// A role's key as used in commands (`global-admin`).
    RoleKey
);
string_id!(
    /// One grant (time-bound active assignment).
    GrantId
);
string_id!(
    /// One break-glass alarm.
    AlarmId
);
string_id!(
    /// One internal error as shown to a person (`inc-3f9a1c2b`); the log line with its cause
    /// carries the same id.
    IncidentId
);

impl RequestId {
    /// A fresh random request id: short enough to type, long enough not to collide.
    pub fn generate() -> Self {
        Self(format!("r-{}", random_hex(8)))
    }
}

impl GrantId {
    /// The grant id of `request`'s activation (`r-3f9a1c2b` → `g-3f9a1c2b`): the one way grant
    /// ids are made. Every try of the same activation gets the same id, so the directory is
    /// asked for the same assignment (its idempotency keys derive from it) instead of a second
    /// one, and the ids stored by earlier versions follow the same rule.
    pub fn for_request(request: &RequestId) -> Self {
        // `trim_start_matches`, as every earlier version did, so a retried activation of a
        // stored request names the very row it wrote ahead.
        Self(format!("g-{}", request.as_str().trim_start_matches("r-")))
    }
}

impl AlarmId {
    /// A fresh random alarm id.
    pub fn generate() -> Self {
        Self(format!("a-{}", random_hex(8)))
    }
}

impl IncidentId {
    /// A fresh random incident id.
    pub fn generate() -> Self {
        Self(format!("inc-{}", random_hex(8)))
    }
}

fn random_hex(len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len).map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0')).collect()
}

/// A chat platform pimbot talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Slack (Web API + signed HTTP requests).
    Slack,
    /// Discord (HTTP interactions + REST).
    Discord,
    /// Microsoft Teams (Bot Framework activities + Connector REST).
    Teams,
}

impl Platform {
    /// Lower-case name used in storage and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Discord => "discord",
            Platform::Teams => "teams",
        }
    }

    /// Parses the lower-case name written by [`Platform::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "slack" => Some(Platform::Slack),
            "discord" => Some(Platform::Discord),
            "teams" => Some(Platform::Teams),
            _ => None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who clicked or typed: a user id on one chat platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatUser {
    /// The platform the id belongs to.
    pub platform: Platform,
    /// The platform's user id (`U0ALICE`, `111111111111111111`).
    pub id: String,
}

impl ChatUser {
    /// A Slack user.
    pub fn slack(id: impl Into<String>) -> Self {
        Self { platform: Platform::Slack, id: id.into() }
    }

    /// A Discord user.
    pub fn discord(id: impl Into<String>) -> Self {
        Self { platform: Platform::Discord, id: id.into() }
    }

    /// A Teams user, named by their Entra object id (`from.aadObjectId`), lower case.
    pub fn teams(object_id: impl Into<String>) -> Self {
        Self { platform: Platform::Teams, id: object_id.into().to_ascii_lowercase() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_prefix_and_length() {
        let id = RequestId::generate();
        assert!(id.as_str().starts_with("r-"));
        assert_eq!(id.as_str().len(), 10);
        assert_ne!(RequestId::generate(), RequestId::generate());
        let incident = IncidentId::generate();
        assert!(incident.as_str().starts_with("inc-") && incident.as_str().len() == 12, "{incident}");
    }

    #[test]
    fn a_grant_id_follows_its_request_id() {
        let request = RequestId("r-3f9a1c2b".into());
        assert_eq!(GrantId::for_request(&request), GrantId("g-3f9a1c2b".into()));
        assert_eq!(GrantId::for_request(&request), GrantId::for_request(&request));
        assert_eq!(GrantId::for_request(&RequestId("legacy".into())), GrantId("g-legacy".into()));
    }

    #[test]
    fn platform_round_trips() {
        for p in [Platform::Slack, Platform::Discord, Platform::Teams] {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
        assert_eq!(Platform::parse("irc"), None);
    }
}
