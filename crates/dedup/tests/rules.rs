//! One test per rule of the deduplicator, on the pure core.

mod common;

use common::*;
use newsflow_dedup::{DedupConfig, Deduplicator, Verdict};
use newsflow_model::DuplicateReason;

fn dedup() -> Deduplicator {
    Deduplicator::new(DedupConfig::default())
}

fn seed_body(index: usize) -> String {
    seeds()[index].1.clone()
}

fn expect_duplicate(verdict: &Verdict, of: &str, reason: DuplicateReason) {
    match verdict {
        Verdict::Duplicate { record, story } => {
            assert_eq!(record.duplicate_of, of);
            assert_eq!(story.story_id, of);
            assert_eq!(record.reason, reason, "record {record:?}");
        }
        other => panic!("expected a duplicate of {of} ({reason:?}), got {other:?}"),
    }
}

#[test]
fn the_five_seed_stories_are_five_stories() {
    let mut dedup = dedup();
    for (index, (title, body)) in seeds().iter().enumerate() {
        let url = format!("https://outlet{index}.example/baku");
        let verdict = dedup.check(&article(&format!("outlet{index}"), &url, title, body));
        assert!(
            matches!(verdict, Verdict::New(_)),
            "seed {index}: {verdict:?}"
        );
    }
    assert_eq!(dedup.len(), 5);
}

#[test]
fn url_variants_of_one_page_are_the_same_article() {
    let mut dedup = dedup();
    let body = seed_body(0);
    let first = dedup.check(&article(
        "a.example",
        "https://www.a.example/world/baku-visit",
        "Putin in Baku",
        &body,
    ));
    let story_id = first.story().story_id.clone();
    for variant in [
        "HTTP://WWW.A.EXAMPLE/world/baku-visit",
        "https://a.example/world/baku-visit/",
        "https://m.a.example/world/baku-visit",
        "https://amp.a.example/world/baku-visit?amp=1",
        "https://www.a.example/world/baku-visit/amp",
        "https://a.example/world/baku-visit?utm_source=rss&utm_medium=feed#comments",
    ] {
        let mut copy = article("a.example", variant, "Putin in Baku", &body);
        copy.item_id = first.story().article.item_id.clone();
        let verdict = dedup.check(&copy);
        match verdict {
            Verdict::Unchanged(story) => {
                assert_eq!(story.story_id, story_id);
                assert_eq!(story.carriers.len(), 1, "{variant}");
            }
            other => panic!("{variant}: expected unchanged, got {other:?}"),
        }
    }
}

#[test]
fn a_page_whose_rel_canonical_names_a_known_page_is_a_copy() {
    let mut dedup = dedup();
    let body = seed_body(1);
    let original = dedup.check(&article(
        "a.example",
        "https://a.example/news/42",
        "Moscow ready",
        &body,
    ));
    let mut syndicated = article(
        "b.example",
        "https://b.example/partners/moscow-ready",
        "Moscow ready",
        &body,
    );
    syndicated.canonical_url = "https://www.a.example/news/42/".into();
    let verdict = dedup.check(&syndicated);
    expect_duplicate(
        &verdict,
        &original.story().story_id,
        DuplicateReason::SameCanonicalUrl,
    );
    let carriers: Vec<_> = verdict
        .story()
        .carriers
        .iter()
        .map(|c| c.outlet.as_str())
        .collect();
    assert_eq!(carriers, ["a.example", "b.example"]);
}

#[test]
fn a_rel_canonical_pointing_at_a_different_text_is_not_trusted() {
    let mut dedup = dedup();
    dedup.check(&article(
        "a.example",
        "https://a.example/",
        "Home",
        &seed_body(0),
    ));
    let mut other = article(
        "a.example",
        "https://a.example/news/7",
        "Another story",
        &seed_body(2),
    );
    other.canonical_url = "https://a.example/".into();
    assert!(matches!(dedup.check(&other), Verdict::New(_)));
}

#[test]
fn the_same_guid_from_the_same_feed_is_the_same_item() {
    let mut dedup = dedup();
    let body = seed_body(2);
    let first = article(
        "a.example",
        "https://a.example/2024/08/19/putin-baku",
        "Putin in Baku",
        &body,
    );
    let story_id = dedup.check(&first).story().story_id.clone();
    // The outlet changed the slug; the feed kept the GUID.
    let mut moved = article(
        "a.example",
        "https://a.example/2024/08/19/putin-aliyev-talks",
        "Putin and Aliyev talk",
        &body,
    );
    moved.item_id = first.item_id.clone();
    expect_duplicate(
        &dedup.check(&moved),
        &story_id,
        DuplicateReason::SameFeedItem,
    );
}

#[test]
fn the_same_guid_from_another_feed_is_not_an_identity() {
    let mut dedup = dedup();
    let first = article("a.example", "https://a.example/1", "One", &seed_body(0));
    dedup.check(&first);
    let mut other = article("b.example", "https://b.example/1", "Two", &seed_body(3));
    other.item_id = first.item_id.clone();
    assert!(matches!(dedup.check(&other), Verdict::New(_)));
}

#[test]
fn the_same_normalised_body_elsewhere_is_a_copy() {
    let mut dedup = dedup();
    let body = seed_body(3);
    let original = dedup.check(&article(
        "a.example",
        "https://a.example/story",
        "Title A",
        &body,
    ));
    let reflowed = body
        .to_uppercase()
        .replace("\n\n", "\n")
        .replace(", ", " , ");
    let copy = article(
        "b.example",
        "https://b.example/other-path",
        "Title B",
        &reflowed,
    );
    let verdict = dedup.check(&copy);
    expect_duplicate(
        &verdict,
        &original.story().story_id,
        DuplicateReason::SameBody,
    );
    if let Verdict::Duplicate { record, .. } = &verdict {
        assert_eq!(record.url, "https://b.example/other-path");
        assert_eq!(record.outlet, "b.example");
        assert_eq!(record.similarity, 1.0);
    }
}

#[test]
fn an_edited_copy_is_a_near_duplicate() {
    let mut dedup = dedup();
    let body = seed_body(0);
    let original = dedup.check(&article(
        "a.example",
        "https://a.example/putin",
        "Putin in Baku",
        &body,
    ));
    let mut paragraphs = paragraphs(&body);
    paragraphs[0] = "BAKU (Wire) -- A new lead paragraph written by the syndicating outlet.".into();
    paragraphs.pop();
    let edited = replace_every_nth_word(&paragraphs.join("\n\n"), 10);
    let verdict = dedup.check(&article(
        "b.example",
        "https://b.example/x",
        "A different headline",
        &edited,
    ));
    expect_duplicate(
        &verdict,
        &original.story().story_id,
        DuplicateReason::NearDuplicateBody,
    );
    if let Verdict::Duplicate { record, .. } = verdict {
        assert!(
            record.similarity > 0.3 && record.similarity < 1.0,
            "{}",
            record.similarity
        );
    }
}

#[test]
fn the_same_url_with_changed_text_is_an_update() {
    let mut dedup = dedup();
    let url = "https://a.example/live/baku";
    let first = dedup.check(&article("a.example", url, "Putin arrives", &seed_body(0)));
    let mut revised = article("a.example", url, "Putin and Aliyev sign", &seed_body(4));
    revised.fetched_at = at_hours(2);
    match dedup.check(&revised) {
        Verdict::Updated(story) => {
            assert_eq!(story.story_id, first.story().story_id);
            assert_eq!(story.revision, first.story().revision + 1);
            assert_eq!(story.article.title, "Putin and Aliyev sign");
            assert_eq!(story.article.body, seed_body(4));
        }
        other => panic!("expected an update, got {other:?}"),
    }
    // The updated text is what copies are now compared with.
    let copy = article("b.example", "https://b.example/copy", "Copy", &seed_body(4));
    expect_duplicate(
        &dedup.check(&copy),
        &first.story().story_id,
        DuplicateReason::SameBody,
    );
    assert_eq!(dedup.len(), 1);
}

#[test]
fn the_same_article_again_is_unchanged_and_a_copy_again_is_the_same_record() {
    let mut dedup = dedup();
    let original = article("a.example", "https://a.example/s", "S", &seed_body(1));
    let copy = article("b.example", "https://b.example/s", "S", &seed_body(1));
    dedup.check(&original);
    let first_copy = dedup.check(&copy);
    let again = dedup.check(&original);
    assert!(matches!(&again, Verdict::Unchanged(story) if story.carriers.len() == 2));
    assert_eq!(dedup.check(&copy), first_copy);
}

#[test]
fn stories_leave_the_window_after_its_time() {
    let config = DedupConfig {
        window_secs: 24 * 3600,
        ..DedupConfig::default()
    };
    let mut dedup = Deduplicator::new(config);
    dedup.check(&article(
        "a.example",
        "https://a.example/s",
        "S",
        &seed_body(0),
    ));
    let mut later = article("c.example", "https://c.example/t", "T", &seed_body(1));
    later.fetched_at = at_hours(23);
    dedup.check(&later);
    assert_eq!(dedup.len(), 2);
    let mut copy = article("b.example", "https://b.example/s", "S", &seed_body(0));
    copy.fetched_at = at_hours(25);
    assert!(
        matches!(dedup.check(&copy), Verdict::New(_)),
        "the original left the window"
    );
    assert_eq!(dedup.len(), 2);
}

#[test]
fn a_copy_keeps_its_story_in_the_window() {
    let config = DedupConfig {
        window_secs: 24 * 3600,
        ..DedupConfig::default()
    };
    let mut dedup = Deduplicator::new(config);
    let first = dedup.check(&article(
        "a.example",
        "https://a.example/s",
        "S",
        &seed_body(0),
    ));
    let mut copy = article("b.example", "https://b.example/s", "S", &seed_body(0));
    copy.fetched_at = at_hours(20);
    dedup.check(&copy);
    let mut third = article("c.example", "https://c.example/s", "S", &seed_body(0));
    third.fetched_at = at_hours(40);
    expect_duplicate(
        &dedup.check(&third),
        &first.story().story_id,
        DuplicateReason::SameBody,
    );
}

#[test]
fn the_least_recently_touched_story_goes_when_the_count_is_full() {
    let config = DedupConfig {
        max_stories: 2,
        ..DedupConfig::default()
    };
    let mut dedup = Deduplicator::new(config);
    let seeds = seeds();
    for (index, (title, body)) in seeds.iter().take(3).enumerate() {
        let mut item = article(
            "a.example",
            &format!("https://a.example/{index}"),
            title,
            body,
        );
        item.fetched_at = at_hours(index as i64);
        dedup.check(&item);
    }
    assert_eq!(dedup.len(), 2);
    let mut copy_of_first = article("b.example", "https://b.example/0", "T", &seeds[0].1);
    copy_of_first.fetched_at = at_hours(4);
    assert!(matches!(dedup.check(&copy_of_first), Verdict::New(_)));
    let mut copy_of_third = article("b.example", "https://b.example/2", "T", &seeds[2].1);
    copy_of_third.fetched_at = at_hours(5);
    assert!(matches!(
        dedup.check(&copy_of_third),
        Verdict::Duplicate { .. }
    ));
}

#[test]
fn short_bodies_are_never_matched_on_content() {
    let mut dedup = dedup();
    let teaser = "Watch the video on our website.";
    dedup.check(&article("a.example", "https://a.example/v1", "One", teaser));
    let other = dedup.check(&article("a.example", "https://a.example/v2", "Two", teaser));
    assert!(matches!(other, Verdict::New(_)));
}

#[test]
fn an_earlier_version_arriving_again_does_not_undo_the_update() {
    let mut dedup = dedup();
    let url = "https://a.example/live/baku";
    let first = article("a.example", url, "v1", &seed_body(0));
    let mut second = article("a.example", url, "v2", &seed_body(4));
    second.fetched_at = at_hours(1);
    dedup.check(&first);
    dedup.check(&second);
    let mut replayed_first = first.clone();
    replayed_first.fetched_at = at_hours(3);
    match dedup.check(&replayed_first) {
        Verdict::Unchanged(story) => {
            assert_eq!(story.revision, 2);
            assert_eq!(story.article.title, "v2");
        }
        other => panic!("expected unchanged, got {other:?}"),
    }
    // A genuinely new text later is the next revision.
    let mut third = article("a.example", url, "v3", &seed_body(3));
    third.fetched_at = at_hours(4);
    assert!(matches!(dedup.check(&third), Verdict::Updated(story) if story.revision == 3));
}
