//! Whitespace as a reader sees it: runs collapse to one space, no-break and
//! zero-width characters count as what they look like.

/// Appends `piece` to `out`, collapsing whitespace runs across the boundary.
pub fn push_collapsed(out: &mut String, piece: &str) {
    for ch in piece.chars() {
        if ch.is_whitespace() || ch == '\u{a0}' {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else if !matches!(
            ch,
            '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{feff}' | '\u{ad}'
        ) {
            out.push(ch);
        }
    }
}

/// `text` with whitespace collapsed and trimmed.
pub fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_collapsed(&mut out, text);
    let trimmed_len = out.trim_end().len();
    out.truncate(trimmed_len);
    out
}

/// Characters that are not whitespace: the measure of how much text a node holds.
pub fn visible_chars(text: &str) -> u32 {
    if text.is_ascii() {
        text.bytes().filter(|b| !b.is_ascii_whitespace()).count() as u32
    } else {
        text.chars().filter(|c| !c.is_whitespace()).count() as u32
    }
}

pub fn commas(text: &str) -> u32 {
    if text.is_ascii() {
        text.bytes().filter(|&b| b == b',').count() as u32
    } else {
        text.chars()
            .filter(|&c| matches!(c, ',' | '，' | '、' | '،'))
            .count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_collapses_and_trims() {
        assert_eq!(collapse("  a \n\t b\u{a0}\u{a0}c  "), "a b c");
        let mut out = String::from("end ");
        push_collapsed(&mut out, "  next");
        assert_eq!(out, "end next");
    }

    #[test]
    fn counts_ignore_whitespace() {
        assert_eq!(visible_chars(" a b\nc "), 3);
        assert_eq!(visible_chars("é ü"), 2);
        assert_eq!(commas("a, b, c"), 2);
    }
}
