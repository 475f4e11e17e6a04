//! `/etc/clic/admin.toml`, written by the admin layer from the image's
//! settings. Every path is here so that the console can run on a test
//! machine against files of its own.

use crate::reach::{Net4, Reach};
use crate::text::Lang;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    /// The base path nginx serves the console under, `/admin`.
    #[serde(default = "default_base")]
    pub base: String,
    pub admin_user: String,
    #[serde(default)]
    pub lang: Lang,
    #[serde(default)]
    pub reach: Reach,
    /// The hotspot's address and prefix, `10.41.0.1/24` (none: no hotspot).
    #[serde(default)]
    pub hotspot_address: Option<String>,
    pub box_name: String,
    pub portal_url: String,
    /// Image name, board, clic version and build date, for the status page.
    pub image: String,
    #[serde(default = "default_shadow")]
    pub shadow: PathBuf,
    #[serde(default = "default_web_hash")]
    pub web_hash: PathBuf,
    #[serde(default = "default_hostapd")]
    pub hostapd_conf: PathBuf,
    #[serde(default = "default_leases")]
    pub leases: PathBuf,
    #[serde(default = "default_state")]
    pub settings_state: PathBuf,
    /// Where the console keeps what a hotspot change must go back to.
    #[serde(default = "default_work")]
    pub work: PathBuf,
    /// Whether the agora is on the box (its moderation is linked).
    #[serde(default)]
    pub agora: bool,
    /// Where imported ZIM files go (kiwix reads them).
    #[serde(default = "default_zim_dir")]
    pub zim_dir: PathBuf,
    /// Where other imported files and folders go (served at /files/).
    #[serde(default = "default_library_dir")]
    pub library_dir: PathBuf,
    /// Where a USB stick is mounted (read-only) while the admin looks at it.
    #[serde(default = "default_usb_mount")]
    pub usb_mount: PathBuf,
    /// The texts the portal's pages include (layers base and portal).
    #[serde(default = "default_text_dir")]
    pub text_dir: PathBuf,
    /// What the participation backup holds: one description per layer.
    #[serde(default = "default_backup_dir")]
    pub backup_dir: PathBuf,
    /// The home page's language the image was built with.
    #[serde(default)]
    pub portal_lang: Lang,
}

fn default_backup_dir() -> PathBuf {
    "/etc/clic/backup.d".into()
}

fn default_text_dir() -> PathBuf {
    "/var/lib/clic/text".into()
}

fn default_zim_dir() -> PathBuf {
    "/srv/clic/zim".into()
}
fn default_library_dir() -> PathBuf {
    "/srv/clic/library".into()
}
fn default_usb_mount() -> PathBuf {
    "/run/clic-admin/usb".into()
}

fn default_base() -> String {
    "/admin".into()
}
fn default_shadow() -> PathBuf {
    "/etc/shadow".into()
}
fn default_web_hash() -> PathBuf {
    "/var/lib/clic/admin-web.hash".into()
}
fn default_hostapd() -> PathBuf {
    "/etc/hostapd/clic.conf".into()
}
fn default_leases() -> PathBuf {
    "/var/lib/misc/dnsmasq.leases".into()
}
fn default_state() -> PathBuf {
    "/var/lib/clic/settings-state.json".into()
}
fn default_work() -> PathBuf {
    "/var/lib/clic/admin".into()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: {1}")]
    Parse(PathBuf, String),
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::Read(path.to_owned(), e))?;
        Config::parse(&text).map_err(|e| ConfigError::Parse(path.to_owned(), e))
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
        if let Some(a) = &c.hotspot_address {
            if Net4::parse(a).is_none() {
                return Err(format!(
                    "hotspot_address `{a}` is not an IPv4 address/prefix"
                ));
            }
        }
        if !(c.base.is_empty() || c.base.starts_with('/') && !c.base.ends_with('/')) {
            return Err(format!(
                "base `{}` must start with / and not end with one",
                c.base
            ));
        }
        Ok(c)
    }

    pub fn hotspot(&self) -> Option<Net4> {
        self.hotspot_address.as_deref().and_then(Net4::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
listen = "127.0.0.1:8096"
admin_user = "admin"
hotspot_address = "10.41.0.1/24"
box_name = "clic"
portal_url = "http://clic.lan/"
image = "clic-ordinosaure (x86-uefi)"
"#;

    #[test]
    fn parses_with_defaults() {
        let c = Config::parse(OK).unwrap();
        assert_eq!(c.base, "/admin");
        assert_eq!(c.reach, Reach::Local);
        assert_eq!(c.shadow, PathBuf::from("/etc/shadow"));
        assert!(c.hotspot().is_some());
    }

    #[test]
    fn refuses_what_is_wrong() {
        let e = Config::parse(&OK.replace("10.41.0.1/24", "10.41.0.1")).unwrap_err();
        assert!(e.contains("hotspot_address"), "{e}");
        let e = Config::parse(&format!("{OK}reach = \"everyone\"\n")).unwrap_err();
        assert!(e.contains("reach"), "{e}");
        let e = Config::parse(&format!("{OK}colour = 1\n")).unwrap_err();
        assert!(e.contains("colour"), "{e}");
    }
}
