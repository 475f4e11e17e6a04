//! The command line, parsed by hand (a few flags; no parser dependency). Pure.

use crate::i18n::Lang;
use std::net::SocketAddr;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: agora serve [--listen 127.0.0.1:8095] [--data /var/lib/agora] [--base /agora]
                   [--admin-hash FILE] [--min-free 64M] [--lang fr]
       agora backup  --data DIR OUT_FILE
       agora restore --data DIR IN_FILE
       agora --version";

#[derive(Debug, PartialEq)]
pub struct Serve {
    pub listen: SocketAddr,
    pub data: PathBuf,
    pub base: String,
    /// None: `$CREDENTIALS_DIRECTORY/admin-hash` if set.
    pub admin_hash: Option<PathBuf>,
    pub min_free: u64,
    pub lang: Lang,
}

#[derive(Debug, PartialEq)]
pub enum Cmd {
    Serve(Serve),
    Backup { data: PathBuf, out: PathBuf },
    Restore { data: PathBuf, input: PathBuf },
    Version,
    Help,
}

fn base(s: &str) -> Result<String, String> {
    let b = s.trim_end_matches('/');
    if !b.is_empty() && (!b.starts_with('/') || b.contains(['{', '}', '*', '?', '#', ' '])) {
        return Err(format!("--base {s}: expected a path like /agora"));
    }
    Ok(b.to_string())
}

pub fn parse(args: &[String]) -> Result<Cmd, String> {
    let Some(cmd) = args.first() else {
        return Err("a command is needed".into());
    };
    let mut flags: Vec<(String, String)> = Vec::new();
    let mut positional = Vec::new();
    let mut it = args[1..].iter();
    while let Some(a) = it.next() {
        if let Some(name) = a.strip_prefix("--") {
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => {
                    let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                    (name.to_string(), v.clone())
                }
            };
            flags.push((name, value));
        } else {
            positional.push(PathBuf::from(a));
        }
    }
    let allowed: &[&str] = match cmd.as_str() {
        "--version" | "-V" | "version" => return Ok(Cmd::Version),
        "--help" | "-h" | "help" => return Ok(Cmd::Help),
        "serve" => &["listen", "data", "base", "admin-hash", "min-free", "lang"],
        "backup" | "restore" => &["data"],
        other => return Err(format!("unknown command {other:?}")),
    };
    if let Some((n, _)) = flags.iter().find(|(n, _)| !allowed.contains(&n.as_str())) {
        return Err(format!("{cmd}: unknown option --{n}"));
    }
    let get = |n: &str| {
        flags
            .iter()
            .rev()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let data = PathBuf::from(get("data").unwrap_or("/var/lib/agora"));
    match cmd.as_str() {
        "serve" => {
            if !positional.is_empty() {
                return Err("serve takes no file argument".into());
            }
            let listen = get("listen").unwrap_or("127.0.0.1:8095");
            Ok(Cmd::Serve(Serve {
                listen: listen
                    .parse()
                    .map_err(|_| format!("--listen {listen}: expected ADDRESS:PORT"))?,
                data,
                base: base(get("base").unwrap_or("/agora"))?,
                admin_hash: get("admin-hash").map(PathBuf::from),
                min_free: {
                    let m = get("min-free").unwrap_or("64M");
                    crate::form::size(m)
                        .ok_or_else(|| format!("--min-free {m}: expected a size like 64M"))?
                },
                lang: {
                    let l = get("lang").unwrap_or("fr");
                    Lang::parse(l).ok_or_else(|| format!("--lang {l}: expected fr or en"))?
                },
            }))
        }
        _ => {
            if get("data").is_none() {
                return Err(format!("{cmd} needs --data DIR"));
            }
            let [file] = positional.as_slice() else {
                return Err(format!("{cmd} needs exactly one file"));
            };
            Ok(if cmd == "backup" {
                Cmd::Backup {
                    data,
                    out: file.clone(),
                }
            } else {
                Cmd::Restore {
                    data,
                    input: file.clone(),
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Cmd, String> {
        parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn serve_defaults_and_flags() {
        let Cmd::Serve(s) = p("serve").unwrap() else {
            panic!()
        };
        assert_eq!(s.listen.to_string(), "127.0.0.1:8095");
        assert_eq!(s.base, "/agora");
        assert_eq!(s.min_free, 64 << 20);
        assert_eq!(s.lang, Lang::Fr);
        let Cmd::Serve(s) =
            p("serve --listen 0.0.0.0:1 --base /x/ --min-free=1G --lang en --admin-hash /h")
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(s.base, "/x");
        assert_eq!(s.min_free, 1 << 30);
        assert_eq!(s.lang, Lang::En);
        assert_eq!(s.admin_hash, Some(PathBuf::from("/h")));
    }

    #[test]
    fn refusals() {
        assert!(p("serve --lang de").is_err());
        assert!(p("serve --min-free lots").is_err());
        assert!(p("serve --base agora").is_err());
        assert!(p("serve --bogus 1").is_err());
        assert!(p("serve --listen").is_err());
        assert!(p("backup out.db").is_err());
        assert!(p("backup --data d").is_err());
        assert!(p("restore --data d a b").is_err());
        assert!(p("frobnicate").is_err());
        assert!(p("").is_err());
    }

    #[test]
    fn backup_restore_version() {
        assert_eq!(
            p("backup --data /d out.db").unwrap(),
            Cmd::Backup {
                data: "/d".into(),
                out: "out.db".into()
            }
        );
        assert_eq!(
            p("restore --data /d in.db").unwrap(),
            Cmd::Restore {
                data: "/d".into(),
                input: "in.db".into()
            }
        );
        assert_eq!(p("--version").unwrap(), Cmd::Version);
    }
}
