//! The deterministic near-duplicate benchmark set: for each base article,
//! variants at graded edit levels; negatives are the bases themselves
//! (separately written articles, the five seed stories among them). Also a
//! filler generator to fill the window to a million stories.
//!
//! Everything is a pure function of the bases and a seed, so every run
//! measures the same set.

/// A separately written article.
#[derive(Debug, Clone)]
pub struct BaseArticle {
    pub id: String,
    pub title: String,
    pub body: String,
    /// One of the five seed stories about the same event.
    pub is_seed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditLevel {
    /// The same text with page chrome leaked into the body (ad label,
    /// share links, related headline, copyright line).
    OtherChrome,
    /// The same text under another headline.
    NewHeadline,
    /// The first paragraph (at most a quarter of the words) rewritten.
    LeadChanged,
    /// Paragraphs cut from the end, keeping about 60 % of the words.
    TailCut,
    /// New paragraphs appended, about 30 % more words.
    TailAppended,
    /// This percentage of the words replaced by other words.
    Replaced(u8),
    /// This percentage of the words swapped with a neighbour.
    Reordered(u8),
}

impl EditLevel {
    pub const ALL: [EditLevel; 13] = [
        EditLevel::OtherChrome,
        EditLevel::NewHeadline,
        EditLevel::LeadChanged,
        EditLevel::TailCut,
        EditLevel::TailAppended,
        EditLevel::Replaced(5),
        EditLevel::Replaced(10),
        EditLevel::Replaced(20),
        EditLevel::Replaced(40),
        EditLevel::Reordered(5),
        EditLevel::Reordered(10),
        EditLevel::Reordered(20),
        EditLevel::Reordered(40),
    ];

    pub fn name(&self) -> String {
        match self {
            EditLevel::OtherChrome => "verbatim, other chrome".into(),
            EditLevel::NewHeadline => "new headline".into(),
            EditLevel::LeadChanged => "lead changed".into(),
            EditLevel::TailCut => "tail cut".into(),
            EditLevel::TailAppended => "tail appended".into(),
            EditLevel::Replaced(percent) => format!("{percent}% words replaced"),
            EditLevel::Reordered(percent) => format!("{percent}% words reordered"),
        }
    }

    /// Whether the recall bar (>= 0.99, "up to the 20 % level") covers it.
    pub fn within_bar(&self) -> bool {
        match self {
            EditLevel::Replaced(percent) | EditLevel::Reordered(percent) => *percent <= 20,
            _ => true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Variant {
    /// Index of the base article it was made from.
    pub base: usize,
    pub level: EditLevel,
    pub title: String,
    pub body: String,
}

/// splitmix64: small, fast, and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        crate::hashing::mix64(self.0)
    }

    /// Uniform in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }
}

/// A word-bigram model of the bases: text that reads like news to a
/// shingle sketch (common phrases recur as in real prose) without copying
/// any base sentence for long.
pub struct TextModel {
    words: Vec<String>,
    /// For each word (index into `words`), the indices of words that followed it.
    successors: Vec<Vec<u32>>,
}

impl TextModel {
    pub fn new(bases: &[BaseArticle]) -> Self {
        let mut index_of = std::collections::HashMap::new();
        let mut words: Vec<String> = Vec::new();
        let mut successors: Vec<Vec<u32>> = Vec::new();
        for base in bases {
            let mut previous: Option<u32> = None;
            for word in base.body.split_whitespace() {
                let index = *index_of.entry(word.to_string()).or_insert_with(|| {
                    words.push(word.to_string());
                    successors.push(Vec::new());
                    (words.len() - 1) as u32
                });
                if let Some(previous) = previous {
                    successors[previous as usize].push(index);
                }
                previous = Some(index);
            }
        }
        Self { words, successors }
    }

    pub fn random_word(&self, rng: &mut Rng) -> &str {
        &self.words[rng.below(self.words.len())]
    }

    /// `count` words of generated text.
    pub fn generate(&self, count: usize, rng: &mut Rng) -> String {
        let mut out = String::with_capacity(count * 6);
        let mut current = rng.below(self.words.len());
        for position in 0..count {
            if position > 0 {
                out.push(' ');
            }
            out.push_str(&self.words[current]);
            let next = &self.successors[current];
            // Frequent jumps keep generated texts from replaying the bases'
            // sentences: rare words have a single successor, so without them
            // a chain copies its source verbatim.
            current = if next.is_empty() || rng.below(2) == 0 {
                rng.below(self.words.len())
            } else {
                next[rng.below(next.len())] as usize
            };
        }
        out
    }
}

fn paragraphs(body: &str) -> Vec<&str> {
    body.split('\n')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
}

fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// One variant per base at `level`.
pub fn variants(
    bases: &[BaseArticle],
    level: EditLevel,
    model: &TextModel,
    seed: u64,
) -> Vec<Variant> {
    bases
        .iter()
        .enumerate()
        .map(|(index, base)| {
            let mut rng = Rng::new(seed ^ ((index as u64) << 20) ^ level_seed(level));
            let (title, body) = edit(base, bases, level, model, &mut rng);
            Variant {
                base: index,
                level,
                title,
                body,
            }
        })
        .collect()
}

fn level_seed(level: EditLevel) -> u64 {
    match level {
        EditLevel::OtherChrome => 1,
        EditLevel::NewHeadline => 2,
        EditLevel::LeadChanged => 3,
        EditLevel::TailCut => 4,
        EditLevel::TailAppended => 5,
        EditLevel::Replaced(p) => 0x100 + u64::from(p),
        EditLevel::Reordered(p) => 0x200 + u64::from(p),
    }
}

fn edit(
    base: &BaseArticle,
    bases: &[BaseArticle],
    level: EditLevel,
    model: &TextModel,
    rng: &mut Rng,
) -> (String, String) {
    let title = base.title.clone();
    match level {
        EditLevel::OtherChrome => {
            let related = &bases[rng.below(bases.len())].title;
            let body = format!(
                "Advertisement\n\nBy Staff Writer | Updated 3 hours ago\n\n{}\n\nShare this article: Facebook Twitter WhatsApp Email\n\nRead more: {related}\n\n© 2024 Outlet Media Group. All rights reserved. Sign up for our newsletter.",
                base.body
            );
            (title, body)
        }
        EditLevel::NewHeadline => (
            format!("{} {}", model.generate(4, rng), "— what we know"),
            base.body.clone(),
        ),
        EditLevel::LeadChanged => {
            let paragraphs = paragraphs(&base.body);
            let words: Vec<&str> = base.body.split_whitespace().collect();
            let lead_words = paragraphs
                .first()
                .map_or(0, |p| word_count(p))
                .min(words.len() / 4)
                .max(1);
            let lead = model.generate(lead_words, rng);
            (
                title,
                format!(
                    "{lead}\n\n{}",
                    words[lead_words.min(words.len())..].join(" ")
                ),
            )
        }
        EditLevel::TailCut => {
            let paragraphs = paragraphs(&base.body);
            let total = word_count(&base.body);
            let mut kept = paragraphs.len();
            while kept > 1
                && paragraphs[..kept - 1]
                    .iter()
                    .map(|p| word_count(p))
                    .sum::<usize>()
                    * 10
                    >= total * 6
            {
                kept -= 1;
            }
            let body = if kept == paragraphs.len() {
                let words: Vec<&str> = base.body.split_whitespace().collect();
                words[..(words.len() * 2).div_ceil(3)].join(" ")
            } else {
                paragraphs[..kept].join("\n\n")
            };
            (title, body)
        }
        EditLevel::TailAppended => {
            let extra = (word_count(&base.body) * 3).div_ceil(10).max(1);
            let first = model.generate(extra.div_ceil(2), rng);
            let second = model.generate(extra / 2, rng);
            (title, format!("{}\n\n{first}\n\n{second}", base.body))
        }
        EditLevel::Replaced(percent) => {
            let mut words: Vec<String> = base.body.split(' ').map(str::to_string).collect();
            for position in choose_positions(words.len(), percent, rng) {
                words[position] = model.random_word(rng).to_string();
            }
            (title, words.join(" "))
        }
        EditLevel::Reordered(percent) => {
            let mut words: Vec<String> = base.body.split(' ').map(str::to_string).collect();
            // Each swap moves two words: swap percent/2 of the positions with
            // their right neighbour, never reusing a word.
            let swaps = (words.len() * usize::from(percent)).div_ceil(200);
            let mut used = vec![false; words.len()];
            let mut done = 0;
            let mut attempts = 0;
            while done < swaps && attempts < words.len() * 20 && words.len() > 1 {
                attempts += 1;
                let at = rng.below(words.len() - 1);
                if used[at] || used[at + 1] || words[at] == words[at + 1] {
                    continue;
                }
                words.swap(at, at + 1);
                used[at] = true;
                used[at + 1] = true;
                done += 1;
            }
            (title, words.join(" "))
        }
    }
}

/// `percent` % of `0..len`, distinct, by a partial Fisher–Yates shuffle.
fn choose_positions(len: usize, percent: u8, rng: &mut Rng) -> Vec<usize> {
    let count = (len * usize::from(percent)).div_ceil(100).min(len);
    let mut positions: Vec<usize> = (0..len).collect();
    for i in 0..count {
        let j = i + rng.below(len - i);
        positions.swap(i, j);
    }
    positions.truncate(count);
    positions
}

/// The `index`-th filler article: generated text with a length drawn from
/// the bases' lengths.
pub fn filler_body(bases: &[BaseArticle], model: &TextModel, seed: u64, index: u64) -> String {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xa076_1d64_78bd_642f));
    let length = word_count(&bases[rng.below(bases.len())].body).max(40);
    model.generate(length, &mut rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bases() -> Vec<BaseArticle> {
        (0..4)
            .map(|i| BaseArticle {
                id: i.to_string(),
                title: format!("Title {i}"),
                body: (0..5)
                    .map(|p| {
                        (0..20)
                            .map(|w| format!("w{i}x{p}x{w}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect::<Vec<_>>()
                    .join("\n\n"),
                is_seed: false,
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_set() {
        let bases = bases();
        let model = TextModel::new(&bases);
        for level in EditLevel::ALL {
            let a = variants(&bases, level, &model, 7);
            let b = variants(&bases, level, &model, 7);
            assert_eq!(a.len(), 4);
            for (x, y) in a.iter().zip(&b) {
                assert_eq!(x.body, y.body, "{}", level.name());
            }
        }
        assert_eq!(
            filler_body(&bases, &model, 1, 5),
            filler_body(&bases, &model, 1, 5)
        );
        assert_ne!(
            filler_body(&bases, &model, 1, 5),
            filler_body(&bases, &model, 1, 6)
        );
    }

    #[test]
    fn edit_levels_change_the_share_of_words_they_name() {
        let bases = bases();
        let model = TextModel::new(&bases);
        let original: Vec<&str> = bases[0].body.split(' ').collect();
        for percent in [5u8, 10, 20, 40] {
            let variant = &variants(&bases, EditLevel::Replaced(percent), &model, 1)[0];
            let changed = variant
                .body
                .split(' ')
                .zip(&original)
                .filter(|(a, b)| a != *b)
                .count();
            let expected = (original.len() * usize::from(percent)).div_ceil(100);
            // A replacement word can by chance equal the one it replaces.
            assert!(
                changed <= expected && changed + 2 >= expected,
                "{percent}%: {changed}"
            );
            let reordered = &variants(&bases, EditLevel::Reordered(percent), &model, 1)[0];
            let moved = reordered
                .body
                .split(' ')
                .zip(&original)
                .filter(|(a, b)| a != *b)
                .count();
            assert!(
                moved.abs_diff(expected) <= 2,
                "{percent}% reordered: {moved}"
            );
        }
        let cut = &variants(&bases, EditLevel::TailCut, &model, 1)[0];
        assert_eq!(word_count(&cut.body), 60);
        let appended = &variants(&bases, EditLevel::TailAppended, &model, 1)[0];
        assert_eq!(word_count(&appended.body), 130);
        assert!(appended.body.starts_with(&bases[0].body));
    }
}
