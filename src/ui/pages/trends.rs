//! The "Trends" page.

use maud::{Markup, PreEscaped, html};

use super::short;
use crate::core::audit::EventKind;
use crate::ui::chart;
use crate::ui::trends::{DECISION_BUCKETS, PERIODS, TOP_REQUESTERS, Trends, WORKING_HOURS};

/// A History link to the events behind a figure: `pairs` plus the period.
fn history(pairs: &[(&str, &str)], first: &str, last: &str) -> String {
    let mut all: Vec<(&str, &str)> = pairs.to_vec();
    all.extend([("from", first), ("to", last)]);
    format!("/ui/history?{}", serde_urlencoded::to_string(&all).unwrap_or_default())
}

/// The body of the "Trends" page for a period of `days` days. Figures link to the History
/// filter that lists the events they count.
pub fn trends(t: &Trends, days: i64) -> Markup {
    let first = t.days.first().map(|d| d.to_string()).unwrap_or_default();
    let last = t.days.last().map(|d| d.to_string()).unwrap_or_default();
    let (first, last) = (first.as_str(), last.as_str());
    let ooh: u32 = t.out_of_hours.values().sum();
    html! {
        h1 { "Trends" }
        form.filters method="get" action="/ui/trends" aria-label="Period" {
            label for="t-days" { "Period"
                select id="t-days" name="days" {
                    @for p in PERIODS { option value=(p) selected[p == days] { "last " (p) " days" } }
                }
            }
            button type="submit" { "Show" }
        }
        p.muted { (first) " to " (last) " (UTC days)." }
        ul.figures aria-label="Summary" {
            li { span.n data-figure="activations" { (t.total_activations()) }
                a href=(history(&[("kind", EventKind::GrantActivated.as_str())], first, last)) { "activations" } }
            li { span.n data-figure="out-of-hours" { (ooh) } "out of hours" }
        }
        h2 id="per-day" { "Activations per role per day" }
        @if t.activations.is_empty() {
            p { "No activations in this period." }
        } @else {
            div.chart { (PreEscaped(chart::activations(&t.days, &t.activations))) }
            details {
                summary { "The same numbers as a table" }
                div.scroll {
                    table {
                        caption { "Activations per role per day" }
                        thead { tr { th scope="col" { "Role" } @for d in &t.days { th scope="col" class="num" { (d.format("%m-%d")) } } th scope="col" class="num" { "Total" } } }
                        tbody {
                            @for (role, counts) in &t.activations {
                                tr data-role=(role) {
                                    th scope="row" { (role) }
                                    @for c in counts { td.num { (c) } }
                                    td.num data-figure="role-total" {
                                        a href=(history(&[("kind", EventKind::GrantActivated.as_str()), ("role", role)], first, last)) { (counts.iter().sum::<u32>()) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 id="ttd" { "Time to decision" }
        @if t.decisions.is_empty() {
            p { "No human decisions in this period." }
        } @else {
            div.scroll {
                table aria-labelledby="ttd" {
                    thead { tr {
                        th scope="col" { "Role" }
                        @for (_, label) in DECISION_BUCKETS { th scope="col" class="num" { (label) } }
                        th scope="col" class="num" { "Median" }
                    } }
                    tbody {
                        @for (role, buckets) in &t.decisions {
                            tr data-role=(role) {
                                th scope="row" { a href=(history(&[("q", "time_to_decision_secs"), ("role", role)], first, last)) { (role) } }
                                @for b in buckets { td.num { (b) } }
                                td.num data-figure="median" { (t.decision_p50.get(role).map(|s| short(chrono::Duration::seconds(*s))).unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
        h2 id="ooh" { "Out-of-hours activations" }
        p.muted { "Before " (WORKING_HOURS.0) ":00 or from " (WORKING_HOURS.1) ":00 UTC, or on a weekend." }
        @if t.out_of_hours_list.is_empty() {
            p { "None in this period." }
        } @else {
            div.scroll {
                table aria-labelledby="ooh" {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Person" } th scope="col" { "Role" } } }
                    tbody {
                        @for (at, who, role) in &t.out_of_hours_list {
                            tr { td { (at.format("%a %Y-%m-%d %H:%M UTC")) } td { (who) } td { (role) } }
                        }
                    }
                }
            }
        }
        h2 id="top" { "Top requesters per role" }
        @if t.top_requesters.is_empty() {
            p { "No requests in this period." }
        } @else {
            div.scroll {
                table aria-labelledby="top" {
                    thead { tr { th scope="col" { "Role" } th scope="col" { "Requesters (requests), at most " (TOP_REQUESTERS) } } }
                    tbody {
                        @for (role, people) in &t.top_requesters {
                            tr data-role=(role) {
                                th scope="row" { (role) }
                                td { @for (i, (who, n)) in people.iter().enumerate() { @if i > 0 { ", " } a href=(history(&[("person", who), ("role", role), ("kind", EventKind::RequestSubmitted.as_str())], first, last)) { span data-person=(who) { (who) " (" (n) ")" } } } }
                            }
                        }
                    }
                }
            }
        }
    }
}
