//! A role's `eligible` list items: a person id or `@group`, or a table with a time-bound end
//! (`{ who = "erin", until = "2027-01-31" }`). Parsing only; expansion happens in `resolve`.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// One item of a role's `eligible` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibleEntry {
    /// Person id or `@group`.
    pub who: String,
    /// End of the right; `None` is permanent.
    pub until: Option<Until>,
}

/// When a time-bound eligibility ends, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// `2027-01-31`: eligible through that whole day, UTC.
    Day(NaiveDate),
    /// An RFC 3339 timestamp: eligible until that instant.
    Instant(DateTime<Utc>),
}

impl Until {
    /// The exclusive end: the next midnight UTC after a day, or the instant itself.
    pub fn exclusive_end(self) -> DateTime<Utc> {
        match self {
            Until::Day(day) => {
                let next = day.succ_opt().unwrap_or(day);
                next.and_time(NaiveTime::MIN).and_utc()
            }
            Until::Instant(at) => at,
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Until::Day(day));
        }
        DateTime::parse_from_rfc3339(text).map(|at| Until::Instant(at.with_timezone(&Utc))).map_err(|_| {
            format!(
                "`{text}` is not a date; write a day like 2027-01-31 (eligible through that day, UTC) \
                 or an RFC 3339 timestamp like 2027-01-31T18:00:00Z"
            )
        })
    }
}

impl fmt::Display for Until {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Until::Day(day) => write!(f, "{day}"),
            Until::Instant(at) => write!(f, "{}", at.to_rfc3339()),
        }
    }
}

/// The table form of an `eligible` item.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EligibleTable {
    who: String,
    #[serde(default, deserialize_with = "opt_until")]
    until: Option<Until>,
}

impl<'de> Deserialize<'de> for EligibleEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A hand-written visitor instead of `#[serde(untagged)]`, which would swallow the inner
        // error ("unknown field `untill`") into "did not match any variant".
        struct EntryVisitor;

        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = EligibleEntry;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a person id, "@group", or { who = "erin", until = "2027-01-31" }"#)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(EligibleEntry { who: v.to_owned(), until: None })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let table = EligibleTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(EligibleEntry { who: table.who, until: table.until })
            }
        }

        deserializer.deserialize_any(EntryVisitor)
    }
}

fn opt_until<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Until>, D::Error> {
    // Accept both `until = "2027-01-31"` and TOML's native `until = 2027-01-31`.
    let text = match toml::Value::deserialize(deserializer)? {
        toml::Value::String(s) => s,
        toml::Value::Datetime(dt) => dt.to_string(),
        other => {
            return Err(de::Error::custom(format!(
                "until must be a date like \"2027-01-31\", not a {}",
                other.type_str()
            )));
        }
    };
    Until::parse(&text).map(Some).map_err(de::Error::custom)
}
