//! Three pages from the extraction benchmark, checked by hand: metadata from
//! the page's `<meta>` tags where it has them and from the visible page
//! where it does not (a date printed for readers, a `<title>` with the
//! site's name), and a body that runs from the story's first words to its
//! last. Pages in English, English with no metadata, and Korean.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use newsflow_cleaner::{extract, CleanerConfig};

fn page(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bench")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn meta_tags_and_a_printed_date() {
    let article = extract(
        &page("sciencealert-titan-map.html"),
        Some("text/html"),
        None,
        &CleanerConfig::default(),
    )
    .unwrap();
    assert_eq!(
        article.title.as_deref(),
        Some("The First Map of Saturn's Moon Titan Just Revealed Some Tantalising Features")
    );
    assert_eq!(article.byline.as_deref(), Some("Reuters"));
    // The page prints "19 NOV 2019" and has no machine-readable date.
    assert_eq!(article.published, Some(utc("2019-11-19T00:00:00Z")));
    assert_eq!(article.site_name.as_deref(), Some("ScienceAlert"));
    assert_eq!(
        article.canonical_url.as_deref(),
        Some("https://www.sciencealert.com/we-finally-have-a-global-geological-map-of-saturn-s-moon-titan")
    );
    assert_eq!(article.language.as_deref(), Some("eng"));
    assert!(article.body.starts_with(
        "WASHINGTON (Reuters) - Scientists on Monday unveiled the first global geological map"
    ));
    assert!(article
        .body
        .ends_with("(Reporting by Will Dunham; Editing by Tom Brown)\n\n© Reuters"));
}

#[test]
fn a_page_with_little_metadata() {
    let article = extract(
        &page("panarmenian-iran-protests.html"),
        Some("text/html"),
        None,
        &CleanerConfig::default(),
    )
    .unwrap();
    assert_eq!(
        article.title.as_deref(),
        Some("Amnesty. More than 100 protesters killed in Iran unrest")
    );
    assert_eq!(article.byline, None);
    // Printed as "November 20, 2019 - 11:28 AMT".
    assert_eq!(article.published, Some(utc("2019-11-20T11:28:00Z")));
    assert!(article
        .body
        .starts_with("PanARMENIAN.Net - Verified video footage, eyewitness testimony"));
    assert!(article.body.ends_with("snipers have also shot into crowds of people from rooftops and, in one case, a helicopter."));
}

#[test]
fn a_korean_page_titled_only_by_its_title_tag() {
    let article = extract(
        &page("entermedia-column.html"),
        Some("text/html"),
        None,
        &CleanerConfig::default(),
    )
    .unwrap();
    // <title>엘제이-류화영 진흙탕 싸움, 공적인 사안으로 봐야하는 이유 - Entermedia</title>
    assert_eq!(
        article.title.as_deref(),
        Some("엘제이-류화영 진흙탕 싸움, 공적인 사안으로 봐야하는 이유")
    );
    assert_eq!(article.language.as_deref(), Some("kor"));
    assert!(article
        .body
        .starts_with("엘제이의 리벤지인가, 류화영의 코스프레인가"));
    assert!(article
        .body
        .ends_with("엔터미디어(www.entermedia.co.kr), 무단전재 및 재배포금지"));
}
