//! A linear tokenizer that finds where the HTML standard's tokenizer would
//! end each tag, comment and raw-text run, without decoding anything: the
//! pre-pass copies what it keeps byte for byte, so it only needs boundaries.
//! Every step moves forward; no byte is looked at more than a few times.

use std::borrow::Cow;

use super::read_attributes;

/// A start or end tag.
#[derive(Debug)]
pub struct Tag<'a> {
    /// At the `<`.
    pub start: usize,
    /// One past the `>`.
    pub end: usize,
    /// The tag name, ASCII-lower-cased as the parser sees it.
    pub name: Cow<'a, str>,
    /// One past the name: `source[start..name_end]` is `<name` or `</name`.
    pub name_end: usize,
    /// Spans of the first attributes read (up to the limit asked for; see
    /// [`read_attributes`]), each from its name to the end of its value.
    pub attributes: Vec<(usize, usize)>,
    /// All attributes the tag has, kept or not.
    pub attribute_count: usize,
    /// Those of them neither the cleaner nor the parser reads.
    pub unread_attribute_count: usize,
    pub self_closing: bool,
    pub is_end: bool,
}

#[derive(Debug)]
pub enum Token<'a> {
    /// Character data, entities undecoded, up to (not including) here.
    Text(usize),
    Tag(Tag<'a>),
    /// `<!DOCTYPE ...>`, ending here.
    Doctype(usize),
    /// A comment, processing instruction or other bogus comment: no text.
    Comment(usize, usize),
    /// `<![CDATA[...]]>` in foreign content: the span, and its content's.
    CData {
        start: usize,
        content: (usize, usize),
        end: usize,
    },
    /// A construct the input ends inside, from where it starts: the parser
    /// drops it.
    Unfinished(usize),
}

pub struct Tokenizer<'a> {
    text: &'a str,
    src: &'a [u8],
    pos: usize,
}

/// What HTML counts as whitespace.
pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

impl<'a> Tokenizer<'a> {
    pub fn new(src: &'a str) -> Self {
        Tokenizer {
            text: src,
            src: src.as_bytes(),
            pos: 0,
        }
    }

    /// Where the next token starts.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next token; `foreign` says whether `<![CDATA[` opens a CDATA
    /// section (inside SVG and MathML) or a bogus comment (in HTML), and
    /// `keep_attributes` how many attribute spans a start tag records.
    pub fn next_token(&mut self, foreign: bool, keep_attributes: usize) -> Option<Token<'a>> {
        let src = self.src;
        let start = self.pos;
        if start >= src.len() {
            return None;
        }
        let mut at = start;
        // Text runs to the next `<` that opens markup.
        loop {
            match memchr(b'<', &src[at..]) {
                None => {
                    self.pos = src.len();
                    return Some(Token::Text(src.len()));
                }
                Some(offset) => at += offset,
            }
            if opens_markup(&src[at + 1..]) {
                break;
            }
            at += 1;
        }
        if at > start {
            self.pos = at;
            return Some(Token::Text(at));
        }
        let token = self.markup(at, foreign, keep_attributes);
        self.pos = match &token {
            Token::Text(end)
            | Token::Doctype(end)
            | Token::Comment(_, end)
            | Token::CData { end, .. } => *end,
            Token::Tag(tag) => tag.end,
            Token::Unfinished(_) => src.len(),
        };
        Some(token)
    }

    fn markup(&self, at: usize, foreign: bool, keep_attributes: usize) -> Token<'a> {
        let src = self.src;
        let rest = &src[at + 1..];
        match rest.first() {
            Some(b'!') => {
                if rest.starts_with(b"!--") {
                    return self.comment(at);
                }
                if rest.len() >= 8 && rest[1..8].eq_ignore_ascii_case(b"doctype") {
                    return match self.to_gt(at) {
                        Some(end) => Token::Doctype(end),
                        None => Token::Unfinished(at),
                    };
                }
                if foreign && rest.starts_with(b"![CDATA[") {
                    let content = at + 9;
                    return match find(&src[content..], b"]]>") {
                        Some(len) => Token::CData {
                            start: at,
                            content: (content, content + len),
                            end: content + len + 3,
                        },
                        None => Token::CData {
                            start: at,
                            content: (content, src.len()),
                            end: src.len(),
                        },
                    };
                }
                self.bogus_comment(at)
            }
            Some(b'?') => self.bogus_comment(at),
            Some(b'/') => match rest.get(1) {
                Some(b'>') => Token::Comment(at, at + 3),
                Some(b) if b.is_ascii_alphabetic() => self.tag(at, true, 0),
                // `opens_markup` only lets `</` through with a byte after it.
                _ => self.bogus_comment(at),
            },
            _ => self.tag(at, false, keep_attributes),
        }
    }

    /// `<!--` to `-->` or `--!>` (`<!-->` and `<!--->` are whole comments).
    fn comment(&self, at: usize) -> Token<'a> {
        let body = at + 4;
        let src = self.src;
        if src[body..].starts_with(b">") {
            return Token::Comment(at, body + 1);
        }
        if src[body..].starts_with(b"->") {
            return Token::Comment(at, body + 2);
        }
        let mut from = body;
        while let Some(offset) = find(&src[from..], b"--") {
            let dashes = from + offset;
            let mut after = dashes + 2;
            while src.get(after) == Some(&b'-') {
                after += 1;
            }
            match src.get(after) {
                Some(b'>') => return Token::Comment(at, after + 1),
                Some(b'!') if src.get(after + 1) == Some(&b'>') => {
                    return Token::Comment(at, after + 2)
                }
                _ => from = after,
            }
        }
        Token::Comment(at, src.len())
    }

    fn bogus_comment(&self, at: usize) -> Token<'a> {
        Token::Comment(at, self.to_gt(at).unwrap_or(self.src.len()))
    }

    fn to_gt(&self, at: usize) -> Option<usize> {
        memchr(b'>', &self.src[at..]).map(|offset| at + offset + 1)
    }

    /// A tag from its `<`, by the tokenizer's tag states (quotes respected,
    /// `/` before `>` marks self-closing).
    fn tag(&self, at: usize, is_end: bool, keep_attributes: usize) -> Token<'a> {
        let src = self.src;
        let name_start = at + if is_end { 2 } else { 1 };
        let mut pos = name_start;
        while pos < src.len() && !is_space(src[pos]) && src[pos] != b'/' && src[pos] != b'>' {
            pos += 1;
        }
        let name_end = pos;
        // The name ends at an ASCII byte, so it is whole characters.
        let raw_name = &self.text[name_start..name_end];
        let name = if raw_name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(raw_name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(raw_name)
        };
        let mut attributes = Vec::new();
        let mut attribute_count = 0;
        let mut unread_attribute_count = 0;
        let mut self_closing = false;
        loop {
            // Before an attribute name.
            while pos < src.len() && is_space(src[pos]) {
                pos += 1;
            }
            let Some(&b) = src.get(pos) else {
                return Token::Unfinished(at);
            };
            match b {
                b'>' => break,
                b'/' => {
                    pos += 1;
                    if src.get(pos) == Some(&b'>') {
                        self_closing = true;
                        break;
                    }
                    continue;
                }
                _ => {}
            }
            // The name: a leading `=` belongs to it.
            let attribute_start = pos;
            pos += 1;
            while pos < src.len() && !matches!(src[pos], b'/' | b'>' | b'=') && !is_space(src[pos])
            {
                pos += 1;
            }
            let read = read_attributes::is_kept(&src[attribute_start..pos]);
            if !read {
                unread_attribute_count += 1;
            }
            let mut attribute_end = pos;
            // After the name: maybe `=` and a value.
            let mut look = pos;
            while look < src.len() && is_space(src[look]) {
                look += 1;
            }
            if src.get(look) == Some(&b'=') {
                look += 1;
                while look < src.len() && is_space(src[look]) {
                    look += 1;
                }
                match src.get(look) {
                    None => return Token::Unfinished(at),
                    Some(&q @ (b'"' | b'\'')) => match memchr(q, &src[look + 1..]) {
                        Some(offset) => {
                            pos = look + 1 + offset + 1;
                            attribute_end = pos;
                        }
                        None => return Token::Unfinished(at),
                    },
                    // A missing value: the `>` ends the tag.
                    Some(b'>') => pos = look,
                    Some(_) => {
                        pos = look;
                        while pos < src.len() && !is_space(src[pos]) && src[pos] != b'>' {
                            pos += 1;
                        }
                        attribute_end = pos;
                    }
                }
            }
            attribute_count += 1;
            if read && attributes.len() < keep_attributes {
                attributes.push((attribute_start, attribute_end));
            }
        }
        Token::Tag(Tag {
            start: at,
            end: pos + 1,
            name,
            name_end,
            attributes,
            attribute_count,
            unread_attribute_count,
            self_closing,
            is_end,
        })
    }

    /// Moves to the end of input (`<plaintext>`: the rest is text).
    pub fn skip_to_end(&mut self) -> usize {
        self.pos = self.src.len();
        self.pos
    }

    /// Where the raw text (script, style, title, textarea...) that starts
    /// here ends: the position of its end tag `</name`, or the end of input.
    /// Moves past the content, not past the end tag.
    pub fn skip_raw_text(&mut self, name: &str) -> usize {
        let src = self.src;
        let mut from = self.pos;
        while let Some(offset) = find(&src[from..], b"</") {
            let at = from + offset;
            let candidate = &src[at + 2..];
            if candidate.len() > name.len()
                && candidate[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                && (is_space(candidate[name.len()]) || matches!(candidate[name.len()], b'/' | b'>'))
            {
                self.pos = at;
                return at;
            }
            from = at + 2;
        }
        self.pos = src.len();
        src.len()
    }
}

/// Whether the bytes after a `<` make it markup rather than a literal `<`.
fn opens_markup(rest: &[u8]) -> bool {
    match rest.first() {
        Some(b) if b.is_ascii_alphabetic() => true,
        Some(b'!' | b'?') => true,
        // `</` at the very end is text; `</` then anything is markup.
        Some(b'/') => rest.len() > 1,
        _ => false,
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    memchr::memchr(needle, haystack)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    // Needles are two or three bytes, searched from many places: finding
    // the first byte and comparing is cheaper than building a searcher.
    let mut from = 0;
    while let Some(offset) = memchr(needle[0], &haystack[from..]) {
        let at = from + offset;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The spans of the first `keep` attributes read of the start tag at `at`
/// (read again only for a tag whose attributes are cut, dropped or looked
/// at).
pub fn attribute_spans(src: &str, at: usize, keep: usize) -> Vec<(usize, usize)> {
    let tokens = Tokenizer {
        text: src,
        src: src.as_bytes(),
        pos: at,
    };
    match tokens.tag(at, false, keep) {
        Token::Tag(tag) => tag.attributes,
        _ => Vec::new(),
    }
}
