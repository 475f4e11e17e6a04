use super::*;
use crate::content::pack::{Item, ItemSource};
use std::path::PathBuf;

fn item(id: &str, kind: Kind, title: &str, size: u64) -> Item {
    Item {
        id: id.into(),
        title: title.into(),
        description: String::new(),
        language: "fr".into(),
        kind,
        licence: "CC-BY-SA-4.0".into(),
        attribution: "Projet CLIC!".into(),
        source: ItemSource::Url(format!("https://example.org/{id}.{}", kind.name())),
        sha256: "ab".repeat(32),
        size,
        cover: None,
        tags: vec!["low-tech".into()],
    }
}

fn pack(id: &str, items: Vec<Item>) -> Pack {
    Pack {
        id: id.into(),
        title: format!("Pack {id}"),
        description: String::new(),
        languages: vec!["fr".into()],
        items,
        path: PathBuf::from(format!("/x/{id}.toml")),
    }
}

#[test]
fn large_packs_go_to_the_data_partition_when_the_board_has_one() {
    let packs = vec![
        pack("small", vec![item("a", Kind::Pdf, "A", 10)]),
        pack("big", vec![item("b", Kind::Video, "B", 100)]),
    ];
    assert_eq!(on_data(&packs, Some(50)), [false, true]);
    assert_eq!(on_data(&packs, None), [false, false]);
}

#[test]
fn links_reads_and_kiwix_books() {
    let packs = vec![pack(
        "cours",
        vec![
            item("poele", Kind::Html, "Poêle", 10),
            item("wiki", Kind::Zim, "Wiki", 10),
            item("film", Kind::Video, "Film", 10),
        ],
    )];
    let c = catalogue(&packs, &[false]);
    let it = &c.packs[0].items;
    assert_eq!(it[0].link, "/content/cours/poele.html");
    assert_eq!(it[0].read.as_deref(), Some("/content/cours/poele/"));
    assert_eq!(it[1].link, "/content/cours/cours_wiki.zim");
    assert_eq!(it[1].read.as_deref(), Some("/kiwix/cours_wiki/"));
    assert_eq!(it[2].read, None);
    assert_eq!(c.kinds, ["video", "html", "zim"]);
    assert_eq!((c.items, c.size), (3, 30));
}

#[test]
fn words_are_folded_and_stemmed() {
    assert_eq!(fold("Poêle À Bois, ŒUVRE"), "poele a bois  oeuvre");
    let packs = vec![pack(
        "p",
        vec![item("a", Kind::Pdf, "Les poêles fusées et l'énergie", 1)],
    )];
    let c = catalogue(&packs, &[false]);
    let w = words(&c.packs[0].title, &c.packs[0].items[0]);
    for expect in [
        "poele", "fusee", "energie", "low", "tech", "projet", "clic", "pack",
    ] {
        assert!(w.contains(expect), "{expect}: {w:?}");
    }
    assert!(!w.contains("les") && !w.contains("et"), "{w:?}");
}

#[test]
fn the_nginx_map_finds_words_as_browsers_send_them() {
    let packs = vec![pack(
        "p",
        vec![
            item("a", Kind::Pdf, "Poêle fusée", 1),
            item("b", Kind::Pdf, "Four solaire", 1),
        ],
    )];
    let c = catalogue(&packs, &[false]);
    let idx = index(&c);
    assert_eq!(idx["poele"], [(0, 0)]);
    assert_eq!(idx["pack"], [(0, 0), (0, 1)]);
    let map = nginx_map(&idx);
    let rules: Vec<(regex::Regex, String)> = map
        .lines()
        .filter_map(|l| l.trim().strip_prefix("\"~*"))
        .map(|l| {
            let (pat, word) = l.rsplit_once("\" ").unwrap();
            (
                regex::Regex::new(&format!("(?i){pat}")).unwrap(),
                word.trim_end_matches(';').to_owned(),
            )
        })
        .collect();
    let lookup = |q: &str| {
        rules
            .iter()
            .find(|(r, _)| r.is_match(q))
            .map(|(_, w)| w.as_str())
    };
    assert_eq!(lookup("po%C3%AAle"), Some("poele"));
    assert_eq!(lookup("PO%C3%8ALES"), Some("poele"));
    assert_eq!(lookup("poele"), Some("poele"));
    assert_eq!(lookup("un+four+solaire"), Some("four"));
    assert_eq!(lookup("fours"), Some("four"));
    assert_eq!(lookup("xpoele"), None, "whole words only");
    assert_eq!(lookup("ordinateur"), None);
    // Specific words before the pack's title, which finds everything.
    assert_eq!(lookup("pack+fus%C3%A9e"), Some("fusee"));
}

#[test]
fn every_item_has_a_qr_code_of_its_own_address() {
    let packs = vec![pack(
        "cours",
        vec![
            item("poele", Kind::Html, "Poêle", 10),
            item("film", Kind::Video, "Film", 10),
        ],
    )];
    let c = catalogue(&packs, &[false]);
    let q = crate::content::stage::item_qr_codes(&c, "clic.lan");
    assert_eq!(q.len(), 2);
    // Where the item is read, else the file itself.
    assert!(q["cours/poele"].contains("QR code: http://clic.lan/content/cours/poele/\""));
    assert!(
        q["cours/film"].contains("http://clic.lan/content/cours/film.video"),
        "{}",
        q["cours/film"]
    );
    assert!(q["cours/film"].starts_with("<svg"));
}
