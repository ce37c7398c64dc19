//! `pimbot teams package`: the Teams app package, a zip of `manifest.json` with the bot's app
//! id filled in (as the app `id` and `bots[0].botId`) and the two icons it names, all at the top
//! level of the archive. The manifest and icons ship in `manifests/teams/` and are compiled in,
//! so the binary alone can build the package.

use std::io::Write;

use anyhow::Context;
use serde_json::Value;
use zip::write::SimpleFileOptions;

/// The app manifest as shipped (app id placeholders of zeros).
pub const MANIFEST: &str = include_str!("../../manifests/teams/manifest.json");
/// The 192×192 colour icon.
pub const COLOR_ICON: &[u8] = include_bytes!("../../manifests/teams/color.png");
/// The 32×32 outline icon.
pub const OUTLINE_ICON: &[u8] = include_bytes!("../../manifests/teams/outline.png");

/// Whether `s` looks like a GUID (`8-4-4-4-12` hex digits).
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The manifest with `app_id` filled in, and `domain` (where pimbot is reachable) listed in
/// `validDomains` when given.
pub fn manifest(app_id: &str, domain: Option<&str>) -> anyhow::Result<Value> {
    anyhow::ensure!(
        is_guid(app_id),
        "the app id `{app_id}` is not a GUID (the Azure Bot's Microsoft App ID)"
    );
    let mut manifest: Value = serde_json::from_str(MANIFEST).context("the shipped manifest")?;
    manifest["id"] = Value::from(app_id);
    manifest["bots"][0]["botId"] = Value::from(app_id);
    if let Some(domain) = domain {
        manifest["validDomains"] = serde_json::json!([domain]);
    }
    Ok(manifest)
}

/// The zipped package.
pub fn package(app_id: &str, domain: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let manifest = serde_json::to_vec_pretty(&manifest(app_id, domain)?)?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in
        [("manifest.json", manifest.as_slice()), ("color.png", COLOR_ICON), ("outline.png", OUTLINE_ICON)]
    {
        zip.start_file(name, options).with_context(|| format!("adding {name}"))?;
        zip.write_all(bytes).with_context(|| format!("writing {name}"))?;
    }
    Ok(zip.finish().context("finishing the zip")?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limits of the v1.17 manifest schema that a hand edit could break, named one by one
    /// (`tests/it/teams_schema.rs` validates against the vendored schema itself).
    #[test]
    fn the_shipped_manifest_keeps_the_schema_limits() {
        let m: Value = serde_json::from_str(MANIFEST).expect("json");
        for key in
            ["manifestVersion", "version", "id", "developer", "name", "description", "icons", "accentColor"]
        {
            assert!(!m[key].is_null(), "required: {key}");
        }
        assert!(
            m["$schema"]
                .as_str()
                .is_some_and(|s| s.contains(&format!("/v{}/", m["manifestVersion"].as_str().unwrap_or("-"))))
        );
        let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
        assert!(len(&m["name"]["short"]) <= 30 && len(&m["name"]["full"]) <= 100);
        assert!(len(&m["description"]["short"]) <= 80 && len(&m["description"]["full"]) <= 4000);
        assert!(len(&m["developer"]["name"]) <= 32);
        let color = m["accentColor"].as_str().unwrap_or_default();
        assert!(
            color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit())
        );
        let bots = m["bots"].as_array().expect("bots");
        assert_eq!(bots.len(), 1);
        assert!(
            bots[0]["scopes"]
                .as_array()
                .expect("scopes")
                .iter()
                .all(|s| ["team", "personal", "groupChat"].contains(&s.as_str().unwrap_or("")))
        );
        let lists = bots[0]["commandLists"].as_array().expect("command lists");
        assert!(lists.len() <= 3);
        for list in lists {
            let commands = list["commands"].as_array().expect("commands");
            assert!(commands.len() <= 10);
            for c in commands {
                assert!(len(&c["title"]) <= 32 && len(&c["description"]) <= 128, "{c}");
            }
        }
        assert!(is_guid(m["id"].as_str().unwrap_or_default()));
    }

    #[test]
    fn the_app_id_must_be_a_guid_and_fills_both_places() {
        assert!(manifest("not-a-guid", None).is_err());
        let m =
            manifest("9f6b1a3e-2c4d-4e5f-8a7b-1c2d3e4f5a6b", Some("pimbot.example.com")).expect("manifest");
        assert_eq!(m["id"], "9f6b1a3e-2c4d-4e5f-8a7b-1c2d3e4f5a6b");
        assert_eq!(m["bots"][0]["botId"], "9f6b1a3e-2c4d-4e5f-8a7b-1c2d3e4f5a6b");
        assert_eq!(m["validDomains"][0], "pimbot.example.com");
    }
}
