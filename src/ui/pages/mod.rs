//! The markup of each page (maud). Each function takes what its page shows, already computed,
//! and returns the page body; the frame is [`super::layout`]. Figures carry `data-figure`
//! attributes so tests (and the browser test) can find them without depending on wording.

mod findings;
mod history;
mod now;
mod trends;

pub use findings::findings;
pub use history::history;
pub use now::now;
pub use trends::trends;

use chrono::Duration;

/// A duration as people read it: `1h 05m`, `12m 30s`, `45s`, `3d 4h`.
pub fn short(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    let (days, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if days > 0 {
        format!("{days}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {sec:02}s")
    } else {
        format!("{sec}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        assert_eq!(short(Duration::seconds(45)), "45s");
        assert_eq!(short(Duration::seconds(750)), "12m 30s");
        assert_eq!(short(Duration::seconds(3900)), "1h 05m");
        assert_eq!(short(Duration::hours(76)), "3d 4h");
        assert_eq!(short(Duration::seconds(-5)), "0s");
    }
}
