//! People and group references in the policy: `[[group]]` tables expanded (nested groups
//! allowed, cycles and unknown members refused) and [`Refs`], which resolves a person id or an
//! `@group` in `approvers`, `escalate_to`, `eligible` and the other lists to person ids.

use std::collections::{HashMap, HashSet};

use super::file::GroupConfig;
use super::resolve::bad_name;
use super::validate::Problems;
use crate::core::ids::PersonId;

/// Expands every `[[group]]`, by name.
pub(super) fn groups<'a>(
    groups: &'a [GroupConfig],
    people: &HashSet<&str>,
    p: &mut Problems,
) -> HashMap<&'a str, Vec<PersonId>> {
    let mut by_name: HashMap<&str, &GroupConfig> = HashMap::new();
    for g in groups {
        if let Some(why) = bad_name(&g.name) {
            p.push(format!("group \"{}\": name", g.name), why);
        }
        if by_name.insert(g.name.as_str(), g).is_some() {
            p.push(
                format!("group \"{}\": name", g.name),
                "defined twice; group names must be unique (merge the two [[group]] tables)",
            );
        }
    }
    let mut expander = GroupExpander { by_name, people, done: HashMap::new(), stack: Vec::new() };
    for g in groups {
        expander.expand(&g.name, p);
    }
    expander.done
}

struct GroupExpander<'a, 'p> {
    by_name: HashMap<&'a str, &'a GroupConfig>,
    people: &'p HashSet<&'p str>,
    done: HashMap<&'a str, Vec<PersonId>>,
    stack: Vec<&'a str>,
}

impl<'a> GroupExpander<'a, '_> {
    fn expand(&mut self, name: &'a str, p: &mut Problems) -> Vec<PersonId> {
        if let Some(members) = self.done.get(name) {
            return members.clone();
        }
        let Some(group) = self.by_name.get(name).copied() else { return Vec::new() };
        let key = format!("group \"{name}\": members");
        self.stack.push(name);
        let mut out = Vec::new();
        for member in &group.members {
            if let Some(inner) = member.strip_prefix('@') {
                if let Some(start) = self.stack.iter().position(|s| *s == inner) {
                    let chain: Vec<&str> = self.stack[start..].iter().copied().chain([inner]).collect();
                    p.push(
                        key.clone(),
                        format!(
                            "`{member}` makes a cycle ({}); remove one of those references",
                            chain.join(" → ")
                        ),
                    );
                } else if self.by_name.contains_key(inner) {
                    out.extend(self.expand(inner, p));
                } else {
                    p.push(key.clone(), unknown_group(inner));
                }
            } else if self.people.contains(member.as_str()) {
                out.push(PersonId::from(member.as_str()));
            } else {
                p.push(key.clone(), unknown_person(member));
            }
        }
        self.stack.pop();
        dedupe(&mut out);
        self.done.insert(name, out.clone());
        out
    }
}

fn unknown_person(id: &str) -> String {
    format!("unknown person \"{id}\" (add a [[person]] with id = \"{id}\" or remove it)")
}

fn unknown_group(name: &str) -> String {
    format!("unknown group \"@{name}\" (add a [[group]] with name = \"{name}\" or remove it)")
}

/// Drops repeated ids, keeping the first of each.
pub(super) fn dedupe(ids: &mut Vec<PersonId>) {
    let mut seen = HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
}

/// Known people and expanded groups, for resolving `approvers`, `escalate_to` and `eligible`.
pub(super) struct Refs<'a> {
    pub(super) people: HashSet<&'a str>,
    pub(super) groups: HashMap<&'a str, Vec<PersonId>>,
}

impl Refs<'_> {
    /// The person ids `reference` (a person id or `@group`) names; unknown ones are reported.
    pub(super) fn expand(&self, reference: &str, key: &str, p: &mut Problems) -> Vec<PersonId> {
        if let Some(name) = reference.strip_prefix('@') {
            match self.groups.get(name) {
                Some(members) => members.clone(),
                None => {
                    p.push(key, unknown_group(name));
                    Vec::new()
                }
            }
        } else if self.people.contains(reference) {
            vec![PersonId::from(reference)]
        } else {
            p.push(key, unknown_person(reference));
            Vec::new()
        }
    }

    /// [`Refs::expand`] of every reference, without repeats.
    pub(super) fn expand_all(&self, references: &[String], key: &str, p: &mut Problems) -> Vec<PersonId> {
        let mut out: Vec<PersonId> = references.iter().flat_map(|r| self.expand(r, key, p)).collect();
        dedupe(&mut out);
        out
    }
}
