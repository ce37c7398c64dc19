//! The page frame every view page shares: navigation, the signed-in viewer, the stylesheet and
//! the one script (the countdown of time left), plus the response headers: no caching, no
//! framing, no referrer, and a Content-Security-Policy that allows exactly the inline style and
//! script below (by hash) and nothing from anywhere else.
//!
//! Markup is maud, which escapes every interpolated value; nothing here builds HTML by hand.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use crate::core::error::Error;

/// The stylesheet: readable on a phone and a laptop, contrast of at least 4.5:1 for text,
/// visible keyboard focus, tables that scroll sideways instead of breaking the layout.
const CSS: &str = r#"
:root{--fg:#1a1a1a;--muted:#4a4a4a;--bg:#fff;--line:#c8c8c8;--accent:#0b5cad;--bad:#9b1c1c;--badbg:#fde8e8;--ok:#1d6b32;--okbg:#e6f4ea;--warnbg:#fff4d6}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid #b34700;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:2}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1.5rem;padding:.75rem 1rem;border-bottom:1px solid var(--line)}
header .brand{font-weight:700;font-size:1.1rem}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:0;padding:0}
nav a{display:inline-block;padding:.25rem .1rem;text-decoration:none}
nav a[aria-current=page]{font-weight:700;border-bottom:3px solid var(--accent)}
header .who{margin-left:auto;color:var(--muted);font-size:.9rem}
main{padding:1rem;max-width:75rem;margin:0 auto}
h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
.figures{display:flex;flex-wrap:wrap;gap:1rem;margin:0;padding:0;list-style:none}
.figures li{border:1px solid var(--line);border-radius:6px;padding:.5rem 1rem;min-width:9rem}
.figures .n{display:block;font-size:1.6rem;font-weight:700}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.25rem 0 1rem}
caption{text-align:left;font-weight:600;padding:.25rem 0;color:var(--muted)}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f3f3f3}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.when{white-space:nowrap}td code{word-break:break-all}
tr.breached td{background:var(--badbg)}
.badge{display:inline-block;padding:0 .4rem;border-radius:4px;font-size:.85rem;font-weight:600}
.badge.bad{background:var(--bad);color:#fff}.badge.ok{background:var(--ok);color:#fff}
.status{padding:.5rem 1rem;border-radius:6px;margin:.5rem 0}
.status.ok{background:var(--okbg)}.status.bad{background:var(--badbg)}.status.warn{background:var(--warnbg)}
form.filters{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.9rem;color:var(--muted)}
input,select,button{font:inherit;padding:.3rem .4rem;border:1px solid #767676;border-radius:4px;color:var(--fg);background:#fff}
button{background:var(--accent);color:#fff;border-color:var(--accent);cursor:pointer}
.muted{color:var(--muted)}
.chart svg{max-width:100%;height:auto}
@media (max-width:40rem){main{padding:.5rem}th,td{padding:.3rem .4rem}header .who{margin-left:0}}
"#;

/// Counts every `<time data-ends>` down once a second, on the server's clock (the page's
/// `data-now` says what the server's time was when it rendered).
const SCRIPT: &str = r#"(function(){var b=document.body,off=Date.parse(b.dataset.now)-Date.now();
function f(s){if(s<=0)return"ended";var h=Math.floor(s/3600),m=Math.floor(s%3600/60),x=s%60;
return(h?h+"h ":"")+(h||m?String(m).padStart(2,"0")+"m ":"")+String(x).padStart(2,"0")+"s"}
function t(){var n=Date.now()+off;document.querySelectorAll("time[data-ends]").forEach(function(e){
e.textContent=f(Math.floor((Date.parse(e.dataset.ends)-n)/1000))})}t();setInterval(t,1000)})();"#;

fn sha256_b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
}

static CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src 'self' data:; \
         form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        sha256_b64(CSS),
        sha256_b64(SCRIPT)
    )
});

/// The navigation entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// `/ui`.
    Now,
    /// `/ui/trends`.
    Trends,
    /// `/ui/history`.
    History,
    /// `/ui/findings`.
    Findings,
}

const NAV: [(Nav, &str, &str); 4] = [
    (Nav::Now, "/ui", "Now"),
    (Nav::Trends, "/ui/trends", "Trends"),
    (Nav::History, "/ui/history", "History"),
    (Nav::Findings, "/ui/findings", "Findings"),
];

/// A page of the view for a signed-in viewer. `now` is the server's time (for the countdown).
pub fn page(title: &str, nav: Nav, viewer: &str, now: chrono::DateTime<chrono::Utc>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · pimbot" }
                style { (PreEscaped(CSS)) }
            }
            body data-now=(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) {
                a.skip href="#main" { "Skip to content" }
                header {
                    span.brand { "pimbot" }
                    nav aria-label="Pages" {
                        ul {
                            @for (entry, href, label) in NAV {
                                li {
                                    @if entry == nav { a href=(href) aria-current="page" { (label) } }
                                    @else { a href=(href) { (label) } }
                                }
                            }
                        }
                    }
                    span.who { "Signed in as " strong { (viewer) } " · " a href="/ui/signout" { "Sign out" } }
                }
                main id="main" { (body) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

/// A page without navigation (sign-in outcomes, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · pimbot" }
                style { (PreEscaped(CSS)) }
            }
            body { header { span.brand { "pimbot" } } main id="main" { (body) } }
        }
    }
}

/// A rendered page with the view's headers.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    secure_headers(headers);
    response
}

/// No caching, no framing, no sniffing, no referrer, and the CSP.
pub fn secure_headers(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if let Ok(csp) = HeaderValue::from_str(&CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
}

/// A short page saying one thing.
pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    respond(status, bare(title, html! { h1 { (title) } p { (text) } }))
}

/// A page for an error: user-facing text as it is, internal errors as an incident id.
pub fn error(err: &Error) -> Response {
    if err.is_user_facing() {
        return message(StatusCode::BAD_REQUEST, "Not done", &err.to_string());
    }
    message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong", &crate::edge_errors::internal(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csp_allows_exactly_the_inline_style_and_script() {
        let csp = CSP.as_str();
        assert!(csp.contains(&format!("'sha256-{}'", sha256_b64(CSS))));
        assert!(csp.contains(&format!("'sha256-{}'", sha256_b64(SCRIPT))));
        assert!(csp.starts_with("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
        let page = page("T", Nav::History, "<alice>", chrono::DateTime::UNIX_EPOCH, html! { p { "x" } });
        let text = page.into_string();
        assert!(text.contains("&lt;alice&gt;") && !text.contains("<alice>"), "escaped");
        assert!(text.contains(r#"<a href="/ui/history" aria-current="page">History</a>"#), "{text}");
    }
}
