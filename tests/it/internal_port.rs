//! `[server] internal_listen`: `/metrics` and `/admin/reload` leave the public port for their
//! own, so a NetworkPolicy can admit the ingress controller to one and monitoring to the other.

use std::time::Duration;

use crate::support::binary::{Binary, wait_until_ok};

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
internal_listen = "127.0.0.1:0"
admin_token = "3f9c2a7d1e6b4c8a9d0e1f2a3b4c5d6e"
[database]
url = "sqlite://{dir}/pimbot.db"
[slack]
signing_secret = "8f742231b10e8888abcd99yyyzzz85a5"
bot_token = "xoxb-1-2-unused"
api_url = "http://127.0.0.1:9/api/"
approver_channel = "C0APPROVERS"
[[person]]
id = "alice"
upn = "alice@contoso.com"
slack = "U0ALICE"
[[role]]
key = "reader"
kind = "entra-role"
directory_id = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
tier = "standard"
eligible = ["alice"]
"#;

#[tokio::test]
async fn metrics_and_admin_move_to_the_internal_port() {
    let bin = Binary::serve(CONFIG, &[]);
    let internal = bin
        .log()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("internal").and_then(|a| a.as_str()).map(str::to_owned))
        .expect("the listening line names the internal address");
    let (public, internal) = (bin.url(), format!("http://{internal}"));
    wait_until_ok(&format!("{internal}/readyz"), Duration::from_secs(10)).await;
    let http = reqwest::Client::new();
    let status = |url: String| {
        let http = http.clone();
        async move { http.get(url).send().await.expect("GET").status().as_u16() }
    };
    assert_eq!(status(format!("{internal}/metrics")).await, 200);
    assert_eq!(status(format!("{public}/metrics")).await, 404, "not on the public port");
    assert_eq!(status(format!("{public}/healthz")).await, 200, "probes on both");
    assert_eq!(status(format!("{internal}/healthz")).await, 200);
    let reload = |base: String| {
        let http = http.clone();
        async move {
            let res = http
                .post(format!("{base}/admin/reload"))
                .bearer_auth("3f9c2a7d1e6b4c8a9d0e1f2a3b4c5d6e")
                .send();
            res.await.expect("POST").status().as_u16()
        }
    };
    assert_eq!(reload(internal.clone()).await, 200);
    assert_eq!(reload(public.clone()).await, 404, "admin is not on the public port");
    let command = http.post(format!("{internal}/slack/commands")).body("x").send().await.expect("POST");
    assert_eq!(command.status(), 404, "chat routes are not on the internal port");
    let command = http.post(format!("{public}/slack/commands")).body("x").send().await.expect("POST");
    assert_eq!(command.status(), 401, "chat routes stay public (and signed)");
}
