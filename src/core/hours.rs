//! Working hours (`"Mon-Fri 08:00-19:00 Europe/Berlin"`): which days and which local times count
//! as business hours, in a real IANA time zone (`chrono-tz`), so daylight saving time moves
//! the window with the clocks instead of a fixed UTC offset. Pure: no clock is read here.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

/// Days, a local time window and the time zone they are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    /// Monday first: whether each weekday is a working day.
    days: [bool; 7],
    /// Local start (inclusive).
    start: NaiveTime,
    /// Local end (exclusive).
    end: NaiveTime,
    /// IANA zone (`Europe/Berlin`).
    tz: Tz,
}

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn day(name: &str) -> Result<usize, String> {
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| format!("`{name}` is not a day; use Mon, Tue, Wed, Thu, Fri, Sat or Sun"))
}

fn time(text: &str) -> Result<NaiveTime, String> {
    if text.trim() == "24:00" {
        return NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(|| "bad time".to_owned());
    }
    NaiveTime::parse_from_str(text.trim(), "%H:%M").map_err(|_| format!("`{text}` is not a time like 08:00"))
}

impl WorkingHours {
    /// Parses `"<days> <HH:MM>-<HH:MM> <Area/City>"`, days as `Mon-Fri`, `Mon,Wed,Fri` or a mix.
    pub fn parse(text: &str) -> Result<Self, String> {
        let usage = || {
            format!("`{text}` is not working hours; write them like \"Mon-Fri 08:00-19:00 Europe/Berlin\"")
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [days_text, window, zone] = parts.as_slice() else { return Err(usage()) };
        let mut days = [false; 7];
        for item in days_text.split(',') {
            match item.split_once('-') {
                Some((from, to)) => {
                    let (from, to) = (day(from)?, day(to)?);
                    let mut d = from;
                    loop {
                        days[d] = true;
                        if d == to {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => days[day(item)?] = true,
            }
        }
        let (start, end) = window.split_once('-').ok_or_else(usage)?;
        let (start, end) = (time(start)?, time(end)?);
        if start >= end {
            return Err(format!("`{window}`: the start must be before the end"));
        }
        let tz: Tz = zone
            .parse()
            .map_err(|_| format!("`{zone}` is not an IANA time zone; write it like Europe/Berlin or UTC"))?;
        Ok(Self { days, start, end, tz })
    }

    /// Whether `at` falls inside the working hours, read on the local clock of the zone.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz);
        let weekday: Weekday = local.weekday();
        let t = local.time();
        self.days[weekday.num_days_from_monday() as usize] && t >= self.start && t < self.end
    }

    /// `at` on the zone's local clock, for messages (`Sat 2026-11-28 23:10 CET`).
    pub fn local(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.tz).format("%a %Y-%m-%d %H:%M %Z").to_string()
    }
}

impl fmt::Display for WorkingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Runs of three days or more read as ranges (`Mon-Fri`).
        let mut parts = Vec::new();
        let mut i = 0;
        while i < 7 {
            if !self.days[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i + 1 < 7 && self.days[i + 1] {
                i += 1;
            }
            match i - start {
                0 => parts.push(DAY_NAMES[start].to_owned()),
                1 => parts.extend([DAY_NAMES[start].to_owned(), DAY_NAMES[i].to_owned()]),
                _ => parts.push(format!("{}-{}", DAY_NAMES[start], DAY_NAMES[i])),
            }
            i += 1;
        }
        write!(
            f,
            "{} {}-{} {}",
            parts.join(","),
            self.start.format("%H:%M"),
            self.end.format("%H:%M"),
            self.tz
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).single().expect("valid")
    }

    #[test]
    fn berlin_hours_follow_daylight_saving_time() {
        let wh = WorkingHours::parse("Mon-Fri 08:00-19:00 Europe/Berlin").expect("parses");
        assert_eq!(wh.to_string(), "Mon-Fri 08:00-19:00 Europe/Berlin");
        // Winter (CET, UTC+1): 07:30 UTC is 08:30 local, inside; 18:30 UTC is 19:30, outside.
        assert!(wh.contains(utc(2026, 12, 1, 7, 30)));
        assert!(!wh.contains(utc(2026, 12, 1, 18, 30)));
        // Summer (CEST, UTC+2): 06:30 UTC is 08:30 local, inside; 17:30 UTC is 19:30, outside.
        assert!(wh.contains(utc(2026, 7, 1, 6, 30)));
        assert!(!wh.contains(utc(2026, 7, 1, 17, 30)));
        // A fixed +1 offset would call 06:30 UTC in July 07:30, outside: the zone matters.
        // Saturday 2026-11-28 at noon local is outside.
        assert!(!wh.contains(utc(2026, 11, 28, 11, 0)));
        // Friday 23:30 UTC is Saturday 00:30 in Berlin: outside; the local day counts.
        assert!(!wh.contains(utc(2026, 11, 27, 23, 30)));
    }

    #[test]
    fn day_lists_and_wrapping_ranges_parse() {
        let wh = WorkingHours::parse("Sun-Tue,Thu 09:00-17:00 UTC").expect("parses");
        assert_eq!(wh.to_string(), "Mon,Tue,Thu,Sun 09:00-17:00 UTC");
        assert!(wh.contains(utc(2026, 11, 29, 10, 0)), "Sunday");
        assert!(!wh.contains(utc(2026, 11, 25, 10, 0)), "Wednesday");
    }

    #[test]
    fn bad_hours_are_refused_with_a_reason() {
        for text in [
            "",
            "Mon-Fri 08:00-19:00",
            "Mon-Fri 08:00-19:00 Mars/Olympus",
            "Mon-Fry 08:00-19:00 UTC",
            "Mon-Fri 19:00-08:00 UTC",
            "Mon-Fri 8-19 UTC",
        ] {
            assert!(WorkingHours::parse(text).is_err(), "{text}");
        }
    }
}
