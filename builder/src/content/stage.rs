//! Put the packs into the image: every file from the cache, its bytes
//! checked against its pin as it is read, hard-linked into the image tree
//! (the cache and the work directory are on one filesystem: no copy; a
//! reflink or copy otherwise). Packs for the data partition go into their
//! own tree, which `mke2fs -d` writes straight into the disk image: the
//! bytes are copied once, from the cache to where they stay. Then the library pages, the search index and
//! the web server's configuration.

use std::fs;
use std::path::{Path, PathBuf};

use super::catalogue::{self, Catalogue, CatalogueItem, CONTENT_DIR, DATA_MOUNT, ZIM_DIR};
use super::pack::{Kind, Pack};
use super::{ContentCache, ContentError};
use crate::cmd::Cmd;
use crate::layers::render::{render_context, TemplateContext};

/// What was staged.
#[derive(Debug, Clone, Default)]
pub struct Staged {
    pub catalogue: Option<Catalogue>,
    /// Bytes of item files placed (root and data).
    pub bytes: u64,
    pub files: usize,
    /// Bytes placed on the data partition's tree.
    pub data_bytes: u64,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> ContentError {
    move |source| ContentError::Io { context, source }
}

/// The library's page paths, per language: (lang, base URL, search dir).
pub const LIBRARY_PAGES: &[(&str, &str)] = &[("fr", "/bibliotheque"), ("en", "/en/library")];

/// Where staging writes.
pub struct Target<'a> {
    /// The image tree.
    pub root: &'a Path,
    /// The data partition's tree (created when a pack goes there).
    pub data_tree: &'a Path,
    /// The portal layer's `library/` directory (page templates).
    pub templates: &'a Path,
    pub epoch: i64,
}

/// Place `packs` into the image tree (and the data tree for packs marked
/// in `on_data`), then render the library pages.
pub fn stage(
    packs: &[Pack],
    on_data: &[bool],
    cache: &ContentCache,
    target: &Target,
    ctx: &TemplateContext,
) -> Result<Staged, ContentError> {
    let Target {
        root,
        data_tree,
        templates,
        epoch,
    } = *target;
    let mut staged = Staged::default();
    if packs.is_empty() {
        return Ok(staged);
    }
    let content_dir = in_root(root, CONTENT_DIR);
    let zim_dir = in_root(root, ZIM_DIR);
    mkdir(&content_dir)?;
    let cat = catalogue::catalogue(packs, on_data);
    for (pi, pack) in packs.iter().enumerate() {
        let data = on_data.get(pi).copied().unwrap_or(false);
        let dir = if data {
            let link = content_dir.join(&pack.id);
            let target = format!("{DATA_MOUNT}/{}", pack.id);
            std::os::unix::fs::symlink(&target, &link)
                .map_err(io(format!("linking {} to {target}", link.display())))?;
            data_tree.join(&pack.id)
        } else {
            content_dir.join(&pack.id)
        };
        mkdir(&dir)?;
        for (ii, item) in pack.items.iter().enumerate() {
            if crate::interrupt::requested() {
                return Err(ContentError::Interrupted);
            }
            let cached = cache.verify(item)?;
            let entry: &CatalogueItem = &cat.packs[pi].items[ii];
            let dest = dir.join(&entry.file);
            link_or_copy(&cached, &dest, epoch)?;
            staged.bytes += item.size;
            staged.files += 1;
            if data {
                staged.data_bytes += item.size;
            }
            if let (Some(c), Some(name)) = (&item.cover, catalogue::cover_name(item)) {
                fs::copy(c, dir.join(name)).map_err(io(format!("copying {}", c.display())))?;
            }
            match item.kind {
                Kind::Html => unpack_site(&dest, &dir.join(&item.id), &pack.id, &item.id)?,
                Kind::Zim => {
                    mkdir(&zim_dir)?;
                    let target = format!("{CONTENT_DIR}/{}/{}", pack.id, entry.file);
                    let link = zim_dir.join(&entry.file);
                    std::os::unix::fs::symlink(&target, &link)
                        .map_err(io(format!("linking {} to {target}", link.display())))?;
                }
                _ => {}
            }
        }
    }
    write_pages(root, &cat, ctx, templates)?;
    if staged.data_bytes > 0 {
        // kiwix-serve builds its library when it starts: after the data
        // partition is mounted.
        let dropin = in_root(root, "/etc/systemd/system/clic-kiwix.service.d");
        mkdir(&dropin)?;
        write(
            &dropin.join("clic-data.conf"),
            "# Written by clic (content packs): ZIM files may be on the data partition.\n\
             [Unit]\nWants=srv-clic-data.mount\nAfter=srv-clic-data.mount\n",
        )?;
    }
    staged.catalogue = Some(cat);
    Ok(staged)
}

fn in_root(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

fn mkdir(p: &Path) -> Result<(), ContentError> {
    fs::create_dir_all(p).map_err(io(format!("creating {}", p.display())))
}

fn write(p: &Path, text: &str) -> Result<(), ContentError> {
    if let Some(d) = p.parent() {
        mkdir(d)?;
    }
    fs::write(p, text).map_err(io(format!("writing {}", p.display())))
}

/// Hard link (same filesystem), else copy (`fs::copy` reflinks where the
/// filesystem can). World-readable, dated at the epoch.
fn link_or_copy(from: &Path, to: &Path, epoch: i64) -> Result<(), ContentError> {
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to).map_err(io(format!(
            "copying {} to {}",
            from.display(),
            to.display()
        )))?;
    }
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(to, fs::Permissions::from_mode(0o644))
        .map_err(io(format!("setting the mode of {}", to.display())))?;
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch.max(0) as u64);
    fs::File::options()
        .write(true)
        .open(to)
        .and_then(|f| f.set_modified(t))
        .map_err(io(format!("dating {}", to.display())))
}

/// Unpack an `html` bundle (a tar archive, compressed or not) as a site:
/// no owners, no modes from the archive, no member outside the directory
/// (GNU tar refuses `..` and strips leading `/`).
fn unpack_site(archive: &Path, dir: &Path, pack: &str, item: &str) -> Result<(), ContentError> {
    mkdir(dir)?;
    Cmd::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(dir)
        .args([
            "--no-same-owner",
            "--no-same-permissions",
            "--no-overwrite-dir",
        ])
        .run()
        .map_err(|source| ContentError::Cmd {
            context: format!("unpacking html bundle {pack}/{item}"),
            source,
        })?;
    Cmd::new("chmod")
        .args(["-R", "u=rwX,go=rX"])
        .arg(dir)
        .run()
        .map_err(|source| ContentError::Cmd {
            context: format!("setting modes in {}", dir.display()),
            source,
        })?;
    if let Some((path, target)) =
        escaping_link(dir).map_err(io(format!("reading the unpacked bundle {}", dir.display())))?
    {
        return Err(ContentError::BundleLink {
            pack: pack.to_owned(),
            item: item.to_owned(),
            path,
            target,
        });
    }
    if !dir.join("index.html").is_file() {
        return Err(ContentError::NoIndex {
            pack: pack.to_owned(),
            item: item.to_owned(),
        });
    }
    Ok(())
}

/// The first symbolic link under `dir` whose target is absolute or leaves
/// `dir` through `..` (judged on the names alone: no link is followed):
/// its path in the bundle and its target.
pub fn escaping_link(dir: &Path) -> std::io::Result<Option<(String, String)>> {
    crate::layers::paths::escaping_link(dir, true)
}

/// The name a phone reaches the box by: the hotspot's domain, else the
/// host name.
fn box_host(ctx: &TemplateContext) -> String {
    ctx.settings
        .get("hotspot")
        .and_then(|h| h.get("domain"))
        .and_then(|d| d.as_str())
        .unwrap_or(&ctx.hostname)
        .to_owned()
}

/// Each item's QR code (`PACK/ITEM` -> inline SVG) of its own address on
/// the box (where it is read, else the file), so that a kiosk screen or a
/// printed page sends a phone straight to it. An address too long for a
/// QR code gets none.
pub fn item_qr_codes(cat: &Catalogue, host: &str) -> std::collections::BTreeMap<String, String> {
    cat.packs
        .iter()
        .flat_map(|p| p.items.iter())
        .filter_map(|i| {
            let path = i.read.as_deref().unwrap_or(&i.link);
            let url = format!("http://{host}{path}");
            let svg = clic_poster::qr_svg_labelled(&url, &format!("QR code: {url}")).ok()?;
            Some((format!("{}/{}", i.pack, i.id), svg))
        })
        .collect()
}

/// The library pages in every language, one results page per indexed
/// word, the licences pages, and nginx's configuration for all of it.
fn write_pages(
    root: &Path,
    cat: &Catalogue,
    ctx: &TemplateContext,
    templates: &Path,
) -> Result<(), ContentError> {
    let read = |name: &str| {
        let p = templates.join(name);
        fs::read_to_string(&p).map_err(io(format!("reading template {}", p.display())))
    };
    let (index_t, search_t, licences_t) = (
        read("index.html.tera")?,
        read("search.html.tera")?,
        read("licences.html.tera")?,
    );
    let base_ctx =
        tera::Context::from_serialize(ctx).map_err(|e| crate::layers::render::RenderError {
            name: "library".into(),
            detail: e.to_string(),
        })?;
    let idx = catalogue::index(cat);
    let mut base_ctx = base_ctx;
    base_ctx.insert("qrs", &item_qr_codes(cat, &box_host(ctx)));
    let www = in_root(root, "/var/www/html");
    for (lang, base) in LIBRARY_PAGES {
        let mut c = base_ctx.clone();
        c.insert("lang", lang);
        c.insert("library", cat);
        c.insert("base", base);
        c.insert(
            "pages",
            &LIBRARY_PAGES
                .iter()
                .map(|(l, b)| (l.to_string(), b.to_string()))
                .collect::<std::collections::BTreeMap<_, _>>(),
        );
        let dir = www.join(base.trim_start_matches('/'));
        let page = |name: &str, text: &str, c: &tera::Context| render_context(name, text, c, true);
        write(
            &dir.join("index.html"),
            &page("library/index.html.tera", &index_t, &c)?,
        )?;
        write(
            &dir.join("licences.html"),
            &page("library/licences.html.tera", &licences_t, &c)?,
        )?;
        for (word, hits) in idx
            .iter()
            .map(|(w, h)| (Some(w), h.as_slice()))
            .chain([(None, &[][..])])
        {
            let results: Vec<&CatalogueItem> =
                hits.iter().map(|&(p, i)| &cat.packs[p].items[i]).collect();
            let mut c = c.clone();
            c.insert("word", &word);
            c.insert("results", &results);
            let file = match word {
                Some(w) => format!("{w}.html"),
                None => "none.html".to_owned(),
            };
            write(
                &dir.join("search").join(file),
                &page("library/search.html.tera", &search_t, &c)?,
            )?;
        }
    }
    write(
        &in_root(root, "/etc/nginx/conf.d/clic-library.conf"),
        &catalogue::nginx_map(&idx),
    )?;
    let mut site = read("nginx-site.conf")?;
    site.push_str(&data_pack_locations(cat));
    write(
        &in_root(root, "/etc/nginx/clic-site.d/clic-library.conf"),
        &site,
    )
}

/// A location per pack kept on the data partition (its folder in
/// /srv/clic/content is a link there, which `disable_symlinks` refuses):
/// served from the partition itself, links refused there too.
pub fn data_pack_locations(cat: &Catalogue) -> String {
    let mut s = String::new();
    for p in cat.packs.iter().filter(|p| p.on_data) {
        s.push_str(&format!(
            "location {prefix}/{id}/ {{\n    alias {DATA_MOUNT}/{id}/;\n    disable_symlinks on from={DATA_MOUNT}/{id};\n    limit_except GET {{ deny all; }}\n    charset utf-8;\n    add_header X-Content-Type-Options nosniff;\n    add_header Content-Security-Policy $clic_content_csp;\n}}\n",
            prefix = catalogue::URL_PREFIX,
            id = p.id,
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_leaving_a_bundle_are_found_and_links_inside_are_not() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("site");
        fs::create_dir_all(d.join("img/small")).unwrap();
        fs::write(d.join("index.html"), "<p>x</p>").unwrap();
        fs::write(d.join("img/a.png"), "png").unwrap();
        symlink("../a.png", d.join("img/small/a.png")).unwrap();
        symlink("img/a.png", d.join("logo.png")).unwrap();
        assert_eq!(escaping_link(&d).unwrap(), None);
        for (name, target) in [
            ("leases", "/var/lib/misc/dnsmasq.leases"),
            ("up", "../../etc/ssh"),
            ("img/small/up", "../../../x"),
            ("img/sneaky", "small/../../../x"),
        ] {
            symlink(target, d.join(name)).unwrap();
            let (path, found) = escaping_link(&d).unwrap().expect(name);
            assert_eq!((path.as_str(), found.as_str()), (name, target));
            fs::remove_file(d.join(name)).unwrap();
        }
    }

    #[test]
    fn a_bundle_with_an_outside_link_is_refused_naming_it() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("index.html"), "<p>x</p>").unwrap();
        symlink("/etc/shadow", src.join("secret.txt")).unwrap();
        let tar = t.path().join("site.tar");
        let ok = std::process::Command::new("tar")
            .arg("-cf")
            .arg(&tar)
            .arg("-C")
            .arg(&src)
            .arg(".")
            .status()
            .unwrap();
        assert!(ok.success());
        let err = unpack_site(&tar, &t.path().join("out"), "p", "i").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("p/i") && msg.contains("secret.txt") && msg.contains("/etc/shadow"),
            "{msg}"
        );
    }
}
