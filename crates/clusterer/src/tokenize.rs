//! Unicode-aware tokenising: words by UAX #29 boundaries, so any script is
//! split sensibly, with the casing facts needed to recognise names.

use crate::word_segments::for_each_segment;

/// One word of a text, lower-cased, with what its spelling says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    /// Written with a capital first letter.
    pub capitalised: bool,
    /// First word of a sentence (or of the text): its capital says nothing.
    pub sentence_initial: bool,
    /// Contains a digit: years, counts, scores, flight numbers.
    pub numeric: bool,
}

/// Splits `text` into tokens, dropping stop words and one-letter ASCII words.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    for_each_word(text, |word, shape| {
        if !is_stop_word(word) {
            tokens.push(Token {
                text: word.to_string(),
                capitalised: shape.capitalised,
                sentence_initial: shape.sentence_initial,
                numeric: shape.numeric,
            });
        }
    });
    tokens
}

/// What a word's spelling says about it (the fields of [`Token`] but its text).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub capitalised: bool,
    pub sentence_initial: bool,
    pub numeric: bool,
}

/// Calls `visit` with each lower-cased word of `text` (stop words included,
/// one-letter ASCII words left out) and its shape. The word is lent from one
/// reused buffer: the hot path of clustering allocates nothing per word.
pub fn for_each_word(text: &str, mut visit: impl FnMut(&str, Shape)) {
    let mut sentence_start = true;
    let mut lower = String::new();
    for_each_segment(text, |segment| {
        let Some(first) = segment.chars().next() else {
            return;
        };
        if !segment.chars().any(char::is_alphanumeric) {
            if segment.chars().any(ends_sentence) {
                sentence_start = true;
            }
            return;
        }
        let sentence_initial = sentence_start;
        sentence_start = false;
        lower.clear();
        if segment.is_ascii() {
            lower.extend(segment.bytes().map(|b| b.to_ascii_lowercase() as char));
        } else {
            lower.extend(segment.chars().flat_map(char::to_lowercase));
        }
        strip_possessive(&mut lower);
        if lower.is_empty() || (lower.len() == 1 && lower.is_ascii()) {
            return;
        }
        visit(
            &lower,
            Shape {
                capitalised: first.is_uppercase(),
                sentence_initial,
                numeric: lower.bytes().any(|b| b.is_ascii_digit()),
            },
        );
    });
}

fn ends_sentence(c: char) -> bool {
    matches!(
        c,
        '.' | '!' | '?' | '\n' | '\r' | ':' | ';' | '"' | '“' | '”' | '。' | '！' | '？'
    )
}

fn strip_possessive(word: &mut String) {
    for suffix in ["'s", "’s"] {
        if word.ends_with(suffix) {
            word.truncate(word.len() - suffix.len());
            return;
        }
    }
}

/// Function words that carry no topic. Online IDF down-weights frequent
/// words in any language; this list only helps before IDF has seen enough.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

// Sorted for binary search (checked by a test).
const STOP_WORDS: &[&str] = &[
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn names_mid_sentence_are_capitalised_and_sentence_starts_are_marked() {
        let tokens = tokenize("Russian President Putin visited Baku. Talks were held in 2024.");
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "russian",
                "president",
                "putin",
                "visited",
                "baku",
                "talks",
                "held",
                "2024"
            ]
        );
        assert!(tokens[0].sentence_initial && tokens[0].capitalised);
        assert!(!tokens[2].sentence_initial && tokens[2].capitalised);
        assert!(tokens[5].sentence_initial);
        assert!(!tokens[6].capitalised);
        assert!(tokens[7].numeric);
    }

    #[test]
    fn non_latin_scripts_are_tokenised_not_dropped() {
        let tokens = tokenize("Путин прибыл в Баку. Αθήνα σήμερα");
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["путин", "прибыл", "в", "баку", "αθήνα", "σήμερα"]);
        assert!(tokens[3].capitalised && !tokens[3].sentence_initial);
    }

    #[test]
    fn possessives_join_their_word() {
        let tokens = tokenize("Baku's streets and Baku’s port");
        assert_eq!(tokens[0].text, "baku");
        assert_eq!(tokens[2].text, "baku");
    }
}
