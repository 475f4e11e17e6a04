use super::*;

const SHA: &str = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb";

fn pack_with(items: &str) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(t.path().join("a.pdf"), "a").unwrap();
    let p = t.path().join("p.toml");
    std::fs::write(
        &p,
        format!(
            "id = \"p\"\ntitle = \"P\"\ndescription = \"d\"\nlanguages = [\"fr\", \"en\"]\n{items}"
        ),
    )
    .unwrap();
    (t, p)
}

fn item(fields: &str) -> String {
    format!("\n[[items]]\nid = \"a\"\ntitle = \"A\"\nlanguage = \"fr\"\nkind = \"pdf\"\n{fields}")
}

const GOOD: &str = "licence = \"CC-BY-SA-4.0\"\nattribution = \"CLIC!\"\nsource = \"a.pdf\"\nsha256 = \"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb\"\nsize = 1\n";

fn errors(items: &str) -> String {
    let (_t, p) = pack_with(items);
    load(&p).unwrap_err().to_string()
}

#[test]
fn a_good_pack_loads() {
    let (t, p) = pack_with(&item(GOOD));
    let pack = load(&p).unwrap();
    assert_eq!(pack.id, "p");
    let i = &pack.items[0];
    assert_eq!(i.kind, Kind::Pdf);
    assert_eq!(i.sha256, SHA);
    assert_eq!(i.source, ItemSource::Path(t.path().join("a.pdf")));
    assert_eq!(i.file_name(), "a.pdf");
    assert_eq!(pack.size(), 1);
}

#[test]
fn missing_licence_names_file_line_and_key() {
    let e = errors(&item(&GOOD.replace("licence = \"CC-BY-SA-4.0\"\n", "")));
    // The item's id is on line 7.
    assert!(
        e.contains("p.toml:7:6: `items[0].licence`: item `a` has no licence"),
        "{e}"
    );
}

#[test]
fn bad_spdx_is_refused_at_its_line() {
    let e = errors(&item(&GOOD.replace("CC-BY-SA-4.0", "CC-BY-SA-4")));
    assert!(e.contains("p.toml:11:11: `items[0].licence`"), "{e}");
    assert!(e.contains("not an SPDX licence expression"), "{e}");
    let e = errors(&item(&GOOD.replace("CC-BY-SA-4.0", "MIT AND")));
    assert!(e.contains("`items[0].licence`"), "{e}");
    for ok in [
        "CC0-1.0",
        "MIT OR Apache-2.0",
        "GFDL-1.3-or-later",
        "LicenseRef-clic-test",
    ] {
        assert_eq!(spdx_problem(ok), None, "{ok}");
    }
}

#[test]
fn bad_sha256_length_is_refused() {
    let e = errors(&item(&GOOD.replace(SHA, &SHA[..40])));
    assert!(e.contains("p.toml:14:10: `items[0].sha256`"), "{e}");
    assert!(e.contains("40 characters"), "{e}");
}

#[test]
fn duplicate_ids_are_refused_at_the_second() {
    let e = errors(&(item(GOOD) + &item(GOOD)));
    assert!(
        e.contains("p.toml:18:6: `items[1].id`: duplicate item id `a`"),
        "{e}"
    );
}

#[test]
fn unknown_kind_lists_the_kinds() {
    let e = errors(&item(GOOD).replace("kind = \"pdf\"", "kind = \"mp3\""));
    assert!(
        e.contains("p.toml:10:8: `items[0].kind`: unknown kind `mp3`"),
        "{e}"
    );
    assert!(e.contains("pdf, epub, video, audio, html, zim"), "{e}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let bad = item(&GOOD.replace(SHA, "xyz").replace("CC-BY-SA-4.0", "nope"))
        .replace("\"pdf\"", "\"book\"")
        .replace("\"fr\"\nkind", "\"de\"\nkind");
    let e = errors(&bad);
    for k in ["sha256", "licence", "kind", "language"] {
        assert!(e.contains(&format!("`items[0].{k}`")), "{k}: {e}");
    }
    assert!(e.starts_with("4 problems found"), "{e}");
}

#[test]
fn sources_and_urls() {
    assert!(valid_url("https://example.org/a.pdf"));
    assert!(valid_url("http://127.0.0.1:8000/a.pdf"));
    assert!(
        !valid_url("http://example.org/a.pdf"),
        "plain http off the machine"
    );
    assert!(!valid_url("ftp://example.org/a.pdf"));
    let e = errors(&item(&GOOD.replace("a.pdf", "../a.pdf")));
    assert!(e.contains("`items[0].source`"), "{e}");
    let e = errors(&item(&GOOD.replace("a.pdf", "http://example.org/a.pdf")));
    assert!(e.contains("not an https:// URL"), "{e}");
    let e = errors(&item(&GOOD.replace("a.pdf", "missing.pdf")));
    assert!(e.contains("does not exist"), "{e}");
    let e = errors(&item(GOOD).replace("\"pdf\"", "\"html\""));
    assert!(
        e.contains("`items[0].source`: an html bundle is a tar archive"),
        "{e}"
    );
}

#[test]
fn file_names_keep_the_sources_extension() {
    let (_t, p) = pack_with(&item(
        &GOOD.replace("\"a.pdf\"", "\"https://example.org/x/Cours.Tar.GZ?dl=1\""),
    ));
    let pack = load(&p).unwrap();
    assert_eq!(pack.items[0].file_name(), "a.tar.gz");
    assert_eq!(extension("noext"), None);
    assert_eq!(extension("a.we!rd"), None);
}

#[test]
fn ids_and_languages() {
    assert!(valid_id("low-tech_1.0"));
    assert!(!valid_id("Low"));
    assert!(!valid_id("../x"));
    assert!(valid_language("fr") && valid_language("pt-BR") && valid_language("zh-Hant"));
    assert!(!valid_language("french") && !valid_language("FR"));
    assert!(looks_like_pack("id = \"p\"\n[[items]]\nid = \"a\"\n"));
    assert!(!looks_like_pack("name = \"x\"\ncontent = [\"p\"]\n"));
}
