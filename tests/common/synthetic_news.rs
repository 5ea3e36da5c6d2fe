//! A stream of synthetic news for crash and fault tests: outlets with RSS
//! feeds and article pages written to a folder (served by the fixture
//! server), generated from a seed. Each event has its own invented names
//! (people, places, an organisation, a project), so that its stories
//! belong together whatever order they arrive in, and each story has
//! sentences of its own, so that no two are copies, except the verbatim
//! syndicated copies made on purpose (reported as duplicates).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const OUTLETS: &[&str] = &[
    "harbor-gazette",
    "valley-post",
    "north-star-daily",
    "river-city-times",
    "summit-herald",
    "coastal-wire",
    "plains-journal",
    "metro-dispatch",
];

const SYLLABLES: &[&str] = &[
    "kor", "val", "mir", "tes", "dan", "lor", "vek", "sar", "nim", "bel", "tor", "quen", "zar",
    "fen", "gal", "hur", "jor", "lis", "mon", "pra", "rud", "sel", "tam", "ulv", "wes", "yor",
    "bra", "cil", "dor", "ep", "fal", "gri", "hol", "ist", "kam", "lun",
];

/// Sentences every event can tell: {P} a person, {Q} a second person, {C}
/// a city, {O} an organisation, {T} the event's subject, {N} a number.
const EVENT_SENTENCES: &[&str] = &[
    "Officials in {C} confirmed on Tuesday that the dispute over {T} had reached the regional council.",
    "{P}, who has led {O} for six years, said the decision on {T} would not be delayed again.",
    "Residents of {C} gathered outside the offices of {O} to demand answers about {T}.",
    "According to {Q}, the cost of {T} has risen by {N} million over the past year.",
    "{O} published a report saying that {T} would affect roughly {N} households in {C}.",
    "The mayor of {C} met {P} and {Q} late into the night to discuss {T}.",
    "Critics of {O} argue that {T} was approved without a proper public consultation.",
    "{Q} told reporters in {C} that the next vote on {T} is expected within weeks.",
    "Engineers working for {O} warned that {T} could face further setbacks in {C}.",
    "Supporters of {P} say {T} will bring {N} new jobs to the area around {C}.",
    "Documents seen by reporters show that {O} considered abandoning {T} in {C} last spring.",
    "{P} rejected claims by {Q} that {O} had misled the council about {T}.",
];

/// Common English words a story's own sentences are drawn from: random
/// sequences of them share no word triple with another story's, so that no
/// two stories look like copies to dedup, while their names still tie
/// them to their event.
const WORDS: &[&str] = &[
    "government",
    "people",
    "market",
    "family",
    "water",
    "school",
    "county",
    "money",
    "week",
    "night",
    "report",
    "company",
    "service",
    "health",
    "growth",
    "police",
    "worker",
    "minister",
    "budget",
    "housing",
    "energy",
    "river",
    "harbour",
    "bridge",
    "railway",
    "station",
    "doctor",
    "hospital",
    "teacher",
    "student",
    "farmer",
    "harvest",
    "weather",
    "storm",
    "winter",
    "summer",
    "election",
    "campaign",
    "voter",
    "contract",
    "builder",
    "engineer",
    "inspector",
    "permit",
    "license",
    "lawyer",
    "court",
    "judge",
    "hearing",
    "appeal",
    "committee",
    "chairman",
    "member",
    "council",
    "mayor",
    "district",
    "village",
    "street",
    "traffic",
    "parking",
    "museum",
    "library",
    "festival",
    "concert",
    "theatre",
    "stadium",
    "league",
    "season",
    "coach",
    "player",
    "ticket",
    "price",
    "inflation",
    "salary",
    "pension",
    "tax",
    "subsidy",
    "grant",
    "loan",
    "bank",
    "investor",
    "factory",
    "warehouse",
    "shipment",
    "supplier",
    "customer",
    "retailer",
    "shop",
    "restaurant",
    "kitchen",
    "garden",
    "forest",
    "mountain",
    "valley",
    "coast",
    "island",
    "airport",
    "flight",
    "passenger",
    "driver",
    "truck",
    "cable",
    "pipeline",
    "reservoir",
    "pump",
    "turbine",
    "network",
    "signal",
    "software",
    "computer",
    "survey",
    "study",
    "scientist",
    "laboratory",
    "sample",
    "quickly",
    "slowly",
    "openly",
    "quietly",
    "sharply",
    "formally",
    "recently",
    "finally",
    "announced",
    "rejected",
    "approved",
    "delayed",
    "questioned",
    "promised",
    "demanded",
    "revealed",
    "signed",
    "cancelled",
    "expanded",
    "reduced",
    "inspected",
    "visited",
    "criticised",
    "praised",
    "new",
    "old",
    "large",
    "small",
    "public",
    "private",
    "local",
    "national",
    "regional",
    "annual",
    "early",
    "late",
    "urgent",
    "careful",
    "difficult",
    "expensive",
    "cheap",
    "modern",
    "historic",
    "after",
    "before",
    "during",
    "despite",
    "without",
    "against",
    "between",
    "under",
    "over",
    "and",
    "but",
    "while",
    "because",
    "although",
    "the",
    "a",
    "its",
    "their",
    "this",
    "that",
];

const DAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

const TITLES: &[&str] = &[
    "{C} braces for new twist in {T} row",
    "{P} defends {O} over {T}",
    "What the latest turn in {T} means for {C}",
    "{Q} challenges {O} as {T} stalls",
    "Council in {C} split over {T}",
    "{O} under pressure as {T} costs climb",
    "Residents of {C} demand answers on {T}",
];

/// One generated story (an item in an outlet's feed).
#[derive(Debug, Clone)]
pub struct SyntheticStory {
    pub event: usize,
    pub outlet: &'static str,
    /// Path under the server root, e.g. `/harbor-gazette/articles/e3-s1.html`.
    pub path: String,
    pub title: String,
    pub paragraphs: Vec<String>,
    pub published: chrono::DateTime<chrono::Utc>,
    /// `Some(original path)` for a verbatim syndicated copy.
    pub copy_of: Option<String>,
}

/// The whole generated stream.
pub struct SyntheticNews {
    pub stories: Vec<SyntheticStory>,
}

struct EventNames {
    person: String,
    second: String,
    city: String,
    organisation: String,
    subject: String,
}

fn name(rng: &mut fastrand::Rng, syllables: usize) -> String {
    let mut word = String::new();
    for _ in 0..syllables {
        word.push_str(SYLLABLES[rng.usize(..SYLLABLES.len())]);
    }
    let mut chars = word.chars();
    let first = chars.next().unwrap().to_ascii_uppercase();
    std::iter::once(first).chain(chars).collect()
}

fn fill(template: &str, names: &EventNames, number: u32, day: &str) -> String {
    template
        .replace("{P}", &names.person)
        .replace("{Q}", &names.second)
        .replace("{C}", &names.city)
        .replace("{O}", &names.organisation)
        .replace("{T}", &names.subject)
        .replace("{N}", &number.to_string())
        .replace("{D}", day)
}

impl SyntheticNews {
    /// `events` events of `per_event` stories each, spread over the
    /// outlets, plus a verbatim copy on another outlet of every
    /// `copy_every`-th story. Same seed, same stream.
    pub fn generate(seed: u64, events: usize, per_event: usize, copy_every: usize) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let start = chrono::DateTime::parse_from_rfc3339("2024-09-02T06:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut used = std::collections::BTreeSet::new();
        let mut fresh = |rng: &mut fastrand::Rng, syllables: usize| loop {
            let candidate = name(rng, syllables);
            if used.insert(candidate.clone()) {
                return candidate;
            }
        };
        let mut stories = Vec::new();
        let mut counter = 0usize;
        for event in 0..events {
            let names = EventNames {
                person: format!("{} {}", fresh(&mut rng, 2), fresh(&mut rng, 3)),
                second: format!("{} {}", fresh(&mut rng, 2), fresh(&mut rng, 3)),
                city: fresh(&mut rng, 3),
                organisation: format!("the {} Authority", fresh(&mut rng, 3)),
                subject: format!("the {} {} project", fresh(&mut rng, 3), fresh(&mut rng, 2)),
            };
            let event_sentences: Vec<String> = {
                let mut picks: Vec<usize> = (0..EVENT_SENTENCES.len()).collect();
                rng.shuffle(&mut picks);
                picks
                    .iter()
                    .take(6)
                    .map(|p| {
                        let day = DAYS[rng.usize(..DAYS.len())];
                        fill(EVENT_SENTENCES[*p], &names, rng.u32(2..900), day)
                    })
                    .collect()
            };
            for story in 0..per_event {
                let outlet = OUTLETS[(event + story) % OUTLETS.len()];
                // Two of the event's own sentences (shared with the event's
                // other stories, numbers and all), then sentences of the
                // story's own, each naming someone or something of the event.
                // Consecutive pairs, so that no two of an event's first six
                // stories share both: two that did came out near-duplicates
                // now and then (one pair in ~300 stories).
                let mut paragraphs = Vec::new();
                for pick in [story, story + 1] {
                    paragraphs.push(event_sentences[pick % event_sentences.len()].clone());
                }
                let anchors = [
                    names.person.as_str(),
                    names.second.as_str(),
                    names.city.as_str(),
                    names.organisation.as_str(),
                    names.subject.as_str(),
                ];
                for _ in 0..3 {
                    let mut paragraph = String::new();
                    for _ in 0..3 {
                        let mut words: Vec<String> = (0..rng.usize(9..14))
                            .map(|_| WORDS[rng.usize(..WORDS.len())].to_string())
                            .collect();
                        let at = rng.usize(1..words.len());
                        words.insert(at, anchors[rng.usize(..anchors.len())].to_string());
                        let sentence = words.join(" ");
                        let mut chars = sentence.chars();
                        let first = chars.next().unwrap().to_ascii_uppercase();
                        paragraph
                            .push_str(&std::iter::once(first).chain(chars).collect::<String>());
                        paragraph.push_str(". ");
                    }
                    paragraphs.push(paragraph.trim_end().to_string());
                }
                let day = DAYS[rng.usize(..DAYS.len())];
                let title = fill(TITLES[rng.usize(..TITLES.len())], &names, 0, day);
                let published = start
                    + chrono::Duration::minutes((event * 7 + story * 13) as i64 % 600)
                    + chrono::Duration::seconds(rng.i64(0..60));
                let path = format!("/{outlet}/articles/e{event}-s{story}.html");
                counter += 1;
                let copy = (copy_every > 0 && counter.is_multiple_of(copy_every)).then(|| {
                    let other = OUTLETS[(event + story + 3) % OUTLETS.len()];
                    SyntheticStory {
                        event,
                        outlet: other,
                        path: format!("/{other}/articles/e{event}-s{story}-syndicated.html"),
                        title: title.clone(),
                        paragraphs: paragraphs.clone(),
                        published: published + chrono::Duration::minutes(20),
                        copy_of: Some(path.clone()),
                    }
                });
                stories.push(SyntheticStory {
                    event,
                    outlet,
                    path,
                    title,
                    paragraphs,
                    published,
                    copy_of: None,
                });
                stories.extend(copy);
            }
        }
        Self { stories }
    }

    /// Writes the outlets (feeds and pages) of `stories` under `root`, with
    /// `{{BASE}}` for the server to fill in, and the feed list beside it
    /// (`base_url` written in). Returns the feed list's path.
    pub fn write_site(stories: &[SyntheticStory], root: &Path, base_url: &str) -> PathBuf {
        let mut by_outlet: BTreeMap<&str, Vec<&SyntheticStory>> = BTreeMap::new();
        for story in stories {
            by_outlet.entry(story.outlet).or_default().push(story);
        }
        let mut feed_list = String::new();
        for (outlet, items) in &by_outlet {
            let dir = root.join(outlet).join("articles");
            std::fs::create_dir_all(&dir).unwrap();
            let mut feed = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
                 <title>{outlet}</title><link>{{{{BASE}}}}/{outlet}/</link>\
                 <description>News from {outlet}</description><language>en</language>\n"
            );
            for story in items {
                let url = format!("{{{{BASE}}}}{}", story.path);
                let _ = writeln!(
                    feed,
                    "<item><title>{}</title><link>{url}</link><guid isPermaLink=\"true\">{url}</guid>\
                     <pubDate>{}</pubDate><description>{}</description></item>",
                    story.title,
                    story.published.to_rfc2822(),
                    story.paragraphs[0]
                );
                let body: String = story
                    .paragraphs
                    .iter()
                    .map(|p| format!("<p>{p}</p>\n"))
                    .collect();
                let page = format!(
                    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
                     <title>{title}</title><link rel=\"canonical\" href=\"{url}\">\
                     <meta property=\"article:published_time\" content=\"{published}\">\
                     </head><body><header><nav><a href=\"/\">Home</a></nav></header>\
                     <article><h1>{title}</h1>\n{body}</article>\
                     <footer>Copyright {outlet}</footer></body></html>\n",
                    title = story.title,
                    published = story.published.to_rfc3339(),
                );
                let file = root.join(story.path.trim_start_matches('/'));
                std::fs::write(file, page).unwrap();
            }
            feed.push_str("</channel></rss>\n");
            std::fs::write(root.join(outlet).join("feed.xml"), feed).unwrap();
            let _ = write!(
                feed_list,
                "[[feeds]]\nurl = \"{base_url}/{outlet}/feed.xml\"\noutlet = \"{outlet}\"\n\n"
            );
        }
        let path = root.join("feeds.toml");
        std::fs::write(&path, feed_list).unwrap();
        path
    }
}
