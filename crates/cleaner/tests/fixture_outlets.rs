//! The cleaner on the fixture outlets' pages for the five seed stories: page
//! chrome of every kind (navigation, cookie banner, share bar, related
//! links, comments, footer) around a known text. The seeds are the stories
//! as published, so every paragraph the cleaner returns must be one of
//! theirs, and nearly all of theirs must be returned (captions, which the
//! seeds include and the cleaner drops with the figure, are the exception).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use newsflow_cleaner::{extract, CleanerConfig};

const BASE: &str = "http://127.0.0.1:8080";

struct Expected {
    outlet: &'static str,
    article_path: &'static str,
    title: &'static str,
    byline: &'static str,
    published: &'static str,
}

/// Checked by hand against each page's visible header.
const PAGES: &[Expected] = &[
    Expected {
        outlet: "caspian-times",
        article_path: "articles/putin-baku-peace-offer.html",
        title: "Putin in Baku offers to establish peace between Azerbaijan-Armenia",
        byline: "Caspian Times with agencies",
        published: "2024-08-19T14:35:00Z",
    },
    Expected {
        outlet: "eurasia-ledger",
        article_path: "articles/putin-baku-mediator-role.html",
        title: "On first Baku trip since Ukraine invasion, Putin pitches Russia as Azerbaijan–Armenia mediator",
        byline: "Daniel Brooks",
        published: "2024-08-20T07:10:00Z",
    },
    Expected {
        outlet: "moscow-evening",
        article_path: "articles/putin-happy-to-facilitate-peace-deal.html",
        title: "Putin Says 'Would Be Happy' to Facilitate Azerbaijan-Armenia Peace Deal in Aliyev Talks",
        byline: "Moscow Evening",
        published: "2024-08-19T11:02:00Z",
    },
    Expected {
        outlet: "radio-free-caucasus",
        article_path: "articles/putin-aliyev-baku-peace-process.html",
        title: "Moscow Is Ready To Get Involved In Azerbaijan-Armenia Peace Process, Putin Says",
        byline: "Nurlan Gahramanli",
        published: "2024-08-19T15:52:00Z",
    },
    Expected {
        outlet: "northern-courier",
        article_path: "articles/russia-ready-help-azerbaijan-armenia-peace.html",
        title: "Russia ready to help Azerbaijan and Armenia make peace – Putin",
        byline: "Northern Courier",
        published: "2024-08-19T12:48:00Z",
    },
];

fn fixture(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A page of the workspace's fixture outlets (the ones the end-to-end tests
/// serve), so both read the same bytes.
fn outlet_page(outlet: &str, article_path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/outlets")
        .join(outlet)
        .join(article_path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One seed keeps a stray `<u>` tag from its source; the page renders it.
fn without_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Words only, so quotes, dashes and spacing do not decide a match.
fn words(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[test]
fn seed_stories_come_out_whole_and_clean() {
    let config = CleanerConfig::default();
    for expected in PAGES {
        let page = outlet_page(expected.outlet, expected.article_path).replace("{{BASE}}", BASE);
        let url = format!("{BASE}/{}/{}", expected.outlet, expected.article_path);
        let article = extract(
            page.as_bytes(),
            Some("text/html; charset=utf-8"),
            Some(&url),
            &config,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", expected.outlet));
        let outlet = expected.outlet;
        assert_eq!(
            article.title.as_deref(),
            Some(expected.title),
            "{outlet} title"
        );
        assert_eq!(
            article.byline.as_deref(),
            Some(expected.byline),
            "{outlet} byline"
        );
        let published: DateTime<Utc> = expected.published.parse().unwrap();
        assert_eq!(article.published, Some(published), "{outlet} published");
        assert_eq!(
            article.language.as_deref(),
            Some("eng"),
            "{outlet} language"
        );
        assert_eq!(
            article.canonical_url.as_deref(),
            Some(url.as_str()),
            "{outlet} canonical"
        );

        let seed = without_markup(&fixture(&format!("seeds/{outlet}.txt")));
        let seed_words = words(&seed);
        for paragraph in article.body.split("\n\n") {
            assert!(
                seed_words.contains(&words(paragraph)),
                "{outlet}: body paragraph not in the story: {paragraph:?}"
            );
        }
        let body_words = words(&article.body);
        let seed_paragraphs: Vec<&str> = seed
            .lines()
            .map(str::trim)
            // A source link noted under a story is not part of it.
            .filter(|l| l.len() > 60 && !l.starts_with("http"))
            .filter(|l| !words(expected.title).contains(&words(l)))
            .collect();
        let missing: Vec<&&str> = seed_paragraphs
            .iter()
            .filter(|p| !body_words.contains(&words(p)))
            .collect();
        assert!(
            missing.len() <= 1,
            "{outlet}: {} of {} story paragraphs missing: {missing:#?}",
            missing.len(),
            seed_paragraphs.len()
        );
        assert!(
            !words(&article.body).starts_with(&words(expected.title)),
            "{outlet}: title in body"
        );
    }
}
