//! Body text as the deduplicator sees it: lower-cased words, punctuation and
//! spacing ignored, so re-wrapped or re-punctuated copies compare equal.

use crate::hashing::{combine, ByteHasher};

/// Hashes of the body's words, in order.
pub fn word_hashes(text: &str) -> Vec<u64> {
    let mut words = Vec::with_capacity(text.len() / 6);
    let mut current = ByteHasher::new();
    let mut in_word = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            in_word = true;
            if c.is_ascii() {
                current.write_byte(c.to_ascii_lowercase() as u8);
            } else {
                let mut buf = [0u8; 4];
                for lower in c.to_lowercase() {
                    for &byte in lower.encode_utf8(&mut buf).as_bytes() {
                        current.write_byte(byte);
                    }
                }
            }
        } else if in_word {
            words.push(current.finish());
            current = ByteHasher::new();
            in_word = false;
        }
    }
    if in_word {
        words.push(current.finish());
    }
    words
}

/// One hash for the whole normalised body: equal exactly when the word
/// sequences are equal (up to 64-bit collisions).
pub fn body_hash(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(words.len() as u64, |acc, &word| combine(acc, word))
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
        .map(|window| window.iter().fold(0x5eed, |acc, &word| combine(acc, word)))
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
    }

    #[test]
    fn shingles_cover_every_window() {
        let words = word_hashes("one two three four five");
        assert_eq!(shingle_hashes(&words, 3).len(), 3);
        assert_eq!(shingle_hashes(&words[..2], 3).len(), 1);
        assert!(shingle_hashes(&[], 3).is_empty());
    }
}
