//! Body text as the deduplicator sees it: lower-cased words, punctuation and
//! spacing ignored, so re-wrapped or re-punctuated copies compare equal.

use std::sync::OnceLock;

use crate::hashing::{mix64, ByteHasher};

/// Code points below this (Latin, Greek, Cyrillic, Armenian, Hebrew,
/// Arabic...) are classified and lower-cased through a table: std's
/// general Unicode lookups cost several times the rest of the hashing.
const TABLE_LIMIT: usize = 0x800;

/// Per code point: 0 when not alphanumeric, else the lower-case form when
/// that is a single code point below the limit, else `u32::MAX` ("ask std").
fn fold_table() -> &'static [u32] {
    static TABLE: OnceLock<Vec<u32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..TABLE_LIMIT as u32)
            .map(|code| {
                let Some(c) = char::from_u32(code) else {
                    return 0;
                };
                if !c.is_alphanumeric() {
                    return 0;
                }
                let mut lower = c.to_lowercase();
                match (lower.next(), lower.next()) {
                    (Some(single), None) if (single as usize) < TABLE_LIMIT => single as u32,
                    _ => u32::MAX,
                }
            })
            .collect()
    })
}

fn write_char(hasher: &mut ByteHasher, c: char) {
    let mut buf = [0u8; 4];
    for &byte in c.encode_utf8(&mut buf).as_bytes() {
        hasher.write_byte(byte);
    }
}

/// Hashes of the body's words, in order.
pub fn word_hashes(text: &str) -> Vec<u64> {
    let bytes = text.as_bytes();
    let mut words = Vec::with_capacity(text.len() / 6);
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte < 0x80 && !byte.is_ascii_alphanumeric() {
            at += 1;
            continue;
        }
        // Fast path: a word of ASCII letters and digits, lower-cased by
        // setting bit 0x20 (a no-op on digits) and hashed eight bytes at once.
        let start = at;
        while at < bytes.len() && bytes[at].is_ascii_alphanumeric() {
            at += 1;
        }
        if at == bytes.len() || bytes[at] < 0x80 {
            let mut hasher = ByteHasher::new();
            hasher.write_ascii_lowered(&bytes[start..at]);
            words.push(hasher.finish());
            continue;
        }
        // Anything else (a word with non-ASCII letters, or non-ASCII
        // punctuation after it): character by character.
        let (word, next) = general_word(text, start);
        words.extend(word);
        at = next;
    }
    words
}

/// Reads one word (or one separator) starting at byte `start`; returns the
/// word's hash, if any, and where reading stopped.
fn general_word(text: &str, start: usize) -> (Option<u64>, usize) {
    let table = fold_table();
    let mut current = ByteHasher::new();
    let mut in_word = false;
    let mut at = start;
    for c in text[start..].chars() {
        let class = match c as u32 {
            code if (code as usize) < TABLE_LIMIT => table[code as usize],
            // General punctuation (quotes, dashes, ellipsis): common in
            // news, never part of a word.
            0x2000..=0x206f => 0,
            _ if c.is_alphanumeric() => u32::MAX,
            _ => 0,
        };
        match class {
            0 if in_word => return (Some(current.finish()), at),
            0 => return (None, at + c.len_utf8()),
            code if code < 0x80 => current.write_byte(code as u8),
            u32::MAX => c
                .to_lowercase()
                .for_each(|lower| write_char(&mut current, lower)),
            code => write_char(&mut current, char::from_u32(code).unwrap_or(c)),
        }
        in_word = true;
        at += c.len_utf8();
    }
    (in_word.then(|| current.finish()), at)
}

/// One hash for the whole normalised body: equal exactly when the word
/// sequences are equal (up to 64-bit collisions).
pub fn body_hash(words: &[u64]) -> u64 {
    // Word hashes are already well mixed: one multiply per word keeps the
    // chain order-sensitive; the final mix spreads the last words' bits.
    mix64(words.iter().fold(words.len() as u64, |acc, &word| {
        (acc.rotate_left(5) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }))
}

/// Hashes of every run of `size` consecutive words (a body shorter than
/// that yields one shingle of all its words, an empty body none).
pub fn shingle_hashes(words: &[u64], size: usize) -> Vec<u64> {
    let size = size.max(1);
    if words.is_empty() {
        return Vec::new();
    }
    if words.len() <= size {
        return vec![body_hash(words)];
    }
    words
        .windows(size)
        // Rotating by position makes the shingle order-sensitive; one mix
        // per shingle is enough because the word hashes are mixed already.
        .map(|window| {
            mix64(
                window
                    .iter()
                    .fold(0x5eed, |acc, &word| acc.rotate_left(21) ^ word),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_punctuation_and_spacing_do_not_matter() {
        let a = word_hashes("The Minister said: \"No.\"\n\nThen left.");
        let b = word_hashes("the minister  said no then LEFT");
        assert_eq!(body_hash(&a), body_hash(&b));
        assert_eq!(a.len(), 6);
    }

    #[test]
    fn word_order_matters() {
        let a = word_hashes("putin met aliyev");
        let b = word_hashes("aliyev met putin");
        assert_ne!(body_hash(&a), body_hash(&b));
        assert_ne!(shingle_hashes(&a, 3), shingle_hashes(&b, 3));
    }

    #[test]
    fn non_ascii_words_are_lower_cased() {
        assert_eq!(word_hashes("ÇAĞDAŞ Bakı"), word_hashes("çağdaş bakı"));
        assert_eq!(word_hashes("ПУТИН в Баку"), word_hashes("путин В баку"));
        assert_eq!(
            word_hashes("ΑΘΗΝΑ 東京タワー"),
            word_hashes("αθηνα 東京タワー")
        );
        assert_eq!(word_hashes("«Путин» — в Баку…").len(), 3);
    }

    /// The plain std formulation the table-driven loop must agree with.
    fn reference_word_hashes(text: &str) -> Vec<u64> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(|word| {
                let mut hasher = ByteHasher::new();
                for byte in word.to_lowercase().bytes() {
                    hasher.write_byte(byte);
                }
                hasher.finish()
            })
            .collect()
    }

    #[test]
    fn the_table_agrees_with_std_lower_casing() {
        let sample: String = (0x20u32..0x3000)
            .filter_map(char::from_u32)
            .enumerate()
            .flat_map(|(i, c)| [c, if i % 7 == 0 { ' ' } else { 'a' }])
            .collect();
        assert_eq!(word_hashes(&sample), reference_word_hashes(&sample));
    }

    #[test]
    fn shingles_cover_every_window() {
        let words = word_hashes("one two three four five");
        assert_eq!(shingle_hashes(&words, 3).len(), 3);
        assert_eq!(shingle_hashes(&words[..2], 3).len(), 1);
        assert!(shingle_hashes(&[], 3).is_empty());
    }
}
