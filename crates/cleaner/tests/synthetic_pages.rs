//! The cleaner on small hand-written pages: one idea of chrome per test.

use newsflow_cleaner::{extract, CleanError, CleanerConfig, Extracted};

const STORY: [&str; 4] = [
    "Russia's president arrived in Baku on Monday for a two-day state visit, his first since the war in Ukraine began, and was met at the airport by the foreign minister.",
    "The two leaders discussed trade, energy and transport corridors, and the president said Moscow was ready to help Azerbaijan and Armenia sign a peace treaty.",
    "Analysts in the region said the visit, which came weeks before a planned round of talks, was meant to show that Russia still has a role in the South Caucasus.",
    "Officials from both sides signed several agreements on cooperation in agriculture, education and culture before a state dinner in the evening.",
];

/// `page` cleaned as an HTML page with the default configuration.
fn extracted(page: &str) -> Extracted {
    extract(
        page.as_bytes(),
        Some("text/html"),
        None,
        &CleanerConfig::default(),
    )
    .unwrap()
}

fn page_with_chrome() -> String {
    format!(
        r##"<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Putin visits Baku | The Caucasus Courier</title>
<meta property="og:site_name" content="The Caucasus Courier">
<meta property="og:title" content="Putin visits Baku">
<meta name="author" content="Anna Petrova">
<meta property="article:published_time" content="2024-08-19T09:30:00Z">
<link rel="canonical" href="/world/putin-baku">
</head><body>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies or manage your preferences in settings.</div>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="/politics">Politics</a> <a href="/business">Business</a></nav></header>
<main><article>
<h1>Putin visits Baku</h1>
<div class="byline">By Anna Petrova</div>
<div class="share-tools"><a href="#">Share on Facebook</a> <a href="#">Share on X</a></div>
<p>{}</p><p>{}</p>
<div class="ad-slot">Advertisement</div>
<p>{}</p><p>{}</p>
<aside class="related"><h3>Related stories</h3><ul><li><a href="/a">Armenia and Azerbaijan agree to draw border in the north, officials say</a></li>
<li><a href="/b">Peace talks to resume in Almaty next month after a pause of several weeks</a></li></ul></aside>
</article>
<section class="comments"><h3>Comments</h3><p>This is a great and very insightful article, thank you for writing it, I learned a lot.</p></section>
</main>
<footer><p>© 2024 The Caucasus Courier. All rights reserved. About us, contact, terms of use, privacy policy.</p></footer>
</body></html>"##,
        STORY[0], STORY[1], STORY[2], STORY[3]
    )
}

#[test]
fn story_text_is_kept_and_chrome_is_dropped() {
    let page = page_with_chrome();
    let article = extract(
        page.as_bytes(),
        Some("text/html"),
        Some("https://courier.example/world/putin-baku?utm_source=rss"),
        &CleanerConfig::default(),
    )
    .unwrap();
    assert_eq!(article.body, STORY.join("\n\n"));
    assert_eq!(article.title.as_deref(), Some("Putin visits Baku"));
    assert_eq!(article.byline.as_deref(), Some("Anna Petrova"));
    assert_eq!(
        article.published.map(|t| t.to_rfc3339()),
        Some("2024-08-19T09:30:00+00:00".to_string())
    );
    assert_eq!(
        article.canonical_url.as_deref(),
        Some("https://courier.example/world/putin-baku")
    );
    assert_eq!(article.site_name.as_deref(), Some("The Caucasus Courier"));
    assert_eq!(article.language.as_deref(), Some("eng"));
}

#[test]
fn a_page_of_links_is_not_an_article() {
    let items: String = (0..40)
        .map(|i| format!("<li><a href=\"/story/{i}\">Headline number {i} about something that happened somewhere today</a></li>"))
        .collect();
    let page =
        format!("<html><head><title>World news</title></head><body><ul>{items}</ul></body></html>");
    let error = extract(
        page.as_bytes(),
        Some("text/html"),
        None,
        &CleanerConfig::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&error, CleanError::NotAnArticle { reason } if reason.contains("index page")),
        "{error}"
    );
}

#[test]
fn a_short_page_is_not_an_article() {
    let page =
        "<html><body><p>Coming soon: our new site about everything that matters.</p></body></html>";
    let error = extract(page.as_bytes(), None, None, &CleanerConfig::default()).unwrap_err();
    assert!(
        matches!(&error, CleanError::NotAnArticle { reason } if reason.contains("too short")),
        "{error}"
    );
}

#[test]
fn a_story_split_into_wrapped_sections_is_kept_whole() {
    // Page builders wrap each part of the story in its own column: the best
    // section alone is only part of the story, and the wrappers around it
    // hold the same text, so the one that holds the rest is two levels up.
    let section = |paragraphs: &[&str]| {
        let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
        format!(
            r#"<div class="row"><div class="col"><section class="part">{body}</section></div></div>"#
        )
    };
    let page = format!(
        r#"<html><head><title>Putin visits Baku</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<div class="page"><h1>Putin visits Baku</h1>{}{}</div>
<footer><p>© 2024 The Caucasus Courier. All rights reserved.</p></footer></body></html>"#,
        section(&STORY[..3]),
        section(&STORY[3..]),
    );
    let article = extracted(&page);
    for paragraph in STORY {
        assert!(
            article.body.contains(paragraph),
            "missing: {paragraph}\n{}",
            article.body
        );
    }
    assert!(!article.body.contains("All rights reserved"));
}

#[test]
fn boilerplate_blocks_in_other_languages_are_dropped() {
    // The same story with the blocks German, French and Polish templates
    // print inside the story's container: a "more on this" list under a
    // heading, a share line, and the comments.
    let page = format!(
        r#"<html lang="de"><head><title>Putin visits Baku</title></head><body>
<div class="content"><h1>Putin visits Baku</h1><p>{}</p><p>{}</p><p>Teilen</p><p>{}</p><p>{}</p>
<div><h3>Mehr zum Thema</h3><p>Armenia and Azerbaijan agree to draw their border in the north, officials say after a long night.</p></div>
<h3>Czytaj także:</h3><p>Peace talks to resume in Almaty next month after a pause of several weeks, the ministry said.</p>
<h2>Commentaires (2)</h2><p>Un article très intéressant, merci beaucoup pour ce travail de fond sur la région.</p>
</div></body></html>"#,
        STORY[0], STORY[1], STORY[2], STORY[3]
    );
    let article = extracted(&page);
    for paragraph in STORY {
        assert!(
            article.body.contains(paragraph),
            "missing: {paragraph}\n{}",
            article.body
        );
    }
    for chrome in [
        "Teilen",
        "Mehr zum Thema",
        "Armenia and Azerbaijan agree",
        "Czytaj",
        "Peace talks",
        "Commentaires",
        "très intéressant",
    ] {
        assert!(
            !article.body.contains(chrome),
            "kept: {chrome}\n{}",
            article.body
        );
    }
}

#[test]
fn the_lead_paragraph_between_headline_and_body_is_kept() {
    let lead = "The president's first visit since the war began was meant to show that Moscow still matters in the South Caucasus, and it came only weeks before a planned round of peace talks between the two neighbours.";
    let page = format!(
        r#"<html><head><title>Putin visits Baku</title></head><body>
<header class="article-header"><h1>Putin visits Baku</h1><p class="dek">A short subtitle of one line.</p>
<div class="byline">By Anna Petrova, 19 August 2024</div><p class="teaser-text">{lead}</p></header>
<div class="story"><p>{}</p><p>{}</p><p>{}</p><p>{}</p></div>
<aside><p>Armenia and Azerbaijan agree to draw their border in the north, officials say after a long night of talks.</p></aside>
</body></html>"#,
        STORY[0], STORY[1], STORY[2], STORY[3]
    );
    let article = extracted(&page);
    assert!(article.body.starts_with(lead), "{}", article.body);
    assert!(article.body.ends_with(STORY[3]), "{}", article.body);
    for chrome in [
        "A short subtitle",
        "By Anna Petrova",
        "Armenia and Azerbaijan",
    ] {
        assert!(
            !article.body.contains(chrome),
            "kept: {chrome}\n{}",
            article.body
        );
    }
}

#[test]
fn a_paragraph_wrapped_in_a_chrome_named_span_is_kept() {
    // Text pasted from another site keeps its class names; a span named for
    // "tags" that holds a whole paragraph is the paragraph.
    let page = format!(
        r#"<html><head><title>Putin visits Baku</title></head><body>
<div class="article-body"><h1>Putin visits Baku</h1><p>{}</p>
<p><span class="event-details-content-tags">{}</span></p><p>{}</p><p><span class="tags">Baku, Russia</span></p><p>{}</p></div>
</body></html>"#,
        STORY[0], STORY[1], STORY[2], STORY[3]
    );
    let article = extracted(&page);
    for paragraph in STORY {
        assert!(
            article.body.contains(paragraph),
            "missing: {paragraph}\n{}",
            article.body
        );
    }
    assert!(!article.body.contains("Baku, Russia"), "{}", article.body);
}

/// A story the page builder splits into sections directly under `<body>`,
/// with a table of figures between two of them and a table of facts after
/// the last; then a block of other stories and a footer.
fn story_in_body_sections(after: &str) -> String {
    let section = |paragraphs: &[&str]| {
        let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
        format!(
            r#"<div class="band"><div class="container"><div class="col">{body}</div></div></div>"#
        )
    };
    format!(
        r#"<html><head><title>Putin visits Baku</title></head><body>
<div class="band"><div class="container"><h1>Putin visits Baku</h1></div></div>
{}
<div class="band figures"><div class="container"><table><tr><th>Agreements signed</th><td>Twelve</td></tr><tr><th>Length of the visit</th><td>Two days</td></tr></table></div></div>
{}
{after}
<div class="more"><h2>Related stories</h2><p>Armenia and Azerbaijan sign a border protocol after a year of talks between the two governments in Almaty.</p></div>
<footer><p>© 2024 The Caucasus Courier. All rights reserved.</p></footer></body></html>"#,
        section(&STORY[..2]),
        section(&STORY[2..]),
    )
}

#[test]
fn a_story_split_into_sections_under_the_body_is_kept_whole() {
    let facts = r#"<div class="band"><div class="container"><table><tr><th>Population of Baku</th><td>2.3 million</td></tr><tr><th>Founded</th><td>Before the 12th century</td></tr></table></div></div>"#;
    let article = extract(
        story_in_body_sections(facts).as_bytes(),
        Some("text/html"),
        None,
        &CleanerConfig::default(),
    )
    .unwrap();
    for needle in STORY
        .iter()
        .copied()
        .chain(["Agreements signed", "Population of Baku"])
    {
        assert!(
            article.body.contains(needle),
            "missing: {needle}\n{}",
            article.body
        );
    }
    assert!(
        !article.body.contains("border protocol"),
        "{}",
        article.body
    );
    assert!(!article.body.contains("All rights reserved"));
}

#[test]
fn a_line_after_the_story_that_is_neither_prose_nor_a_table_is_left_out() {
    let copyright = r#"<div class="band"><div class="container">Copyright: Caucasus Courier Media Group</div></div>"#;
    let article = extract(
        story_in_body_sections(copyright).as_bytes(),
        Some("text/html"),
        None,
        &CleanerConfig::default(),
    )
    .unwrap();
    assert!(article.body.contains(STORY[3]), "{}", article.body);
    assert!(!article.body.contains("Copyright"), "{}", article.body);
}

#[test]
fn a_menu_pasted_into_a_post_does_not_make_it_an_index_page() {
    // The post's container is mostly link text, all of it in a menu widget
    // (chrome by name) that the body leaves out: the post is prose.
    let menu: String = (0..60)
        .map(|i| format!(r#"<li><a href="/breed/{i}">Breed number {i} puppies</a></li>"#))
        .collect();
    let page = format!(
        r#"<html><head><title>Welcome</title></head><body>
<article class="entry-content"><h1>Welcome</h1><p>{}</p><p>{}</p>
<div class="sidebar-widget"><ul>{menu}</ul></div></article></body></html>"#,
        STORY[0], STORY[1]
    );
    let article = extracted(&page);
    assert!(article.body.contains(STORY[1]));
    assert!(!article.body.contains("Breed number"));
}

#[test]
fn the_next_posts_of_a_thread_are_followed_but_not_the_column_after_it() {
    // Each post nests deep in its own `article.post`; the opening post
    // scores best, the replies are built the same way. The box after the
    // thread is prose too, but not built like a post.
    let post = |text: &str| {
        format!(
            r#"<article class="post"><div class="inner"><div class="cell"><div class="main"><div class="content"><div class="body"><p>{text}</p></div></div></div></div></div></article>"#
        )
    };
    let page = format!(
        r#"<html><head><title>Putin visits Baku</title></head><body><div class="page"><div class="thread">
<h1>Putin visits Baku</h1><div class="posts">{}{}{}</div></div>
<div class="about"><p>The Caucasus Courier is an independent newspaper founded in 1998 by a group of journalists from Tbilisi, Baku and Yerevan.</p></div></div></body></html>"#,
        post(&format!("{} {}", STORY[0], STORY[1])),
        post(STORY[2]),
        post(STORY[3]),
    );
    let article = extracted(&page);
    for paragraph in STORY {
        assert!(
            article.body.contains(paragraph),
            "missing: {paragraph}\n{}",
            article.body
        );
    }
    assert!(
        !article.body.contains("independent newspaper"),
        "{}",
        article.body
    );
}

/// A question over its answer: the answer scores best, the question
/// stands between the headline and it in a container of its own, in
/// paragraphs too short to be taken for a standfirst one by one.
fn question_and_answer_page(title: &str) -> String {
    format!(
        r#"<html><head><title>{title}</title></head><body><div class="page">
<div class="header"><h1>Putin visits Baku</h1></div>
<div class="main"><div class="question"><div class="text"><p>{}</p><p>It was his third trip abroad this year and his first to the region.</p></div></div>
<div class="answers"><div class="answer"><div class="text"><p>{}</p><p>{}</p><p>{}</p><p>{}</p><p>{}</p></div></div></div></div>
</div></body></html>"#,
        STORY[0], STORY[1], STORY[2], STORY[3],
        "Both governments described the visit as a success, and the markets in Baku reacted calmly, with the manat unchanged against the dollar by the end of the day on Tuesday.",
        "The talks will continue next month in Moscow, where the foreign ministers of both countries are expected to prepare a second visit, according to officials who spoke on condition of anonymity."
    )
}

#[test]
fn the_opening_part_in_its_own_container_above_the_best_one_is_kept() {
    let page = question_and_answer_page("Putin visits Baku");
    let article = extracted(&page);
    assert!(
        article.body.starts_with(STORY[0]),
        "the opening part comes first:\n{}",
        article.body
    );
    assert!(article.body.contains(STORY[3]));
}

#[test]
fn the_only_headline_anchors_the_story_when_it_is_worded_unlike_the_title() {
    let page = question_and_answer_page("Baku trip: a second look | The Caucasus Courier forum");
    let article = extracted(&page);
    assert!(
        article.body.starts_with(STORY[0]),
        "the opening part comes first:\n{}",
        article.body
    );
}

#[test]
fn a_chrome_named_box_is_never_the_story_however_well_it_scores() {
    // The author's profile is a list of commas; the story is split into
    // small sections that each score little.
    let profile: String = (0..3)
        .map(|_| "<p>Anna writes about energy, trade, transport, diplomacy, borders, elections, courts, media, culture, sport, food, travel, history, music, film, books, science, climate, health, and faith.</p>".to_string())
        .collect();
    let sections: String = STORY
        .iter()
        .map(|p| format!(r#"<div class="row"><div class="col"><p>{p}</p></div></div>"#))
        .collect();
    let page = format!(
        r#"<html><head><title>Putin visits Baku</title></head><body><main><h1>Putin visits Baku</h1>{sections}</main>
<div class="author-profile">{profile}</div></body></html>"#
    );
    let article = extracted(&page);
    assert!(article.body.contains(STORY[0]), "{}", article.body);
    assert!(!article.body.contains("Anna writes"), "{}", article.body);
}

/// A news page without a headline to anchor a standfirst (its `<h1>` is
/// the site's name) whose lead's class says "teaser", a word that elsewhere
/// marks chrome; `body_paragraphs` make the body.
fn page_with_teaser_lead(body_paragraphs: &[&str]) -> String {
    let body: String = body_paragraphs
        .iter()
        .map(|p| format!("<p>{p}</p>"))
        .collect();
    format!(
        r#"<html><head><title>Putin visits Baku</title></head><body><h1>The Caucasus Courier</h1>
<div class="news-single"><div class="teaser-text"><p>{} It was the first such visit in six years.</p></div>
<div class="news-text">{body}</div>
<div class="teaser"><p>Armenia and Azerbaijan sign a border protocol after a year of talks between the two governments in Almaty.</p></div></div></body></html>"#,
        STORY[0]
    )
}

#[test]
fn a_lead_named_as_a_teaser_opening_the_container_is_kept() {
    // The story's container is the wrapper around lead and body.
    let page = page_with_teaser_lead(&STORY[1..]);
    let article = extracted(&page);
    assert!(article.body.starts_with(STORY[0]), "{}", article.body);
    assert!(
        !article.body.contains("border protocol"),
        "{}",
        article.body
    );
}

#[test]
fn a_lead_named_as_a_teaser_just_before_the_container_is_kept() {
    // The body is long enough to be the container alone.
    let long: Vec<&str> = STORY[1..].iter().chain(STORY.iter()).copied().collect();
    let page = page_with_teaser_lead(&long);
    let article = extracted(&page);
    assert!(article.body.starts_with(STORY[0]), "{}", article.body);
    assert!(
        !article.body.contains("border protocol"),
        "{}",
        article.body
    );
}

#[test]
fn an_intro_repeating_the_description_does_not_pass_for_the_story() {
    // The intro under the headline repeats the page's description; the
    // story is in another branch of the page.
    let deep = |inner: &str| {
        format!(
            r#"<div class="a"><div class="b"><div class="c"><div class="d">{inner}</div></div></div></div>"#
        )
    };
    let body: String = STORY[1..].iter().map(|p| format!("<p>{p}</p>")).collect();
    let page = format!(
        r#"<html><head><title>Putin visits Baku</title><meta name="description" content="{}"></head><body>
<div class="top">{}</div><div class="columns">{}</div></body></html>"#,
        STORY[0],
        deep(&format!("<h1>Putin visits Baku</h1><p>{}</p>", STORY[0])),
        deep(&body),
    );
    let article = extracted(&page);
    assert!(article.body.contains(STORY[3]), "{}", article.body);
}

#[test]
fn sections_built_like_the_storys_own_continue_it_whatever_their_class_says() {
    // Each section's class holds "headline", a word that elsewhere marks
    // chrome; the sections are all built the same way.
    let section = |paragraphs: &[&str]| {
        let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
        format!(
            r#"<div class="band headline-with-text"><div class="container"><div class="col">{body}</div></div></div>"#
        )
    };
    let page = format!(
        r#"<html><head><title>Putin visits Baku</title></head><body><h1>Putin visits Baku</h1>{}{}
<footer><p>© 2024 The Caucasus Courier. All rights reserved.</p></footer></body></html>"#,
        section(&STORY[..2]),
        section(&STORY[2..]),
    );
    let article = extracted(&page);
    assert!(article.body.contains(STORY[3]), "{}", article.body);
    assert!(!article.body.contains("All rights reserved"));
}

#[test]
fn fields_read_across_blocks_do_not_depend_on_the_spacing_between_them() {
    let body: String = STORY.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    let spaced = format!(
        r#"<!doctype html><html><head><title>Putin visits Baku</title></head><body>
<article><h1>Putin visits Baku</h1>
<div class="byline">
  <div>Anna Petrova</div>
  <div>Associated Press</div>
</div>
<div id="date-widget"><div>Aug.</div> <div>19</div> <div>2024</div></div>
{body}</article></body></html>"#
    );
    let packed = spaced
        .replace(">\n  <", "><")
        .replace(">\n<", "><")
        .replace("</div> <div>", "</div><div>");
    assert_ne!(spaced, packed);
    for page in [&spaced, &packed] {
        let article = extracted(page);
        assert_eq!(
            article.byline.as_deref(),
            Some("Anna Petrova Associated Press")
        );
        assert_eq!(
            article.published.map(|d| d.date_naive().to_string()),
            Some("2024-08-19".to_string())
        );
        assert_eq!(article.body.matches("\n\n").count(), STORY.len() - 1);
    }
}
