//! The "Findings" page.

use maud::{Markup, html};

use crate::ui::findings::Finding;

/// One section per source: its title, what it covers, and its findings with what to do.
pub fn findings(sections: &[(&str, &str, Vec<Finding>)]) -> Markup {
    let total: usize = sections.iter().map(|s| s.2.len()).sum();
    html! {
        h1 { "Findings" }
        p { strong data-figure="findings" { (total) } " findings. Each links to the audit record it comes from." }
        @for (i, (title, about, list)) in sections.iter().enumerate() {
            h2 id=(format!("s{i}")) { (title) }
            p.muted { (about) }
            @if list.is_empty() {
                p { "None found." }
            } @else {
                div.scroll {
                    table aria-labelledby=(format!("s{i}")) {
                        thead { tr {
                            th scope="col" { "Found" } th scope="col" { "Who" } th scope="col" { "Role" }
                            th scope="col" { "What" } th scope="col" { "What to do" } th scope="col" class="num" { "Record" }
                        } }
                        tbody {
                            @for f in list {
                                tr {
                                    td { (f.at.format("%Y-%m-%d %H:%M UTC")) }
                                    td { (f.subject) } td { (f.role) } td { (f.what) } td { (f.action) }
                                    td.num { a href=(format!("/ui/history?kind={}&role={}", f.kind, f.role)) { "#" (f.seq) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
