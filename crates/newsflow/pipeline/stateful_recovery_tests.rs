//! The stateful stages' recovery after a panic: each drops what it holds in
//! memory and takes its state from its store again. Shown by changing the
//! store behind the handler's back (as the committed part of an update is,
//! while the panic tore the in-memory part): only a reload sees it.

use chrono::{TimeZone, Utc};
use newsflow_model::{canonical_url, story_id_for_url, Article, UniqueStory, SCHEMA_VERSION};

use super::cluster_handler::ClusterHandler;
use super::dedup_handler::DedupHandler;
use super::stage_loop::StageHandler;

fn article(url: &str) -> Article {
    let at = Utc.with_ymd_and_hms(2024, 8, 19, 12, 0, 0).unwrap();
    Article {
        schema_version: SCHEMA_VERSION,
        article_id: story_id_for_url(url),
        item_id: format!("{url}#guid"),
        feed_url: "https://outlet.example/feed.xml".into(),
        url: url.into(),
        canonical_url: canonical_url(url),
        outlet: "Outlet".into(),
        title: "Putin in Baku offers to establish peace between Azerbaijan and Armenia".into(),
        byline: None,
        published: Some(at),
        language: Some("eng".into()),
        lead_image: None,
        body: "Russia is enthusiastic about contributing to the signing of a peace deal between \
               Azerbaijan and Armenia, President Vladimir Putin said in Baku on Monday, after \
               talks with President Ilham Aliyev that lasted several hours."
            .repeat(3),
        fetched_at: at,
    }
}

#[test]
fn dedup_reloads_its_state_from_its_store_after_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dedup.db");
    let config = newsflow_dedup::DedupConfig::default();
    let mut handler = DedupHandler::open(path.clone(), config.clone()).unwrap();
    assert!(handler.stage.is_empty());
    // What the store holds, and the handler's memory does not.
    let mut other = newsflow_dedup::DedupStage::open(&path, config).unwrap();
    other.check(&article("https://outlet.example/a")).unwrap();
    drop(other);
    assert!(
        handler.stage.is_empty(),
        "memory alone does not see the store"
    );
    handler.recover_after_panic().unwrap();
    assert!(
        !handler.stage.is_empty(),
        "the reload took the stored state"
    );
}

#[test]
fn dedup_keeps_writing_its_changelog_after_reloading_from_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let config = newsflow_dedup::DedupConfig::default();
    let mut handler = DedupHandler::open(dir.path().join("dedup.db"), config).unwrap();
    handler.stage.enable_changelog().unwrap();
    handler.recover_after_panic().unwrap();
    let outputs = handler.handle(article("https://outlet.example/b")).unwrap();
    assert!(
        outputs
            .iter()
            .any(|o| o.topic == newsflow_model::topics::DEDUP_CHANGELOG),
        "a member on Kafka must still tell its changes to the changelog: {:?}",
        outputs.iter().map(|o| o.topic).collect::<Vec<_>>()
    );
}

#[test]
fn the_clusterer_keeps_its_owner_epoch_after_reloading_from_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clusterer.db");
    let config = newsflow_clusterer::ClustererConfig::default();
    let mut handler = ClusterHandler::open(path, config, false).unwrap();
    // Records of a lower epoch than the member's claim are fenced off at
    // the next restore: the reopened stage must write under the same one.
    handler.stage.keep_epoch(7);
    handler.recover_after_panic().unwrap();
    assert_eq!(handler.stage.epoch(), 7);
}

#[test]
fn the_clusterer_reloads_its_state_from_its_store_after_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clusterer.db");
    let config = newsflow_clusterer::ClustererConfig::default();
    let mut handler = ClusterHandler::open(path.clone(), config.clone(), false).unwrap();
    assert!(handler.stage.is_empty());
    let art = article("https://outlet.example/a");
    let story = UniqueStory {
        schema_version: SCHEMA_VERSION,
        story_id: art.article_id.clone(),
        revision: 1,
        carriers: vec![],
        article: art,
    };
    let mut other = newsflow_clusterer::ClusterStage::open(&path, config).unwrap();
    let first = other.add_story(&story).unwrap();
    drop(other);
    assert!(
        handler.stage.is_empty(),
        "memory alone does not see the store"
    );
    handler.recover_after_panic().unwrap();
    assert!(
        !handler.stage.is_empty(),
        "the reload took the stored state"
    );
    // The story is held: adding it again republishes its event, unchanged.
    let again = handler.handle(story).unwrap();
    let record: newsflow_model::EventRecord = newsflow_model::decode(&again[0].payload).unwrap();
    assert_eq!(record.event_id, first[0].event_id);
    assert_eq!(record.version, first[0].version);
}
