//! The pure core: rules in order (same page, same feed item, declared
//! canonical page, same body, near-identical body), a bounded window of
//! remembered stories, and no I/O.

use std::collections::{BTreeSet, HashMap};

use newsflow_model::{
    canonical_url, story_id_for_url, Article, Carrier, DuplicateReason, DuplicateRecord,
    UniqueStory, SCHEMA_VERSION,
};

use crate::analysis::{analyse, Analysis};
use crate::config::DedupConfig;
use crate::content_index::ContentIndex;
use crate::fingerprint::Fingerprint;
use crate::state::{KnownPage, StateChanges, StoredStory, MAX_EARLIER_VERSIONS};
use crate::verdict::Verdict;

type Slot = u32;

pub struct Deduplicator {
    config: DedupConfig,
    stories: Vec<Option<StoredStory>>,
    free_slots: Vec<Slot>,
    by_story_id: HashMap<String, Slot>,
    by_page_key: HashMap<String, Slot>,
    by_feed_item: HashMap<String, Slot>,
    content: ContentIndex,
    /// (last_seen, seq, slot), oldest first: the eviction order.
    recency: BTreeSet<(i64, u64, Slot)>,
    /// The latest fetch time seen: the window is measured on the articles'
    /// clock, so a replay of old input behaves as it did live.
    clock: i64,
    next_seq: u64,
}

/// Which rule made an article a copy.
struct CopyOf {
    slot: Slot,
    reason: DuplicateReason,
    similarity: f32,
}

enum Decision {
    Unchanged(Slot),
    Update(Slot),
    Copy(CopyOf),
    New,
}

impl Deduplicator {
    pub fn new(config: DedupConfig) -> Self {
        let rule = config.near_rule();
        Self {
            config,
            stories: Vec::new(),
            free_slots: Vec::new(),
            by_story_id: HashMap::new(),
            by_page_key: HashMap::new(),
            by_feed_item: HashMap::new(),
            content: ContentIndex::new(rule),
            recency: BTreeSet::new(),
            clock: i64::MIN,
            next_seq: 0,
        }
    }

    pub fn config(&self) -> &DedupConfig {
        &self.config
    }

    /// Number of remembered stories.
    pub fn len(&self) -> usize {
        self.by_story_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_story_id.is_empty()
    }

    pub fn check(&mut self, article: &Article) -> Verdict {
        self.check_with_changes(article).0
    }

    /// `check`, also returning the state changes a runner must persist.
    pub fn check_with_changes(&mut self, article: &Article) -> (Verdict, StateChanges) {
        let analysis = analyse(article, self.config.shingle_words, self.config.min_words);
        let fetched = article.fetched_at.timestamp();
        self.clock = self.clock.max(fetched);
        // Expired stories go before matching: nothing outside the window may
        // claim the article.
        let mut evicted = self.evict();
        let mut written_slots = Vec::new();
        let decision = self.decide(&analysis, fetched, &mut written_slots);
        let (slot, verdict) = match decision {
            Decision::Unchanged(slot) => (slot, Verdict::Unchanged(self.story(slot).story.clone())),
            Decision::Update(slot) => {
                self.update(slot, article, &analysis);
                (slot, Verdict::Updated(self.story(slot).story.clone()))
            }
            Decision::Copy(copy) => {
                let slot = copy.slot;
                let record = self.add_copy(copy, article, &analysis);
                let story = self.story(slot).story.clone();
                (slot, Verdict::Duplicate { record, story })
            }
            Decision::New => {
                let slot = self.add_story(article, &analysis, fetched);
                (slot, Verdict::New(self.story(slot).story.clone()))
            }
        };
        self.touch(slot, fetched);
        written_slots.push(slot);
        evicted.extend(self.evict());
        written_slots.sort_unstable();
        written_slots.dedup();
        let written = written_slots
            .into_iter()
            .filter_map(|slot| self.stories.get(slot as usize).and_then(Option::clone))
            .collect();
        (verdict, StateChanges { written, evicted })
    }

    /// Puts back a story persisted earlier (a restart). Stories are expected
    /// in `seq` order; the window is applied by `evict` afterwards. A story
    /// without its own page or carrier (never written by this crate) is
    /// skipped with a warning; returns whether the story was restored.
    pub fn restore(&mut self, stored: StoredStory) -> bool {
        if stored.pages.is_empty() || stored.story.carriers.is_empty() {
            tracing::warn!(story_id = %stored.story.story_id, "skipping a stored story without pages or carriers");
            return false;
        }
        if let Some(&slot) = self.by_story_id.get(&stored.story.story_id) {
            self.forget(slot);
        }
        self.clock = self.clock.max(stored.last_seen);
        self.next_seq = self.next_seq.max(stored.seq + 1);
        let slot = self.allocate(stored);
        self.register(slot);
        let fingerprint = Fingerprint::of(
            &self.story(slot).story.article.body,
            self.config.shingle_words,
            self.config.min_words,
        );
        self.content.set_sketch(slot, &fingerprint);
        let story = self.story(slot);
        self.recency.insert((story.last_seen, story.seq, slot));
        true
    }

    /// Forgets stories outside the window (time, then count); returns their ids.
    pub fn evict(&mut self) -> Vec<String> {
        let mut evicted = Vec::new();
        let cutoff = self.clock.saturating_sub(self.config.window_secs);
        while let Some(&(last_seen, _, slot)) = self.recency.first() {
            let too_old = self.config.window_secs > 0 && last_seen < cutoff;
            let too_many =
                self.config.max_stories > 0 && self.recency.len() > self.config.max_stories;
            if !too_old && !too_many {
                break;
            }
            evicted.push(self.forget(slot));
        }
        evicted
    }

    /// Drops the in-memory copy of a story's text. A runner that keeps the
    /// text elsewhere calls this once it is stored: the core compares
    /// sketches and hashes, and needs the text only to re-emit the story.
    pub fn release_body(&mut self, story_id: &str) {
        if let Some(&slot) = self.by_story_id.get(story_id) {
            self.story_mut(slot).story.article.body = String::new();
        }
    }

    /// Heap memory of the content index alone (body map, sketches, bands).
    pub fn content_index_heap_bytes(&self) -> usize {
        self.content.heap_bytes()
    }

    fn story(&self, slot: Slot) -> &StoredStory {
        self.stories[slot as usize]
            .as_ref()
            .expect("slots handed out by the index are occupied")
    }

    fn story_mut(&mut self, slot: Slot) -> &mut StoredStory {
        self.stories[slot as usize]
            .as_mut()
            .expect("slots handed out by the index are occupied")
    }

    /// Whether the story's own page, fetched at `fetched` with this text,
    /// brings nothing new: the current text, an earlier text replayed, or a
    /// fetch older than the one the story shows.
    fn is_current_or_stale(&self, slot: Slot, analysis: &Analysis, fetched: i64) -> bool {
        let story = self.story(slot);
        let own_page = &story.pages[0];
        own_page.body_hash == analysis.fingerprint.body_hash
            || own_page
                .earlier_body_hashes
                .contains(&analysis.fingerprint.body_hash)
            || fetched < story.story.article.fetched_at.timestamp()
    }

    fn decide(&mut self, analysis: &Analysis, fetched: i64, written: &mut Vec<Slot>) -> Decision {
        if let Some(&slot) = self.by_page_key.get(&analysis.page_key) {
            let page_index = self.page_index(slot, |page| page.keys.contains(&analysis.page_key));
            match page_index {
                Some(0) if self.is_current_or_stale(slot, analysis, fetched) => {
                    return Decision::Unchanged(slot)
                }
                Some(0) => return Decision::Update(slot),
                Some(index)
                    if self.story(slot).pages[index].body_hash
                        == analysis.fingerprint.body_hash =>
                {
                    let reason = self.story(slot).pages[index]
                        .duplicate
                        .as_ref()
                        .map_or(DuplicateReason::SameCanonicalUrl, |record| record.reason);
                    return Decision::Copy(CopyOf {
                        slot,
                        reason,
                        similarity: 1.0,
                    });
                }
                Some(index) => {
                    // A copy whose text changed is judged afresh on its content.
                    self.detach_page(slot, index);
                    written.push(slot);
                }
                None => {}
            }
        }
        if let Some(slot) = analysis
            .feed_item
            .as_ref()
            .and_then(|item| self.by_feed_item.get(item))
            .copied()
        {
            let feed_item = analysis.feed_item.as_deref();
            if let Some(index) =
                self.page_index(slot, |page| page.feed_item.as_deref() == feed_item)
            {
                if self.story(slot).pages[index].body_hash == analysis.fingerprint.body_hash {
                    return Decision::Copy(CopyOf {
                        slot,
                        reason: DuplicateReason::SameFeedItem,
                        similarity: 1.0,
                    });
                }
                if index == 0 {
                    if self.is_current_or_stale(slot, analysis, fetched) {
                        return Decision::Unchanged(slot);
                    }
                    // The outlet moved its article (new slug) and edited it.
                    return Decision::Update(slot);
                }
            }
        }
        if let Some(slot) = analysis
            .declared_key
            .as_ref()
            .and_then(|key| self.by_page_key.get(key))
            .copied()
        {
            // A rel=canonical is trusted only when the text agrees: some
            // sites point every page at their home page.
            if let Some(similarity) = self.similarity_to(slot, analysis) {
                return Decision::Copy(CopyOf {
                    slot,
                    reason: DuplicateReason::SameCanonicalUrl,
                    similarity,
                });
            }
        }
        match self.content.find(&analysis.fingerprint) {
            Some(found) => Decision::Copy(CopyOf {
                slot: found.slot,
                reason: found.reason,
                similarity: found.similarity,
            }),
            None => Decision::New,
        }
    }

    /// Similarity of the article to the story in `slot`, when the rules
    /// would call it the same text.
    fn similarity_to(&self, slot: Slot, analysis: &Analysis) -> Option<f32> {
        if self
            .story(slot)
            .pages
            .iter()
            .any(|page| page.body_hash == analysis.fingerprint.body_hash)
        {
            return Some(1.0);
        }
        self.content
            .accepted_similarity(&analysis.fingerprint, slot)
    }

    fn page_index(&self, slot: Slot, matches: impl Fn(&KnownPage) -> bool) -> Option<usize> {
        self.story(slot).pages.iter().position(matches)
    }

    fn add_story(&mut self, article: &Article, analysis: &Analysis, fetched: i64) -> Slot {
        let mut story_id = if article.article_id.trim().is_empty() {
            story_id_for_url(&analysis.page_key)
        } else {
            article.article_id.clone()
        };
        if self.by_story_id.contains_key(&story_id) {
            // Another page declared this page's canonical URL but is a
            // different text: it gets an id of its own page.
            story_id = format!("{story_id}-{}", story_id_for_url(&analysis.page_key));
        }
        let stored = StoredStory {
            story: UniqueStory {
                schema_version: SCHEMA_VERSION,
                story_id,
                revision: 1,
                article: article.clone(),
                carriers: vec![Carrier {
                    outlet: article.outlet.clone(),
                    url: article.url.clone(),
                }],
            },
            pages: vec![page_of(analysis, None)],
            last_seen: fetched,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        let slot = self.allocate(stored);
        self.register(slot);
        self.content.set_sketch(slot, &analysis.fingerprint);
        let story = self.story(slot);
        self.recency.insert((story.last_seen, story.seq, slot));
        slot
    }

    fn update(&mut self, slot: Slot, article: &Article, analysis: &Analysis) {
        let old_hash = self.story(slot).pages[0].body_hash;
        let story = self.story_mut(slot);
        story.story.revision += 1;
        story.story.article = article.clone();
        story.story.carriers[0].url = article.url.clone();
        let own_page = &mut story.pages[0];
        own_page.earlier_body_hashes.push(old_hash);
        if own_page.earlier_body_hashes.len() > MAX_EARLIER_VERSIONS {
            own_page.earlier_body_hashes.remove(0);
        }
        own_page.body_hash = analysis.fingerprint.body_hash;
        own_page.body_words = analysis.fingerprint.words;
        for key in keys_of(analysis) {
            if !own_page.keys.contains(&key) {
                own_page.keys.push(key);
            }
        }
        if own_page.feed_item.is_none() {
            own_page.feed_item = analysis.feed_item.clone();
        }
        self.unregister_body(slot, old_hash);
        self.register(slot);
        self.content.set_sketch(slot, &analysis.fingerprint);
    }

    fn add_copy(
        &mut self,
        copy: CopyOf,
        article: &Article,
        analysis: &Analysis,
    ) -> DuplicateRecord {
        let slot = copy.slot;
        let known = self.page_index(slot, |page| page.keys.contains(&analysis.page_key));
        if let Some(record) =
            known.and_then(|index| self.story(slot).pages[index].duplicate.clone())
        {
            return record;
        }
        let story = self.story_mut(slot);
        let record = DuplicateRecord {
            schema_version: SCHEMA_VERSION,
            article_id: article.article_id.clone(),
            outlet: article.outlet.clone(),
            url: article.url.clone(),
            title: article.title.clone(),
            duplicate_of: story.story.story_id.clone(),
            reason: copy.reason,
            similarity: copy.similarity,
        };
        story.pages.push(page_of(analysis, Some(record.clone())));
        let carried = story
            .story
            .carriers
            .iter()
            .any(|c| c.outlet == article.outlet && canonical_url(&c.url) == analysis.page_key);
        if !carried {
            story.story.carriers.push(Carrier {
                outlet: article.outlet.clone(),
                url: article.url.clone(),
            });
        }
        self.register(slot);
        record
    }

    /// Drops a copy's page from its story (its text changed).
    fn detach_page(&mut self, slot: Slot, index: usize) {
        let story = self.story_mut(slot);
        let page = story.pages.remove(index);
        if let Some(record) = &page.duplicate {
            story.story.carriers.retain(|c| c.url != record.url);
        }
        for key in &page.keys {
            remove_if_points_to(&mut self.by_page_key, key, slot);
        }
        if let Some(item) = &page.feed_item {
            remove_if_points_to(&mut self.by_feed_item, item, slot);
        }
        self.unregister_body(slot, page.body_hash);
    }

    fn unregister_body(&mut self, slot: Slot, hash: u64) {
        let still_used = self
            .story(slot)
            .pages
            .iter()
            .any(|page| page.body_hash == hash);
        if !still_used {
            self.content.remove_body(hash, slot);
        }
    }

    /// Adds the story's ids, page keys, feed items and bodies to the lookup
    /// maps. The first story to claim a key keeps it.
    fn register(&mut self, slot: Slot) {
        let min_words = self.config.min_words as u32;
        let story = self.stories[slot as usize]
            .as_ref()
            .expect("registering an occupied slot");
        self.by_story_id
            .entry(story.story.story_id.clone())
            .or_insert(slot);
        for page in &story.pages {
            for key in &page.keys {
                self.by_page_key.entry(key.clone()).or_insert(slot);
            }
            if let Some(item) = &page.feed_item {
                self.by_feed_item.entry(item.clone()).or_insert(slot);
            }
            if page.body_words >= min_words {
                self.content.add_body_hash(page.body_hash, slot);
            }
        }
    }

    fn allocate(&mut self, stored: StoredStory) -> Slot {
        match self.free_slots.pop() {
            Some(slot) => {
                self.stories[slot as usize] = Some(stored);
                slot
            }
            None => {
                self.stories.push(Some(stored));
                (self.stories.len() - 1) as Slot
            }
        }
    }

    fn touch(&mut self, slot: Slot, fetched: i64) {
        let story = self.story(slot);
        let (old, seq) = (story.last_seen, story.seq);
        if fetched > old {
            self.recency.remove(&(old, seq, slot));
            self.recency.insert((fetched, seq, slot));
            self.story_mut(slot).last_seen = fetched;
        }
    }

    /// Removes a story and everything pointing at it; returns its id.
    fn forget(&mut self, slot: Slot) -> String {
        let stored = self.stories[slot as usize]
            .take()
            .expect("forgetting an occupied slot");
        self.recency.remove(&(stored.last_seen, stored.seq, slot));
        self.content.remove_sketch(slot);
        remove_if_points_to(&mut self.by_story_id, &stored.story.story_id, slot);
        for page in &stored.pages {
            for key in &page.keys {
                remove_if_points_to(&mut self.by_page_key, key, slot);
            }
            if let Some(item) = &page.feed_item {
                remove_if_points_to(&mut self.by_feed_item, item, slot);
            }
            self.content.remove_body(page.body_hash, slot);
        }
        self.free_slots.push(slot);
        stored.story.story_id
    }
}

fn keys_of(analysis: &Analysis) -> Vec<String> {
    std::iter::once(analysis.page_key.clone())
        .chain(analysis.declared_key.clone())
        .collect()
}

fn page_of(analysis: &Analysis, duplicate: Option<DuplicateRecord>) -> KnownPage {
    KnownPage {
        keys: keys_of(analysis),
        feed_item: analysis.feed_item.clone(),
        body_hash: analysis.fingerprint.body_hash,
        body_words: analysis.fingerprint.words,
        earlier_body_hashes: Vec::new(),
        duplicate,
    }
}

fn remove_if_points_to<K, Q>(map: &mut HashMap<K, Slot>, key: &Q, slot: Slot)
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    if map.get(key) == Some(&slot) {
        map.remove(key);
    }
}
