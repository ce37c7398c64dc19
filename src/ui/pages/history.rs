//! The "History" page.

use std::collections::HashMap;

use maud::{Markup, html};

use crate::ui::history::{Chain, Filter, Selection, when};
use crate::ui::trends::subject;

fn detail_text(v: &serde_json::Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(160).collect::<String>())
    } else {
        text
    }
}

/// The body of the "History" page. `kinds` and `roles` fill the filter's choices.
pub fn history(
    filter: &Filter,
    sel: &Selection,
    chain: &Chain,
    requesters: &HashMap<String, String>,
    kinds: &[String],
    roles: &[String],
    people: &[String],
) -> Markup {
    let query = filter.query();
    let link = |page: usize| {
        if query.is_empty() {
            format!("/ui/history?page={page}")
        } else {
            format!("/ui/history?{query}&page={page}")
        }
    };
    let download = |ext: &str| {
        if query.is_empty() { format!("/ui/history.{ext}") } else { format!("/ui/history.{ext}?{query}") }
    };
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        h1 { "History" }
        @match chain {
            Chain::Verified { records } => div.status.ok role="status" data-figure="chain" data-ok="true" {
                "✔ Audit chain verified: " strong { (records) } " records, each linked to the one before, the newest matching the stored head."
            },
            Chain::Broken(why) => div.status.bad role="alert" data-figure="chain" data-ok="false" {
                "✖ Audit chain broken: " (why)
            },
            Chain::TailMissing { head, newest } => div.status.bad role="alert" data-figure="chain" data-ok="false" {
                "✖ Audit chain incomplete: the stored head is record " (head) " but the newest record is " (newest) "."
            },
        }
        form.filters method="get" action="/ui/history" role="search" aria-label="Filter the audit trail" {
            label for="f-q" { "Search" input id="f-q" type="search" name="q" value=(value(&filter.q)); }
            label for="f-person" { "Person" input id="f-person" type="text" name="person" list="people" value=(value(&filter.person)) autocomplete="off"; }
            datalist id="people" { @for p in people { option value=(p) {} } }
            label for="f-role" { "Role"
                select id="f-role" name="role" {
                    option value="" { "any" }
                    @for r in roles { option value=(r) selected[filter.role.as_deref() == Some(r.as_str())] { (r) } }
                }
            }
            label for="f-kind" { "Kind"
                select id="f-kind" name="kind" {
                    option value="" { "any" }
                    @for k in kinds {
                        option value=(k) selected[filter.kind.as_deref() == Some(k.as_str())] {
                            @if k.ends_with('.') { (k) "* (all)" } @else { (k) }
                        }
                    }
                }
            }
            label for="f-from" { "From" input id="f-from" type="date" name="from" value=(value(&filter.from)); }
            label for="f-to" { "To" input id="f-to" type="date" name="to" value=(value(&filter.to)); }
            button type="submit" { "Filter" }
            a href="/ui/history" { "Clear" }
        }
        p {
            strong data-figure="matching" { (sel.total) } " matching events · page " (sel.page) " of " (sel.pages)
            " · download " a href=(download("csv")) { "CSV" } " or " a href=(download("jsonl")) { "JSON Lines" }
        }
        div.scroll {
            table {
                caption { "Audit events, newest first" }
                thead { tr {
                    th scope="col" class="num" { "#" } th scope="col" { "When" } th scope="col" { "Person" }
                    th scope="col" { "Actor" } th scope="col" { "Kind" } th scope="col" { "Role" }
                    th scope="col" { "Request" } th scope="col" { "Details" }
                } }
                tbody {
                    @for r in &sel.rows {
                        tr data-seq=(r.seq) {
                            td.num { (r.seq) }
                            td.when { (when(r.event.at)) }
                            td { (subject(r, requesters)) }
                            td { (r.event.actor.label()) }
                            td { code { (r.event.kind) } }
                            td { (r.event.role.as_ref().map(|x| x.to_string()).unwrap_or_default()) }
                            td { (r.event.request_id.as_ref().map(|x| x.to_string()).unwrap_or_default()) }
                            td { code.muted { (detail_text(&r.event.detail)) } }
                        }
                    }
                }
            }
        }
        nav aria-label="Pages of results" {
            @if sel.page > 1 { a href=(link(sel.page - 1)) rel="prev" { "← Newer" } " " }
            @if sel.page < sel.pages { a href=(link(sel.page + 1)) rel="next" { "Older →" } }
        }
    }
}
