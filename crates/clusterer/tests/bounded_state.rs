//! Bounded memory in the core: retired events are freed with their members,
//! and the vocabulary forgets terms the stream no longer uses.

use chrono::{DateTime, Duration, TimeZone, Utc};
use newsflow_clusterer::{Clusterer, ClustererConfig, Document};
use newsflow_model::EventStatus;

fn doc(id: usize, text: String, time: DateTime<Utc>) -> Document {
    Document {
        id: format!("s{id}"),
        title: String::new(),
        body: text,
        time: Some(time),
        outlet: "outlet".into(),
        url: format!("https://example.org/{id}"),
    }
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

/// Story `i` of a stream whose topic changes every 5 stories, one story an
/// hour, each carrying a code seen nowhere else (as numbers and typos are).
fn story(i: usize) -> Document {
    let topic = i / 5;
    doc(
        i,
        format!(
            "Council{topic} votes on plan{topic} for district{topic} budget{topic}; \
             reference code{i}x{} in the minutes",
            i * 7919
        ),
        start() + Duration::hours(i as i64),
    )
}

#[test]
fn retired_events_are_freed_with_their_members() {
    let config = ClustererConfig {
        quiet_period_secs: 86_400,
        late_arrival_secs: 2 * 86_400,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let mut held = Vec::new();
    for i in 0..2_000 {
        clusterer.add(story(i));
        if i % 24 == 23 {
            let now = start() + Duration::hours(i as i64);
            clusterer.close_quiet(now);
            held.push((clusterer.held_events(), clusterer.held_stories()));
        }
    }
    assert!(clusterer.records_count() >= 2_000 / 5);
    // Events of the last quiet + late-arrival period (and a day of slack)
    // are held, at 24/5 events a day; everything older was freed.
    let (events, stories) = *held.last().unwrap();
    assert!(events <= 5 * 24 / 5 + 5, "{events} events held");
    assert!(stories <= 5 * 24, "{stories} stories held");
    // A freed story is forgotten; one still in its window is not.
    assert!(clusterer.member("s0").is_none());
    assert!(clusterer.member("s1999").is_some());
    // Closed events are held through the late-arrival period, then freed.
    let last = start() + Duration::hours(1_999);
    clusterer.close_quiet(last + Duration::days(2));
    assert!(clusterer.held_events() > 0);
    assert_eq!(clusterer.active_stories(), 0);
    clusterer.close_quiet(last + Duration::days(4));
    assert_eq!((clusterer.held_events(), clusterer.held_stories()), (0, 0));
    assert!(clusterer.records().is_empty());
}

#[test]
fn the_vocabulary_stays_bounded_on_an_endless_stream() {
    let config = ClustererConfig {
        quiet_period_secs: 86_400,
        late_arrival_secs: 86_400,
        vocabulary_decay_documents: 500,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let mut sizes = Vec::new();
    for i in 0..6_000 {
        clusterer.add(story(i));
        if i % 24 == 23 {
            clusterer.close_quiet(start() + Duration::hours(i as i64));
        }
        if i % 1_000 == 999 {
            sizes.push(clusterer.known_terms());
        }
    }
    // Each story brings three new terms: without forgetting, 18,000 terms.
    let largest = *sizes.iter().max().unwrap();
    assert!(largest < 5_000, "vocabulary sizes {sizes:?}");
    assert!(
        sizes[5] <= sizes[1] + sizes[1] / 5,
        "vocabulary grows: {sizes:?}"
    );
}

#[test]
fn forgetting_rare_terms_keeps_the_same_events() {
    // The same stream with and without decay groups stories the same way.
    let config = |decay| ClustererConfig {
        quiet_period_secs: 86_400,
        late_arrival_secs: 86_400,
        vocabulary_decay_documents: decay,
        ..ClustererConfig::default()
    };
    let mut decaying = Clusterer::new(config(50));
    let mut keeping = Clusterer::new(config(0));
    let (mut decaying_events, mut keeping_events) = (Vec::new(), Vec::new());
    for i in 0..1_000 {
        decaying_events.push(decaying.add(story(i)).event_id);
        keeping_events.push(keeping.add(story(i)).event_id);
        if i % 24 == 23 {
            let now = start() + Duration::hours(i as i64);
            decaying.close_quiet(now);
            keeping.close_quiet(now);
        }
    }
    let same = (0..1_000usize)
        .filter(|&i| {
            // Placed with the first story of its topic, or not, in both.
            let partner = i - i % 5;
            (decaying_events[i] == decaying_events[partner])
                == (keeping_events[i] == keeping_events[partner])
        })
        .count();
    assert!(same >= 990, "only {same} of 1000 grouped alike");
    assert!(decaying.known_terms() < keeping.known_terms() / 2);
}

#[test]
fn a_story_of_a_retired_event_sent_again_changes_nothing_for_a_while() {
    let config = ClustererConfig {
        quiet_period_secs: 86_400,
        late_arrival_secs: 2 * 86_400,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let first = clusterer.add(story(0));
    clusterer.close_quiet(start() + Duration::days(2));
    clusterer.close_quiet(start() + Duration::days(4));
    assert_eq!(clusterer.held_events(), 0, "retired and freed");
    // Sent again (a copy found late): the same event, no change, no new one.
    let again = clusterer.add(story(0));
    assert_eq!(again.event_id, first.event_id);
    assert!(again.changed.is_empty());
    assert_eq!(clusterer.held_events(), 0);
    // The memory of it is bounded too: a late-arrival period later it is
    // forgotten, and the story would be a new one.
    clusterer.close_quiet(start() + Duration::days(7));
    let much_later = clusterer.add(story(0));
    assert_eq!(much_later.changed.len(), 1);
    assert_eq!(clusterer.held_events(), 1);
}

/// A document of `words` words seen nowhere else (a hostile page of
/// made-up words, or of numbers).
fn made_up_words(seed: usize, words: usize) -> String {
    (0..words)
        .map(|w| format!("zq{seed}x{w}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Story `i`'s time in a stream of a story a minute.
fn minute(i: usize) -> DateTime<Utc> {
    start() + Duration::minutes(i as i64)
}

/// Adds `document` and, as the stage does after each story, ticks at its
/// time when something is due; returns the records the tick closed.
fn add_and_tick(clusterer: &mut Clusterer, document: Document) -> usize {
    let time = document.time.expect("timed stories");
    clusterer.add(document);
    if clusterer.due_with_slack(time, Duration::seconds(60)) {
        clusterer.close_quiet(time).len()
    } else {
        0
    }
}

#[test]
fn a_flood_of_made_up_words_keeps_the_vocabulary_near_its_cap() {
    // Every document opens an event, which keeps its heaviest terms (and
    // they stay known while it is held): few here, so that the bound seen
    // is the vocabulary's own.
    let config = ClustererConfig {
        max_vocabulary_terms: 20_000,
        max_event_terms: 10,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let mut largest = 0;
    // 400 documents of 1,000 new words each: 400,000 terms, far fewer
    // documents than the decay every 50,000 would wait for.
    for i in 0..400 {
        clusterer.add(doc(i, made_up_words(i, 1_000), minute(i)));
        largest = largest.max(clusterer.known_terms());
    }
    // The cap, plus what the documents between two early decays bring,
    // plus the terms the 400 held events use.
    assert!(
        largest <= 20_000 + 26 * 1_000 + 400 * 10,
        "the vocabulary reached {largest} terms"
    );
}

#[test]
fn one_huge_document_adds_at_most_its_word_budget() {
    let config = ClustererConfig {
        max_document_words: 5_000,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let mut text = made_up_words(1, 100_000);
    // A run-together string of a megabyte is one "word" of no use.
    text.push(' ');
    text.push_str(&"glued".repeat(200_000));
    clusterer.add(doc(1, text, start()));
    assert!(
        clusterer.known_terms() <= 5_000,
        "one document added {} terms",
        clusterer.known_terms()
    );
}

#[test]
fn a_stream_faster_than_events_fall_due_is_held_within_its_cap() {
    // A story a minute, each on its own topic: by time alone nothing would
    // be retired for weeks.
    let config = ClustererConfig {
        max_held_stories: 1_000,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let mut closed_early = 0;
    let unique = |i: usize| {
        doc(
            i,
            format!("Report {i}: {}", made_up_words(i, 40)),
            minute(i),
        )
    };
    for i in 0..5_000 {
        closed_early += add_and_tick(&mut clusterer, unique(i));
        assert!(
            clusterer.held_stories() <= 1_000,
            "{} stories held after story {i}",
            clusterer.held_stories()
        );
        assert!(clusterer.retired_stories_remembered() <= 1_000);
    }
    // Each event retired early was open, and said it closed.
    assert!(closed_early >= 4_000, "{closed_early} closed records");
    // None fell due by time, so every story not held was retired early,
    // each in an event of its own; the count says so.
    let early = clusterer.early_retirements();
    assert_eq!(early.stories, 5_000 - clusterer.held_stories() as u64);
    assert_eq!(early.events, early.stories);
    // The newest retired story, sent again, changes nothing.
    let newest_retired = (0..5_000)
        .rev()
        .find(|&i| clusterer.is_retired_story(&format!("s{i}")))
        .expect("early retirements are remembered");
    let again = clusterer.add(unique(newest_retired));
    assert!(again.changed.is_empty());
    // The stories held are the newest ones.
    assert!(clusterer.event_of("s4999").is_some());
    assert!(clusterer.event_of("s0").is_none());
}

#[test]
fn stories_of_made_up_words_cannot_pin_the_vocabulary_past_its_cap() {
    // Each story opens an event of its own, which keeps its 200 heaviest
    // terms, all new: decays cannot free terms a held event uses, and the
    // cap on held stories is far away.
    let config = ClustererConfig {
        max_vocabulary_terms: 5_000,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let mut largest = 0;
    for i in 0..600 {
        add_and_tick(&mut clusterer, doc(i, made_up_words(i, 300), minute(i)));
        largest = largest.max(clusterer.known_terms());
    }
    // Four times the cap before events are retired for it, plus what the
    // documents between two looks bring.
    assert!(
        largest <= 4 * 5_000 + 26 * 300,
        "the vocabulary reached {largest} terms"
    );
    assert!(
        clusterer.event_of("s599").is_some(),
        "the newest story is held"
    );
}

#[test]
fn closed_events_are_retired_for_capacity_before_open_ones() {
    // Archive pages fetched today open events the clock closes at once, and
    // those count as changed today; open events whose last story is a day
    // old then look older: by time alone the open ones went first, closing
    // happenings that are still taking stories.
    let config = ClustererConfig {
        max_held_stories: 100,
        ..ClustererConfig::default()
    };
    let mut clusterer = Clusterer::new(config);
    let today = start() + Duration::days(30);
    let story = |i: usize, time| doc(i, format!("Report {i}: {}", made_up_words(i, 40)), time);
    let add = |clusterer: &mut Clusterer, i: usize, time| {
        clusterer.add(story(i, time));
        // As the stage does: tick on the clock, the latest story time.
        let now = clusterer.clock().expect("timed stories");
        if clusterer.due_with_slack(now, Duration::seconds(60)) {
            clusterer.close_quiet(now);
        }
    };
    // Yesterday's news, still open.
    for i in 0..40 {
        add(
            &mut clusterer,
            i,
            today - Duration::days(1) + Duration::minutes(i as i64),
        );
    }
    // Archive pages, closed as they come.
    for i in 40..80 {
        add(
            &mut clusterer,
            i,
            today - Duration::days(20) + Duration::minutes(i as i64),
        );
    }
    // Today's news, past the cap.
    for i in 80..110 {
        add(&mut clusterer, i, today + Duration::minutes(i as i64));
    }
    assert!(
        clusterer.early_retirements().events > 0,
        "no early retirement"
    );
    assert!(clusterer.held_stories() <= 100);
    for i in (0..40).chain(80..110) {
        let record = clusterer.current_record(&format!("s{i}"));
        assert!(
            record.is_some_and(|r| r.status == EventStatus::Active),
            "open story {i} retired or closed"
        );
    }
    assert!((40..80).any(|i| clusterer.is_retired_story(&format!("s{i}"))));
}
