//! A text's UAX #29 word segments, exactly as `split_word_bounds` gives
//! them, with the ASCII stretches of the text split without its tables:
//! those table walks were most of the clusterer's tokenising, and news text
//! is mostly ASCII with a curly quote or a dash here and there.
//!
//! The text is cut where UAX #29 always breaks whatever the context: between
//! an ASCII space and an ASCII character that is not a space. No rule joins
//! across such a point or looks past it (a space is none of the classes the
//! rules look through or for), so each piece segments alone as it does in
//! place. Pieces of ASCII go through [`ascii_segments`]; any other piece,
//! spaces next to it included, goes through `unicode-segmentation`.

use unicode_segmentation::UnicodeSegmentation;

/// Calls `visit` with each word-bound segment of `text`, in order.
pub fn for_each_segment<'a>(text: &'a str, mut visit: impl FnMut(&'a str)) {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut ascii = true;
    for at in 1..=bytes.len() {
        ascii &= bytes[at - 1].is_ascii();
        if at < bytes.len() && !always_breaks_between(bytes[at - 1], bytes[at]) {
            continue;
        }
        // Both bytes around `at` are ASCII (or `at` is the end), so `at` is
        // a character boundary.
        let piece = &text[start..at];
        if ascii {
            ascii_segments(piece, &mut visit);
        } else {
            piece.split_word_bounds().for_each(&mut visit);
        }
        start = at;
        ascii = true;
    }
}

fn always_breaks_between(before: u8, after: u8) -> bool {
    before.is_ascii() && after.is_ascii() && ((before == b' ') != (after == b' '))
}

/// The segments of an ASCII piece holding no space, or only spaces.
fn ascii_segments<'a>(piece: &'a str, visit: &mut impl FnMut(&'a str)) {
    let bytes = piece.as_bytes();
    let mut start = 0;
    while start < bytes.len() {
        let end = match bytes[start] {
            // WB3d: horizontal spaces stay together.
            b' ' => start + bytes[start..].iter().take_while(|&&b| b == b' ').count(),
            // WB3: CR × LF.
            b'\r' if bytes.get(start + 1) == Some(&b'\n') => start + 2,
            b if is_word_byte(b) => word_end(bytes, start),
            _ => start + 1,
        };
        visit(&piece[start..end]);
        start = end;
    }
}

/// Letters, digits and `_` join each other (WB5, WB8–WB10, WB13a/b).
fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Where the word starting at `start` ends: its letters, digits and `_`,
/// and the one-character joints "a.b", "a:b", "a'b" between letters (WB6/7)
/// and "1.5", "1,5", "1;5", "1'5" between digits (WB11/12).
fn word_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start + 1;
    while end < bytes.len() {
        if is_word_byte(bytes[end]) {
            end += 1;
            continue;
        }
        let Some(&next) = bytes.get(end + 1) else {
            break;
        };
        let before = bytes[end - 1];
        let joins_letters = before.is_ascii_alphabetic()
            && next.is_ascii_alphabetic()
            && matches!(bytes[end], b'.' | b':' | b'\'');
        let joins_digits = before.is_ascii_digit()
            && next.is_ascii_digit()
            && matches!(bytes[end], b'.' | b',' | b';' | b'\'');
        if !(joins_letters || joins_digits) {
            break;
        }
        end += 2;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for_each_segment(text, |segment| out.push(segment));
        out
    }

    #[test]
    fn ascii_text_splits_as_uax29_does() {
        let text = "Mr. Putin's plane, at 10:30 on 19.08.2024, cost $1,500.5; e.g. U.S. \
                    snake_case a_1 \r\n\r\n  x:y 1;2 3'4 a.1 1.a end.";
        assert_eq!(segments(text), text.split_word_bounds().collect::<Vec<_>>());
    }

    #[test]
    fn pieces_with_other_characters_split_as_uax29_does() {
        let text = "“Baku” — café naïve\u{301} e\u{301}t \u{301}x a\u{3000} b 東京 \
                    123\u{660} x\u{200d}\u{1f600} \u{1f1fa}\u{1f1f8}\u{1f1fa} a’b";
        assert_eq!(segments(text), text.split_word_bounds().collect::<Vec<_>>());
    }

    /// Random strings over the characters the rules single out, ASCII and
    /// not, against `unicode-segmentation` itself.
    #[test]
    fn random_texts_split_exactly_as_unicode_segmentation_splits_them() {
        const ALPHABET: &[char] = &[
            'a',
            'Z',
            'q',
            '0',
            '7',
            '_',
            '.',
            ':',
            ',',
            ';',
            '\'',
            '"',
            ' ',
            ' ',
            ' ',
            '\t',
            '\n',
            '\r',
            '\u{b}',
            '\u{c}',
            '-',
            '$',
            '!',
            '?',
            '(',
            ')',
            '@',
            '\u{0}',
            '\u{7f}',
            'é',
            '\u{301}',
            '\u{200d}',
            '\u{200b}',
            '\u{ad}',
            '\u{2019}',
            '\u{201c}',
            '\u{b7}',
            '\u{3000}',
            '\u{2003}',
            '\u{a0}',
            '\u{85}',
            '\u{2028}',
            '東',
            'カ',
            '\u{5d0}',
            '\u{660}',
            '\u{1f1fa}',
            '\u{1f600}',
            '\u{ff0e}',
            '\u{202f}',
            '\u{93e}',
        ];
        // A fixed xorshift: every run tests the same strings.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut text = String::new();
        for _ in 0..100_000 {
            text.clear();
            let len = next() % 12;
            for _ in 0..len {
                // Mostly ASCII, as news is, so the pieces mix.
                let pick = if next() % 3 == 0 {
                    next() as usize % ALPHABET.len()
                } else {
                    next() as usize % 29
                };
                text.push(ALPHABET[pick]);
            }
            assert_eq!(
                segments(&text),
                text.split_word_bounds().collect::<Vec<_>>(),
                "{text:?}"
            );
        }
    }
}
