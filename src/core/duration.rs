//! Human durations (`90s`, `30m`, `2h`, `1h30m`) as used in commands and the policy file.
//! Parsing is delegated to `humantime`; this module only bounds and formats.

use chrono::Duration;

/// The longest duration pimbot accepts anywhere (commands, config, `--since`): far beyond any
/// real use, and small enough that adding it to or taking it from any date cannot overflow.
pub const MAX_DURATION: Duration = Duration::days(100 * 366);

/// Parses a human duration such as `90s`, `30m`, `2h` or `1h30m`, at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("a duration is required, like 30m or 2h".into());
    }
    let too_long = || format!("`{trimmed}` is too long; the longest duration pimbot accepts is 100 years");
    let std = humantime::parse_duration(trimmed).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => too_long(),
        e => format!("`{trimmed}` is not a duration ({e}); write it like 90s, 30m or 2h"),
    })?;
    let d = Duration::from_std(std).map_err(|_| too_long())?;
    if d <= Duration::zero() {
        return Err(format!("`{trimmed}` must be longer than zero"));
    }
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
}

/// Formats a duration compactly for people: `2h`, `1h 30m`, `45s`.
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.num_seconds().max(0);
    if secs == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            parts.push(format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        for (text, secs) in [("90s", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), (" 5m ", 300)] {
            assert_eq!(parse_duration(text).map(|d| d.num_seconds()), Ok(secs), "{text}");
        }
    }

    #[test]
    fn refuses_garbage_and_zero() {
        for text in ["", "soon", "0s", "-5m", "5 parsecs"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn absurd_lengths_are_refused_not_overflowed() {
        for text in
            ["300000y", "9223372036854775s", "99999999999999999999999s", "101y", "18446744073709551616ns"]
        {
            let err = parse_duration(text).expect_err(text);
            assert!(err.contains("too long") || err.contains("not a duration"), "{text}: {err}");
        }
        assert_eq!(parse_duration("100y").map(|d| d <= MAX_DURATION), Ok(true));
        let now = chrono::Utc::now();
        assert!(
            now.checked_sub_signed(MAX_DURATION).is_some() && now.checked_add_signed(MAX_DURATION).is_some()
        );
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(Duration::seconds(7200)), "2h");
        assert_eq!(format_duration(Duration::seconds(5400)), "1h 30m");
        assert_eq!(format_duration(Duration::seconds(45)), "45s");
        assert_eq!(format_duration(Duration::seconds(90_061)), "1d 1h 1m 1s");
    }
}
