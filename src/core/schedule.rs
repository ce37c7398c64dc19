//! Scheduled starts: `/pim activate <role> <duration> at <time> …` asks for a grant that
//! starts later. This module owns the pure part: reading the start the person typed
//! (`at 22:00`, `at 2026-12-03T22:00Z`, `at 2026-12-03 22:00`, `in 2h`), resolving it against
//! `now` in a time zone, and bounding it by the role's `max_start_ahead`. It reads no clock and
//! knows nothing of storage; the service holds the request approved until the start, and the
//! activation sweep makes the grant then.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};

use super::duration::{format_duration, parse_duration};

/// How far ahead a start may be when the role does not say (`max_start_ahead`).
pub const DEFAULT_MAX_START_AHEAD: Duration = Duration::days(7);

/// A time zone that wall-clock starts (`at 22:00`) are read in: the server's
/// (`chrono::Local`), a fixed offset, or a person's IANA zone (`jiff::tz::TimeZone`).
pub trait Zone {
    /// The instant a wall-clock time names; the earlier one when a clock change repeats it,
    /// `None` when a clock change skips it.
    fn to_utc(&self, local: NaiveDateTime) -> Option<DateTime<Utc>>;
    /// The wall-clock date and time at `at`.
    fn local(&self, at: DateTime<Utc>) -> NaiveDateTime;
}

macro_rules! chrono_zone {
    ($($tz:ty),*) => {$(
        impl Zone for $tz {
            fn to_utc(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
                self.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
            }
            fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
                at.with_timezone(self).naive_local()
            }
        }
    )*};
}
chrono_zone!(chrono::Local, chrono::FixedOffset, Utc);

impl Zone for jiff::tz::TimeZone {
    fn to_utc(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        let civil = jiff::civil::DateTime::new(
            i16::try_from(local.year()).ok()?,
            i8::try_from(local.month()).ok()?,
            i8::try_from(local.day()).ok()?,
            i8::try_from(local.hour()).ok()?,
            i8::try_from(local.minute()).ok()?,
            i8::try_from(local.second()).ok()?,
            0,
        )
        .ok()?;
        let offset = match self.to_ambiguous_timestamp(civil).offset() {
            jiff::tz::AmbiguousOffset::Unambiguous { offset } => offset,
            jiff::tz::AmbiguousOffset::Fold { before, .. } => before,
            jiff::tz::AmbiguousOffset::Gap { .. } => return None,
        };
        Some(local.and_utc() - Duration::seconds(i64::from(offset.seconds())))
    }

    fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        let offset =
            jiff::Timestamp::from_second(at.timestamp()).map(|ts| self.to_offset(ts).seconds()).unwrap_or(0);
        at.naive_utc() + Duration::seconds(i64::from(offset))
    }
}

/// A person's IANA time zone (`Europe/Berlin`) from the system's time zone database.
pub fn named_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    jiff::tz::TimeZone::get(name.trim())
        .map_err(|_| format!("`{name}` is not a known time zone; write an IANA name like \"Europe/Berlin\""))
}

/// A start as typed, not yet placed in time (that needs `now` and a time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartSpec {
    /// `at HH:MM`: the next occurrence of that wall-clock time.
    ClockTime(NaiveTime),
    /// `at 2026-12-03T22:00` (no offset): that wall-clock time in the zone.
    Local(NaiveDateTime),
    /// `at 2026-12-03T22:00Z` or with an offset: an exact instant.
    Instant(DateTime<Utc>),
    /// `in 2h`: that long after submission.
    After(Duration),
}

impl StartSpec {
    /// Places the start in time: `now` is the submission time, `zone` the requester's (or the
    /// server's) time zone for wall-clock forms.
    pub fn resolve(self, now: DateTime<Utc>, zone: &dyn Zone) -> Result<DateTime<Utc>, String> {
        let local = |naive: NaiveDateTime| {
            zone.to_utc(naive).ok_or_else(|| {
                format!(
                    "{} does not exist in the time zone (a clock change skips it)",
                    naive.format("%Y-%m-%d %H:%M")
                )
            })
        };
        match self {
            StartSpec::After(d) => Ok(now + d),
            StartSpec::Instant(t) => Ok(t),
            StartSpec::Local(naive) => local(naive),
            StartSpec::ClockTime(time) => {
                let today = zone.local(now).date();
                let first = local(today.and_time(time));
                match first {
                    Ok(t) if t > now => Ok(t),
                    _ => {
                        let tomorrow = today.succ_opt().ok_or("the date is out of range")?;
                        local(tomorrow.and_time(time))
                    }
                }
            }
        }
    }
}

/// Reads the start after `at` or `in` (`keyword`), e.g. (`at`, `22:00`) or (`in`, `2h`).
pub fn parse_start(keyword: &str, value: &str) -> Result<StartSpec, String> {
    let value = value.trim();
    match keyword.to_ascii_lowercase().as_str() {
        "in" => parse_duration(value).map(StartSpec::After),
        "at" => parse_at(value),
        other => Err(format!("`{other}` does not introduce a start; write `at 22:00` or `in 2h`")),
    }
}

/// Reads a start typed into a form field: `22:00`, `at 22:00`, `in 2h`, `2026-12-03T22:00Z` or
/// `2026-12-03 22:00`. Empty means "now" (`None`).
pub fn parse_start_field(text: &str) -> Result<Option<StartSpec>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let (keyword, rest) = match text.split_once(char::is_whitespace) {
        Some((k, r)) if k.eq_ignore_ascii_case("at") || k.eq_ignore_ascii_case("in") => (k, r.trim()),
        _ => ("at", text),
    };
    parse_start(keyword, rest).map(Some)
}

fn parse_at(value: &str) -> Result<StartSpec, String> {
    let bad = || {
        format!(
            "`{}` is not a start time; write `at 22:00`, `at 2026-12-03T22:00Z`, `at 2026-12-03 22:00` or `in 2h`",
            value.chars().take(40).collect::<String>()
        )
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(StartSpec::Instant(t.with_timezone(&Utc)));
    }
    // RFC 3339 wants seconds; people leave them out (`2026-12-03T22:00Z`).
    let zoned = match value.strip_suffix(['Z', 'z']) {
        Some(head) => format!("{head}+00:00"),
        None => value.to_owned(),
    };
    for format in ["%Y-%m-%dT%H:%M%:z", "%Y-%m-%d %H:%M%:z"] {
        if let Ok(t) = DateTime::parse_from_str(&zoned, format) {
            return Ok(StartSpec::Instant(t.with_timezone(&Utc)));
        }
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(StartSpec::Local(naive));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Err(format!("`{date}` needs a time too, like `at {date} 22:00`"));
    }
    for format in ["%H:%M", "%H:%M:%S"] {
        if let Ok(t) = NaiveTime::parse_from_str(value, format) {
            return Ok(StartSpec::ClockTime(t));
        }
    }
    Err(bad())
}

/// Checks a resolved start against `now` and the role's `max_start_ahead`.
pub fn check_start(start: DateTime<Utc>, now: DateTime<Utc>, max_ahead: Duration) -> Result<(), String> {
    if start <= now {
        return Err(format!("the start {} is in the past; pick a later time", format_start(start)));
    }
    if start - now > max_ahead {
        return Err(format!(
            "the start {} is {} ahead; this role allows at most {} ahead",
            format_start(start),
            format_duration(start - now),
            format_duration(max_ahead)
        ));
    }
    Ok(())
}

/// How a start reads in messages: `Thu 03 Dec 22:00 UTC`.
pub fn format_start(start: DateTime<Utc>) -> String {
    start.format("%a %d %b %H:%M UTC").to_string()
}

/// Whether a request that starts at `start` must still wait at `now`.
pub fn waits(start: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    start.is_some_and(|s| s > now)
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("test time").with_timezone(&Utc)
    }

    fn resolve(keyword: &str, value: &str, now: &str, offset_hours: i32) -> Result<DateTime<Utc>, String> {
        let zone = FixedOffset::east_opt(offset_hours * 3600).expect("offset");
        parse_start(keyword, value)?.resolve(at(now), &zone)
    }

    #[test]
    fn each_documented_form_resolves() {
        let now = "2026-12-02T15:00:00Z";
        let cases = [
            ("at", "22:00", 0, "2026-12-02T22:00:00Z"),
            // Already past today: the next occurrence is tomorrow.
            ("at", "09:30", 0, "2026-12-03T09:30:00Z"),
            // Wall-clock time in the zone: 22:00 at +01:00 is 21:00 UTC.
            ("at", "22:00", 1, "2026-12-02T21:00:00Z"),
            // 15:30 at +01:00 is 14:30 UTC, already past: tomorrow.
            ("at", "15:30", 1, "2026-12-03T14:30:00Z"),
            ("at", "2026-12-03T22:00:00Z", 5, "2026-12-03T22:00:00Z"),
            ("at", "2026-12-03T22:00Z", 5, "2026-12-03T22:00:00Z"),
            ("at", "2026-12-03T22:00+02:00", 0, "2026-12-03T20:00:00Z"),
            ("at", "2026-12-03T22:00", 1, "2026-12-03T21:00:00Z"),
            ("at", "2026-12-03 22:00", 0, "2026-12-03T22:00:00Z"),
            ("in", "2h", 3, "2026-12-02T17:00:00Z"),
            ("IN", "90m", 0, "2026-12-02T16:30:00Z"),
        ];
        for (keyword, value, offset, expected) in cases {
            assert_eq!(resolve(keyword, value, now, offset), Ok(at(expected)), "{keyword} {value} @{offset}");
        }
    }

    #[test]
    fn a_persons_iana_zone_follows_daylight_saving() {
        let berlin = named_zone("Europe/Berlin").expect("tzdb");
        let resolve =
            |value: &str, now: &str| parse_start("at", value).and_then(|s| s.resolve(at(now), &berlin));
        // Winter: UTC+1; summer: UTC+2.
        assert_eq!(resolve("22:00", "2026-12-02T15:00:00Z"), Ok(at("2026-12-02T21:00:00Z")));
        assert_eq!(resolve("22:00", "2026-07-02T15:00:00Z"), Ok(at("2026-07-02T20:00:00Z")));
        // 16:30 Berlin is 14:30 UTC in July: already past at 15:00 UTC, so tomorrow.
        assert_eq!(resolve("16:30", "2026-07-02T15:00:00Z"), Ok(at("2026-07-03T14:30:00Z")));
        assert_eq!(resolve("2026-07-03T09:30", "2026-07-02T15:00:00Z"), Ok(at("2026-07-03T07:30:00Z")));
        // 02:30 on the last Sunday of March does not exist in Berlin.
        let gap = resolve("2026-03-29T02:30", "2026-03-28T15:00:00Z").expect_err("gap");
        assert!(gap.contains("does not exist"), "{gap}");
        // 02:30 on the last Sunday of October happens twice: the first one counts.
        assert_eq!(resolve("2026-10-25T02:30", "2026-10-24T15:00:00Z"), Ok(at("2026-10-25T00:30:00Z")));
        assert!(named_zone("Mars/Olympus_Mons").is_err());
    }

    #[test]
    fn the_same_minute_as_now_is_tomorrow() {
        assert_eq!(resolve("at", "15:00", "2026-12-02T15:00:00Z", 0), Ok(at("2026-12-03T15:00:00Z")));
    }

    #[test]
    fn garbage_is_refused_with_the_forms() {
        for (keyword, value) in [
            ("at", "25:00"),
            ("at", "tonight"),
            ("at", "2026-13-01T10:00Z"),
            ("at", "2026-12-03"),
            ("in", "soon"),
            ("in", "0s"),
            ("on", "22:00"),
        ] {
            let err = parse_start(keyword, value).expect_err(value);
            assert!(!err.is_empty(), "{keyword} {value}");
        }
        let err = parse_start("at", "noon").expect_err("noon");
        assert!(err.contains("at 22:00") && err.contains("in 2h"), "{err}");
    }

    #[test]
    fn form_fields_accept_bare_times_and_keywords() {
        assert_eq!(parse_start_field("  "), Ok(None));
        assert_eq!(parse_start_field("22:00"), parse_start("at", "22:00").map(Some));
        assert_eq!(parse_start_field("at 22:00"), parse_start("at", "22:00").map(Some));
        assert_eq!(parse_start_field("in 2h"), parse_start("in", "2h").map(Some));
        assert_eq!(parse_start_field("2026-12-03 22:00"), parse_start("at", "2026-12-03 22:00").map(Some));
        assert!(parse_start_field("whenever").is_err());
    }

    #[test]
    fn starts_are_bounded_by_now_and_max_ahead() {
        let now = at("2026-12-02T15:00:00Z");
        let week = DEFAULT_MAX_START_AHEAD;
        assert!(check_start(now + Duration::minutes(1), now, week).is_ok());
        assert!(check_start(now + week, now, week).is_ok());
        let past = check_start(now - Duration::minutes(1), now, week).expect_err("past");
        assert!(past.contains("in the past"), "{past}");
        assert!(check_start(now, now, week).is_err());
        let far = check_start(now + week + Duration::seconds(1), now, week).expect_err("far");
        assert!(far.contains("at most 7d ahead"), "{far}");
    }

    #[test]
    fn waiting_is_strictly_before_the_start() {
        let start = at("2026-12-02T22:00:00Z");
        assert!(waits(Some(start), start - Duration::seconds(1)));
        assert!(!waits(Some(start), start));
        assert!(!waits(None, start));
    }

    #[test]
    fn starts_read_in_utc() {
        assert_eq!(format_start(at("2026-12-03T22:00:00Z")), "Thu 03 Dec 22:00 UTC");
    }
}
