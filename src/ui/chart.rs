//! Server-drawn SVG: a stacked bar chart of activations per role per day. A small pure function
//! writing SVG text (every label escaped), so the page needs no script or library to show it and
//! tests can read the numbers back from the markup: each bar segment carries `data-role`,
//! `data-day` and `data-count`, and a `<title>` that screen readers and tooltips show.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::NaiveDate;

/// Colours of the series, distinguishable for the common colour-vision deficiencies
/// (Okabe–Ito), the ones with at least 3:1 contrast against white first; every chart also has
/// its numbers as a table.
pub const PALETTE: [&str; 7] = ["#0072B2", "#D55E00", "#009E73", "#000000", "#CC79A7", "#E69F00", "#56B4E9"];

const WIDTH: u32 = 760;
const HEIGHT: u32 = 260;
const LEFT: u32 = 40;
const BOTTOM: u32 = 40;
const TOP: u32 = 12;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Draws `series` (role → one count per day of `days`) as stacked bars.
pub fn activations(days: &[NaiveDate], series: &BTreeMap<String, Vec<u32>>) -> String {
    let totals: Vec<u32> =
        (0..days.len()).map(|i| series.values().map(|v| v.get(i).copied().unwrap_or(0)).sum()).collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let plot_h = HEIGHT - TOP - BOTTOM;
    let plot_w = WIDTH - LEFT - 8;
    let slot = plot_w as f64 / days.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);
    let total: u32 = totals.iter().sum();
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title" data-total="{total}"><title id="chart-title">Activations per role per day: {total} in {} days</title>"#,
        days.len()
    );
    // Axis and the maximum's gridline.
    let base = TOP + plot_h;
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{base}" x2="{}" y2="{base}" stroke="#4a4a4a"/><line x1="{LEFT}" y1="{TOP}" x2="{}" y2="{TOP}" stroke="#c8c8c8" stroke-dasharray="4 3"/><text x="{}" y="{}" font-size="12" text-anchor="end" fill="#1a1a1a">{max}</text><text x="{}" y="{base}" font-size="12" text-anchor="end" fill="#1a1a1a">0</text>"##,
        WIDTH - 8,
        WIDTH - 8,
        LEFT - 4,
        TOP + 4,
        LEFT - 4
    );
    for (i, day) in days.iter().enumerate() {
        let x = LEFT as f64 + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = base as f64;
        for (n, (role, counts)) in series.iter().enumerate() {
            let count = counts.get(i).copied().unwrap_or(0);
            if count == 0 {
                continue;
            }
            let h = plot_h as f64 * f64::from(count) / f64::from(max);
            y -= h;
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{}" data-role="{}" data-day="{day}" data-count="{count}"><title>{}: {count} on {day}</title></rect>"#,
                PALETTE[n % PALETTE.len()],
                esc(role),
                esc(role)
            );
        }
        // Label the first day, the last, and about six in between.
        let every = days.len().div_ceil(7).max(1);
        if i % every == 0 || i + 1 == days.len() {
            let _ = write!(
                out,
                r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="#1a1a1a">{}</text>"##,
                x + bar / 2.0,
                base + 16,
                day.format("%m-%d")
            );
        }
    }
    // Legend.
    let mut lx = LEFT;
    for (n, role) in series.keys().enumerate() {
        let _ = write!(
            out,
            r##"<rect x="{lx}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="12" fill="#1a1a1a">{}</text>"##,
            HEIGHT - 14,
            PALETTE[n % PALETTE.len()],
            lx + 14,
            HEIGHT - 5,
            esc(role)
        );
        lx += 22 + 7 * role.chars().count() as u32;
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_carry_their_numbers_and_scale_to_the_busiest_day() {
        let days: Vec<NaiveDate> =
            NaiveDate::from_ymd_opt(2026, 3, 1).expect("day").iter_days().take(3).collect();
        let mut series = BTreeMap::new();
        series.insert("global-admin".to_owned(), vec![1, 0, 2]);
        series.insert("<reader>".to_owned(), vec![3, 0, 2]);
        let svg = activations(&days, &series);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains(r#"data-total="8""#));
        assert!(svg.contains(r#"data-role="global-admin" data-day="2026-03-03" data-count="2""#), "{svg}");
        assert!(svg.contains("&lt;reader&gt;") && !svg.contains("<reader>"), "escaped");
        assert_eq!(svg.matches("<rect").count(), 4 + 2, "four bar segments and two legend keys");
        // The busiest days (4) fill the plot height exactly: 260 - 12 - 40 = 208.
        let heights: Vec<f64> =
            svg.split("height=\"").skip(1).filter_map(|s| s.split('"').next()?.parse().ok()).collect();
        assert_eq!(heights[..4], [156.0, 52.0, 104.0, 104.0]);
        assert!(svg.contains(">4</text>"), "the maximum is labelled");
    }
}
