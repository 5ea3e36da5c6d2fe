//! The changelog protocol between successive owners of the clusterer's
//! input: a restore refuses what it cannot read completely unless accepted;
//! new operations never reuse a number the changelog holds (the sequence
//! collision); a previous owner still writing after a newer claim is fenced.
//! The changelog here is a list of payloads, as a topic would hold them.

#[allow(dead_code)]
mod common;

use common::{fixture_stories, unique_story, LabelledDocument};
use newsflow_clusterer::{
    ChangelogRecord, ChangelogRestore, ClusterStage, ClustererConfig, ReadEnd, RestoreFailure,
    RestoreSummary, OPERATIONS_RING, SNAPSHOT_EVERY,
};
use newsflow_model::{decode, encode, Message};

type Changelog = Vec<Vec<u8>>;

fn open(dir: &tempfile::TempDir, name: &str) -> ClusterStage {
    ClusterStage::open(&dir.path().join(name), ClustererConfig::default()).unwrap()
}

/// A stage whose closed events are never retired: the fixture's stories
/// span weeks, and a test that keeps changing its first story needs that
/// story's event held, not retired and remembered as done with.
fn open_unretiring(dir: &tempfile::TempDir, name: &str) -> ClusterStage {
    let config = ClustererConfig {
        late_arrival_secs: 10 * 365 * 24 * 3600,
        ..ClustererConfig::default()
    };
    ClusterStage::open(&dir.path().join(name), config).unwrap()
}

/// Restores `stage` from `records`, as a member given the input would.
fn restore(
    stage: &mut ClusterStage,
    records: &[Vec<u8>],
    end: ReadEnd,
    accept_incomplete: bool,
) -> Result<(RestoreSummary, ChangelogRecord), RestoreFailure> {
    let mut restore = ChangelogRestore::begin(stage).unwrap();
    for payload in records {
        restore.offer(payload).unwrap();
    }
    restore.finish(end, accept_incomplete)
}

/// Restores, then writes the new owner's claim to the changelog.
fn take_over(stage: &mut ClusterStage, changelog: &mut Changelog, accept: bool, upto: usize) {
    let end = if upto < changelog.len() {
        ReadEnd::Stopped("test: stalled".into())
    } else {
        ReadEnd::Reached
    };
    let (_, claim) = restore(stage, &changelog[..upto], end, accept).unwrap();
    changelog.push(encode(&claim));
}

/// Places stories and writes the operations they logged to the changelog.
fn place(stage: &mut ClusterStage, changelog: &mut Changelog, stories: &[LabelledDocument]) {
    for story in stories {
        stage
            .add_story(&unique_story(&story.document, &[]))
            .unwrap();
    }
    publish(stage, changelog);
}

/// Writes what the stage has for the changelog there, as the binary does.
fn publish(stage: &mut ClusterStage, changelog: &mut Changelog) {
    let records = stage.take_for_changelog(stage.published_through()).unwrap();
    if let Some(last) = records.last() {
        stage.mark_published(last.seq).unwrap();
    }
    changelog.extend(records.iter().map(encode));
}

fn placed(stage: &ClusterStage, stories: &[LabelledDocument]) -> Vec<bool> {
    stories
        .iter()
        .map(|s| stage.clusterer().event_of(&s.document.id).is_some())
        .collect()
}

fn operations(changelog: &Changelog) -> Vec<ChangelogRecord> {
    changelog
        .iter()
        .filter_map(|p| decode::<ChangelogRecord>(p).ok())
        .filter(|r| !r.is_claim())
        .collect()
}

#[test]
fn operations_after_an_accepted_stalled_restore_survive_the_next_restore() {
    let dir = tempfile::tempdir().unwrap();
    let stories = fixture_stories();
    let mut changelog = Changelog::new();

    let mut first = open(&dir, "first.db");
    take_over(&mut first, &mut changelog, false, 0);
    place(&mut first, &mut changelog, &stories[..6]);

    // The next owner's reading stalls after three records: refused...
    let mut second = open(&dir, "second.db");
    let refused = restore(
        &mut second,
        &changelog[..3],
        ReadEnd::Stopped("stalled".into()),
        false,
    );
    match refused {
        Err(RestoreFailure::Incomplete(incomplete)) => assert!(incomplete.stopped_short),
        other => panic!("a stalled restore was not refused: {other:?}"),
    }
    // ...unless the operator accepts it; it then goes on writing.
    take_over(&mut second, &mut changelog, true, 3);
    place(&mut second, &mut changelog, &stories[6..8]);
    let max_seq_before = operations(&changelog).iter().map(|r| r.seq).max().unwrap();

    // A third owner restores everything: what the second owner placed is
    // there, not dropped as "already applied".
    let mut third = open(&dir, "third.db");
    let (summary, _) = restore(&mut third, &changelog, ReadEnd::Reached, false)
        .expect("a divergence the operator accepted does not refuse later restores");
    assert_eq!(summary.diverged_accepted, 1);
    assert_eq!(placed(&third, &stories[6..8]), vec![true, true]);
    assert_eq!(placed(&third, &stories[..6]), vec![true; 6]);
    let (_, claim) = restore(&mut third, &changelog, ReadEnd::Reached, false).unwrap();
    changelog.push(encode(&claim));
    place(&mut third, &mut changelog, &stories[8..9]);
    let newest = operations(&changelog).last().unwrap().seq;
    assert!(
        newest > max_seq_before,
        "operation {newest} reuses a number the changelog already held (up to {max_seq_before})"
    );

    // And a fourth restores exactly the third's state.
    let mut fourth = open(&dir, "fourth.db");
    let (summary, _) = restore(&mut fourth, &changelog, ReadEnd::Reached, false).unwrap();
    assert_eq!(summary.fenced, 0);
    assert_eq!(fourth.clusterer().records(), third.clusterer().records());
}

#[test]
fn a_restore_that_cannot_reach_the_end_refuses_unless_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let stories = fixture_stories();
    let mut changelog = Changelog::new();
    let mut owner = open(&dir, "owner.db");
    take_over(&mut owner, &mut changelog, false, 0);
    place(&mut owner, &mut changelog, &stories[..5]);
    let highest = operations(&changelog).last().unwrap().seq;

    let mut unreadable = changelog.clone();
    unreadable[2] = b"\xff{not json".to_vec();
    let mut gap = changelog.clone();
    gap.remove(2);
    let stalled = changelog[..4].to_vec();
    let cases = [
        ("unreadable", unreadable, ReadEnd::Reached),
        ("gap", gap, ReadEnd::Reached),
        ("stalled", stalled, ReadEnd::Stopped("stalled".into())),
    ];
    for (name, records, end) in cases {
        let mut stage = open(&dir, &format!("{name}.db"));
        let refused = restore(&mut stage, &records, end.clone(), false);
        assert!(
            matches!(refused, Err(RestoreFailure::Incomplete(_))),
            "{name}: {refused:?}"
        );
        let (_, claim) = restore(&mut stage, &records, end, true).unwrap();
        assert!(claim.accepted_incomplete, "{name}");
        // What could be read is the state; numbering continues after the
        // highest number read, so nothing new collides with what was.
        stage
            .add_story(&unique_story(&stories[6].document, &[]))
            .unwrap();
        let new = stage.take_unpublished(stage.published_through()).unwrap();
        let read_highest = operations(&records).iter().map(|r| r.seq).max().unwrap();
        assert_eq!(new[0].seq, read_highest + 1, "{name}");
        if name != "stalled" {
            assert_eq!(read_highest, highest, "{name}");
        }
        assert_eq!(new[0].epoch, claim.epoch, "{name}");
    }
}

#[test]
fn a_previous_owner_still_writing_after_a_newer_claim_is_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let stories = fixture_stories();
    let mut changelog = Changelog::new();
    let mut old_owner = open(&dir, "old.db");
    take_over(&mut old_owner, &mut changelog, false, 0);
    place(&mut old_owner, &mut changelog, &stories[..4]);

    let mut new_owner = open(&dir, "new.db");
    let upto = changelog.len();
    take_over(&mut new_owner, &mut changelog, false, upto);
    // The old owner has not noticed yet and places one more story.
    place(&mut old_owner, &mut changelog, &stories[4..5]);
    place(&mut new_owner, &mut changelog, &stories[5..7]);

    let mut restored = open(&dir, "restored.db");
    let (summary, _) = restore(&mut restored, &changelog, ReadEnd::Reached, false).unwrap();
    assert_eq!(summary.fenced, 1);
    assert_eq!(placed(&restored, &stories[4..5]), vec![false]);
    assert_eq!(
        restored.clusterer().records(),
        new_owner.clusterer().records()
    );
}

#[test]
fn records_and_claims_sent_twice_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let stories = fixture_stories();
    let mut changelog = Changelog::new();
    let mut owner = open(&dir, "owner.db");
    take_over(&mut owner, &mut changelog, false, 0);
    place(&mut owner, &mut changelog, &stories[..5]);

    // A producer retry repeats records: each one right after itself.
    let repeated: Changelog = changelog
        .iter()
        .flat_map(|p| [p.clone(), p.clone()])
        .collect();
    let mut restored = open(&dir, "restored.db");
    let (summary, _) = restore(&mut restored, &repeated, ReadEnd::Reached, false).unwrap();
    assert_eq!(summary.duplicates, changelog.len() as u64);
    assert_eq!(summary.operations, (changelog.len() - 1) as u64);
    assert_eq!(restored.clusterer().records(), owner.clusterer().records());
}

/// What a compacted topic keeps: the newest record per key, in the order
/// those were written.
fn compacted(changelog: &Changelog) -> Changelog {
    let keys: Vec<String> = changelog
        .iter()
        .map(|p| decode::<ChangelogRecord>(p).unwrap().key())
        .collect();
    changelog
        .iter()
        .enumerate()
        .filter(|(i, _)| !keys[i + 1..].contains(&keys[*i]))
        .map(|(_, p)| p.clone())
        .collect()
}

#[test]
fn a_compacted_changelog_restores_from_its_newest_snapshot_and_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let stories = fixture_stories();
    let mut changelog = Changelog::new();
    let mut owner = open_unretiring(&dir, "owner.db");
    take_over(&mut owner, &mut changelog, false, 0);
    place(&mut owner, &mut changelog, &stories[..10]);
    // Many operations: retitling one story over and over (a story's
    // title update is one operation each).
    let mut story = unique_story(&stories[0].document, &[]);
    let operations = (OPERATIONS_RING + SNAPSHOT_EVERY + SNAPSHOT_EVERY / 2) as usize;
    for round in 0..operations {
        story.article.title = format!("{} (update {round})", stories[0].document.title);
        owner.add_story(&story).unwrap();
        if round % 7 == 0 {
            publish(&mut owner, &mut changelog);
        }
    }
    place(&mut owner, &mut changelog, &stories[10..12]);

    let kept = compacted(&changelog);
    assert!(
        kept.len() <= OPERATIONS_RING as usize + 8,
        "{} records kept",
        kept.len()
    );
    let mut restored = open_unretiring(&dir, "restored.db");
    let (summary, _) = restore(&mut restored, &kept, ReadEnd::Reached, false)
        .expect("a compacted changelog restores completely");
    assert!(summary.snapshots >= 1, "{summary:?}");
    assert!(summary.operations < SNAPSHOT_EVERY as u64, "{summary:?}");
    assert!(kept.len() < changelog.len(), "nothing was compacted");
    assert_eq!(restored.clusterer().records(), owner.clusterer().records());
    assert_eq!(restored.last_seq(), owner.last_seq());

    // The whole uncompacted history gives the same state.
    let mut replayed = open_unretiring(&dir, "replayed.db");
    restore(&mut replayed, &changelog, ReadEnd::Reached, false).unwrap();
    assert_eq!(replayed.clusterer().records(), owner.clusterer().records());
}

#[test]
fn a_restored_stage_retires_for_capacity_where_the_original_did() {
    let dir = tempfile::tempdir().unwrap();
    let stories = fixture_stories();
    // Fewer than the fixture's stories: the cap retires events early, on
    // ticks the changelog carries.
    let cap = stories.len() / 3;
    let config = ClustererConfig {
        max_held_stories: cap,
        late_arrival_secs: 10 * 365 * 24 * 3600,
        ..ClustererConfig::default()
    };
    let mut changelog = Changelog::new();
    let mut original = ClusterStage::open(&dir.path().join("original.db"), config.clone()).unwrap();
    take_over(&mut original, &mut changelog, false, 0);
    place(&mut original, &mut changelog, &stories);
    assert!(original.clusterer().held_stories() <= cap);
    assert!(
        placed(&original, &stories).contains(&false),
        "some events were retired for capacity"
    );

    let mut restored = ClusterStage::open(&dir.path().join("restored.db"), config).unwrap();
    let upto = changelog.len();
    take_over(&mut restored, &mut changelog, false, upto);
    assert_eq!(placed(&restored, &stories), placed(&original, &stories));
    assert_eq!(
        restored.clusterer().records(),
        original.clusterer().records()
    );
}
