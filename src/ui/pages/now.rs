//! The "Now" page.

use maud::{Markup, html};

use super::short;
use crate::ui::now::Now;

fn ts(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The body of the "Now" page.
pub fn now(n: &Now) -> Markup {
    let active = n.elevated.iter().filter(|e| !e.granting).count();
    html! {
        h1 { "Now" }
        ul.figures aria-label="Summary" {
            li { span.n data-figure="elevated" { (active) } "elevated" }
            li { span.n data-figure="waiting" { (n.waiting.len()) } "waiting for approval" }
            li { span.n data-figure="breached" { (n.breached()) } "past their SLA" }
            li { span.n data-figure="alarms" { (n.alarms.len()) } "open break-glass alarms" }
        }
        h2 id="elevated" { "Elevated" }
        @if n.elevated.is_empty() {
            p.muted { "Nobody holds a privileged role through pimbot right now." }
        } @else {
            div.scroll {
                table aria-labelledby="elevated" {
                    thead { tr {
                        th scope="col" { "Person" } th scope="col" { "Role" } th scope="col" { "Scope" }
                        th scope="col" { "Since" } th scope="col" { "Ends" } th scope="col" class="num" { "Time left" }
                        th scope="col" { "Request" }
                    } }
                    tbody {
                        @for e in &n.elevated {
                            tr data-request=(e.request) {
                                td { (e.person) }
                                td { (e.role_name) " " span.muted { "(" (e.role) ")" } }
                                td { code { (e.scope) } }
                                td { (ts(e.since)) }
                                td { (ts(e.ends_at)) }
                                td.num {
                                    @if e.granting { "being granted" }
                                    @else {
                                        time data-ends=(e.ends_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                                            datetime=(format!("PT{}S", e.left.num_seconds())) { (short(e.left)) }
                                    }
                                }
                                td {
                                    @if let Some(url) = &e.card { a href=(url) { "card" } " · " }
                                    a href=(format!("/ui/history?q={}", e.request)) { (e.request) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 id="waiting" { "Waiting for approval" }
        @if n.waiting.is_empty() {
            p.muted { "No request is waiting." }
        } @else {
            div.scroll {
                table aria-labelledby="waiting" {
                    thead { tr {
                        th scope="col" { "Request" } th scope="col" { "Person" } th scope="col" { "Role" }
                        th scope="col" class="num" { "Waiting" } th scope="col" class="num" { "SLA" }
                        th scope="col" class="num" { "Approvals" } th scope="col" { "Status" }
                    } }
                    tbody {
                        @for w in &n.waiting {
                            tr class=[w.breached.then_some("breached")] data-request=(w.request) {
                                td {
                                    a href=(format!("/ui/history?q={}", w.request)) { (w.request) }
                                    @if let Some(url) = &w.card { " · " a href=(url) { "card" } }
                                }
                                td { (w.person) }
                                td { (w.role) }
                                td.num data-figure="age" { (short(w.age)) }
                                td.num { (short(w.sla)) }
                                td.num { (w.approvals.0) " / " (w.approvals.1) }
                                td { @if w.breached { span.badge.bad { "SLA breached" } } @else { span.badge.ok { "within SLA" } } }
                            }
                        }
                    }
                }
            }
        }
        h2 id="alarms" { "Open break-glass alarms" }
        @if n.alarms.is_empty() {
            p.muted { "No unacknowledged break-glass sign-in." }
        } @else {
            div.scroll {
                table aria-labelledby="alarms" {
                    thead { tr {
                        th scope="col" { "Account" } th scope="col" { "Signed in" } th scope="col" { "Severity" }
                        th scope="col" class="num" { "Pages sent" } th scope="col" { "Alarm" }
                    } }
                    tbody {
                        @for a in &n.alarms {
                            tr.breached {
                                td { (a.account) } td { (ts(a.at)) } td { span.badge.bad { (a.severity) } }
                                td.num { (a.pages) }
                                td {
                                    code { (a.id) }
                                    @if let Some(url) = &a.page_link { " · " a href=(url) { "page" } }
                                }
                            }
                        }
                    }
                }
            }
            p { "Acknowledge an alarm from its message in the alert channel." }
        }
        p.muted { "As of " (ts(n.at)) ". Time left counts down in the page; reload for new rows." }
    }
}
