//! A `Directory` decorator that counts every call in `pimbot_directory_calls_total` and times
//! it in `pimbot_directory_call_duration_seconds`, so no directory implementation has to know
//! about metrics.
//!
//! It must forward **every** `Directory` method, including those with default bodies:
//! a method left out would silently fall back to the trait's default instead of the wrapped
//! directory's answer. The test below calls each one through the wrapper.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::core::Result;
use crate::core::ids::RoleKey;
use crate::core::policy::{Person, Role};
use crate::core::ports::{Directory, DirectoryAssignment, DirectoryUser, GrantSpec};

/// Wraps a directory and counts its calls by operation and outcome.
pub struct InstrumentedDirectory {
    inner: Arc<dyn Directory>,
}

impl InstrumentedDirectory {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Directory>) -> Self {
        Self { inner }
    }

    fn count<T>(&self, op: &'static str, started: Instant, result: Result<T>) -> Result<T> {
        crate::metrics::directory_call(self.inner.name(), op, result.is_ok());
        crate::metrics::directory_latency(self.inner.name(), op, started.elapsed().as_secs_f64());
        result
    }
}

#[async_trait]
impl Directory for InstrumentedDirectory {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn grant(&self, spec: &GrantSpec) -> Result<()> {
        let started = Instant::now();
        self.count("grant", started, self.inner.grant(spec).await)
    }

    async fn revoke(&self, spec: &GrantSpec) -> Result<()> {
        let started = Instant::now();
        self.count("revoke", started, self.inner.revoke(spec).await)
    }

    async fn eligible_roles(
        &self,
        person: &Person,
        roles: &[Role],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<RoleKey>>> {
        let started = Instant::now();
        let result = self.inner.eligible_roles(person, roles, now).await;
        // `Ok(None)` means "the policy decides": no directory call happened.
        if matches!(result, Ok(None)) { result } else { self.count("eligibility", started, result) }
    }

    async fn active_assignments(&self, roles: &[Role]) -> Result<Option<Vec<DirectoryAssignment>>> {
        let started = Instant::now();
        let result = self.inner.active_assignments(roles).await;
        if matches!(result, Ok(None)) { result } else { self.count("list_assignments", started, result) }
    }

    fn remove_unmanaged(&self) -> bool {
        self.inner.remove_unmanaged()
    }

    async fn remove_assignment(&self, role: &Role, assignment: &DirectoryAssignment) -> Result<()> {
        let started = Instant::now();
        self.count("remove_assignment", started, self.inner.remove_assignment(role, assignment).await)
    }

    async fn lookup_user(&self, upn: &str) -> Result<Option<DirectoryUser>> {
        let started = Instant::now();
        self.count("lookup_user", started, self.inner.lookup_user(upn).await)
    }

    async fn remove_eligibility(&self, person: &Person, role: &Role) -> Result<bool> {
        let started = Instant::now();
        let result = self.inner.remove_eligibility(person, role).await;
        if matches!(result, Ok(false)) { result } else { self.count("remove_eligibility", started, result) }
    }

    async fn standing_assignments(&self, roles: &[Role]) -> Result<Option<Vec<DirectoryAssignment>>> {
        let started = Instant::now();
        let result = self.inner.standing_assignments(roles).await;
        if matches!(result, Ok(None)) { result } else { self.count("list_assignments", started, result) }
    }

    async fn pim_eligible_roles(
        &self,
        person: &Person,
        roles: &[Role],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<RoleKey>>> {
        let started = Instant::now();
        let result = self.inner.pim_eligible_roles(person, roles, now).await;
        if matches!(result, Ok(None)) { result } else { self.count("eligibility", started, result) }
    }

    fn grant_retry_for(&self) -> chrono::Duration {
        self.inner.grant_retry_for()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Answers every method with something other than the trait default and records the calls.
    #[derive(Default)]
    struct Probe {
        calls: Mutex<Vec<&'static str>>,
    }

    impl Probe {
        fn hit(&self, what: &'static str) {
            self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(what);
        }
    }

    #[async_trait]
    impl Directory for Probe {
        fn name(&self) -> &'static str {
            "probe"
        }
        async fn grant(&self, _: &GrantSpec) -> Result<()> {
            self.hit("grant");
            Ok(())
        }
        async fn revoke(&self, _: &GrantSpec) -> Result<()> {
            self.hit("revoke");
            Ok(())
        }
        async fn eligible_roles(
            &self,
            _: &Person,
            _: &[Role],
            _: DateTime<Utc>,
        ) -> Result<Option<Vec<RoleKey>>> {
            self.hit("eligible_roles");
            Ok(Some(vec![RoleKey::from("reader")]))
        }
        async fn active_assignments(&self, _: &[Role]) -> Result<Option<Vec<DirectoryAssignment>>> {
            self.hit("active_assignments");
            Ok(Some(Vec::new()))
        }
        fn remove_unmanaged(&self) -> bool {
            true
        }
        async fn remove_assignment(&self, _: &Role, _: &DirectoryAssignment) -> Result<()> {
            self.hit("remove_assignment");
            Err(crate::core::Error::Internal(anyhow::anyhow!("refused")))
        }
        async fn lookup_user(&self, upn: &str) -> Result<Option<DirectoryUser>> {
            self.hit("lookup_user");
            Ok(Some(DirectoryUser { object_id: "o".into(), upn: upn.into(), account_enabled: true }))
        }
        async fn pim_eligible_roles(
            &self,
            _: &Person,
            _: &[Role],
            _: DateTime<Utc>,
        ) -> Result<Option<Vec<RoleKey>>> {
            self.hit("pim_eligible_roles");
            Ok(Some(Vec::new()))
        }
        fn grant_retry_for(&self) -> chrono::Duration {
            chrono::Duration::seconds(7)
        }
    }

    fn reader_role() -> Role {
        let toml = r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://unused.db"
[[person]]
id = "alice"
upn = "alice@contoso.com"
[[role]]
key = "reader"
name = "Reader"
kind = "entra-role"
directory_id = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
tier = "standard"
eligible = ["alice"]
"#;
        let config = crate::config::from_toml_str_with_env(toml, &|_| None).expect("parses");
        let policy = config.validate(Utc::now()).expect("valid");
        policy.role(&RoleKey::from("reader")).expect("reader").clone()
    }

    #[tokio::test]
    async fn every_method_reaches_the_wrapped_directory() {
        let probe = Arc::new(Probe::default());
        let wrapped = InstrumentedDirectory::new(probe.clone());
        let person = Person {
            id: "alice".into(),
            upn: "alice@contoso.com".into(),
            object_id: None,
            slack: None,
            discord: None,
            timezone: None,
        };
        let assignment = DirectoryAssignment {
            role: RoleKey::from("reader"),
            principal_id: "p".into(),
            starts_at: None,
            ends_at: None,
            assignment_type: "Assigned".into(),
        };
        assert_eq!(wrapped.name(), "probe");
        assert_eq!(
            wrapped.eligible_roles(&person, &[], Utc::now()).await.ok().flatten(),
            Some(vec![RoleKey::from("reader")])
        );
        assert_eq!(wrapped.active_assignments(&[]).await.ok().flatten(), Some(Vec::new()));
        assert!(wrapped.remove_unmanaged());
        let role = reader_role();
        assert!(wrapped.remove_assignment(&role, &assignment).await.is_err());
        let spec = GrantSpec {
            grant_id: crate::core::ids::GrantId("g-1".into()),
            person: person.clone(),
            role,
            starts_at: Utc::now(),
            ends_at: Utc::now(),
            justification: "test".into(),
            ticket: None,
        };
        wrapped.grant(&spec).await.ok();
        wrapped.revoke(&spec).await.ok();
        let found = wrapped.lookup_user("dave@contoso.com").await.ok().flatten();
        assert_eq!(found.map(|u| u.upn), Some("dave@contoso.com".to_owned()));
        assert_eq!(wrapped.pim_eligible_roles(&person, &[], Utc::now()).await.ok().flatten(), Some(vec![]));
        assert_eq!(wrapped.grant_retry_for(), chrono::Duration::seconds(7));
        let calls = probe.calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert_eq!(
            calls,
            [
                "eligible_roles",
                "active_assignments",
                "remove_assignment",
                "grant",
                "revoke",
                "lookup_user",
                "pim_eligible_roles"
            ]
        );
    }
}
