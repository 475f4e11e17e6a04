//! `os_list.json`: a Raspberry Pi Imager repository list (File > "Use
//! custom" or `rpi-imager --repo`), one entry per Pi image in the output
//! directory, pointing at its `.img.zst` (Imager 1.7 and later read zstd).
//!
//! No `init_format`: with it Imager offers its "OS customisation", which
//! rewrites `cmdline.txt` to run `/boot/firstrun.sh` (or writes cloud-init
//! files); a CLIC! image mounts its FAT partition at `/boot/firmware` and
//! needs no customisation (its first boot sets itself up), so the entry
//! leaves it out and Imager writes the image as it is.

use serde::{Deserialize, Serialize};

pub const FILE: &str = "os_list.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OsEntry {
    pub name: String,
    pub description: String,
    /// Imager requires the key; empty shows its default icon.
    pub icon: String,
    pub url: String,
    pub extract_size: u64,
    pub extract_sha256: String,
    pub image_download_size: u64,
    pub image_download_sha256: String,
    pub release_date: String,
    pub devices: Vec<String>,
}

/// What an entry is made from.
pub struct EntryInput<'a> {
    pub image_name: &'a str,
    pub description: &'a str,
    pub board_description: &'a str,
    pub devices: &'a [String],
    pub source_date_epoch: i64,
    /// Where the files will be published (`https://example.org/clic/`);
    /// `None`: the bare file name, for a list kept next to the images.
    pub url_base: Option<&'a str>,
    pub compressed_file: &'a str,
    pub image_size: u64,
    pub image_sha256: &'a str,
    pub compressed_size: u64,
    pub compressed_sha256: &'a str,
}

pub fn entry(i: &EntryInput) -> OsEntry {
    let url = match i.url_base {
        Some(base) if !base.is_empty() => {
            format!("{}/{}", base.trim_end_matches('/'), i.compressed_file)
        }
        _ => i.compressed_file.to_owned(),
    };
    let description = if i.description.trim().is_empty() {
        format!("CLIC! box image for {}", i.board_description)
    } else {
        format!("{} ({})", i.description.trim(), i.board_description)
    };
    OsEntry {
        name: format!("CLIC! {}", i.image_name),
        description,
        icon: String::new(),
        url,
        extract_size: i.image_size,
        extract_sha256: i.image_sha256.to_owned(),
        image_download_size: i.compressed_size,
        image_download_sha256: i.compressed_sha256.to_owned(),
        release_date: crate::layers::portal::date(i.source_date_epoch),
        devices: i.devices.to_vec(),
    }
}

/// The file's text: the entries of an existing list (other images) with
/// ours replacing any entry of the same URL.
pub fn render(existing: Option<&str>, ours: OsEntry) -> String {
    let mut list: Vec<serde_json::Value> = existing
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .and_then(|v| v.get("os_list").and_then(|l| l.as_array()).cloned())
        .unwrap_or_default();
    list.retain(|e| e.get("url").and_then(|u| u.as_str()) != Some(ours.url.as_str()));
    list.push(serde_json::to_value(&ours).unwrap_or_default());
    list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    text(&list)
}

/// The file's text for these entries, in this order.
pub fn text<T: Serialize>(entries: &[T]) -> String {
    let mut s = serde_json::to_string_pretty(&serde_json::json!({ "os_list": entries }))
        .unwrap_or_default();
    s.push('\n');
    s
}

/// The entries of an `os_list.json`.
pub fn parse(text: &str) -> Result<Vec<OsEntry>, serde_json::Error> {
    #[derive(Deserialize)]
    struct List {
        os_list: Vec<OsEntry>,
    }
    serde_json::from_str::<List>(text).map(|l| l.os_list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> EntryInput<'static> {
        EntryInput {
            image_name: "clic-pi",
            description: "Boîte CLIC!",
            board_description: "Raspberry Pi 3",
            devices: Box::leak(Box::new(vec!["pi3-64bit".to_owned()])),
            source_date_epoch: 1_735_689_600,
            url_base: Some("https://example.org/clic/"),
            compressed_file: "clic-pi.img.zst",
            image_size: 1 << 30,
            image_sha256: "ab",
            compressed_size: 1000,
            compressed_sha256: "cd",
        }
    }

    #[test]
    fn entry_fields() {
        let e = entry(&input());
        assert_eq!(e.url, "https://example.org/clic/clic-pi.img.zst");
        assert_eq!(e.release_date, "2025-01-01");
        assert_eq!(e.name, "CLIC! clic-pi");
        assert_eq!(e.description, "Boîte CLIC! (Raspberry Pi 3)");
        let v = serde_json::to_value(&e).unwrap();
        assert!(v.get("init_format").is_none());
        assert_eq!(v["extract_size"], 1u64 << 30);
        let mut no_base = input();
        no_base.url_base = None;
        assert_eq!(entry(&no_base).url, "clic-pi.img.zst");
    }

    #[test]
    fn lists_merge_by_url() {
        let first = render(None, entry(&input()));
        let mut other = input();
        other.compressed_file = "clic-pi4.img.zst";
        other.image_name = "clic-pi4";
        let both = render(Some(&first), entry(&other));
        let mut again = input();
        again.image_sha256 = "ef";
        let text = render(Some(&both), entry(&again));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let list = v["os_list"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["extract_sha256"], "ef");
        assert_eq!(list[1]["name"], "CLIC! clic-pi4");
    }
}
