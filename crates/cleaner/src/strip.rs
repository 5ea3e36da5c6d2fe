//! Script and style bodies are half the bytes of a typical news page and
//! none of its text; comments and inline drawings are none of it either.
//! Emptying scripts and styles (keeping the elements, and keeping JSON-LD,
//! which the metadata reads) and dropping comments and `<svg>`s before
//! parsing spares the parser much of its work without changing the text the
//! cleaner reads.

use std::borrow::Cow;

/// `html` with the content of every `<script>` (except JSON-LD) and
/// `<style>` element removed, and comments and inline `<svg>` drawings
/// removed whole. A tag inside a comment is not taken for one; an element
/// left unclosed is left alone.
pub fn strip_scripts_and_styles(html: &str) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut pos = 0;
    // Removes `html[from..to]`: everything before it not yet copied is copied.
    let cut = |out: &mut Option<String>, copied: &mut usize, from: usize, to: usize| {
        let out = out.get_or_insert_with(|| String::with_capacity(html.len() / 2));
        out.push_str(&html[*copied..from]);
        *copied = to;
    };
    while let Some(offset) = html[pos..].find('<') {
        let at = pos + offset;
        let rest = &bytes[at + 1..];
        if rest.starts_with(b"!--") {
            let Some(end) = html[at + 4..].find("-->").map(|end| at + 4 + end + 3) else {
                break;
            };
            cut(&mut out, &mut copied, at, end);
            pos = end;
            continue;
        }
        let Some(name) = raw_text_element(rest) else {
            pos = at + 1;
            continue;
        };
        let Some(open_end) = tag_end(bytes, at) else {
            break;
        };
        let open_tag = &html[at..open_end];
        let Some(close) = closing_tag(html, open_end, name) else {
            break;
        };
        if name == "svg" {
            let Some(close_end) = tag_end(bytes, close) else {
                break;
            };
            cut(&mut out, &mut copied, at, close_end);
            pos = close_end;
            continue;
        }
        let keep = name == "script" && crate::text::contains_ignore_ascii_case(open_tag, "ld+json");
        if !keep && close > open_end {
            cut(&mut out, &mut copied, open_end, close);
        }
        pos = close + 2;
    }
    match out {
        None => Cow::Borrowed(html),
        Some(mut out) => {
            out.push_str(&html[copied..]);
            Cow::Owned(out)
        }
    }
}

/// `script`, `style` or `svg` when `rest` (the bytes after `<`) opens one.
fn raw_text_element(rest: &[u8]) -> Option<&'static str> {
    ["script", "style", "svg"].into_iter().find(|name| {
        rest.len() > name.len()
            && rest[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && matches!(
                rest[name.len()],
                b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'
            )
    })
}

/// One past the `>` that ends the tag starting at `start`, quotes respected.
fn tag_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate().skip(start + 1) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some(i + 1),
            None => {}
        }
    }
    None
}

/// Where `</name` (any case, then a delimiter) starts at or after `from`.
fn closing_tag(html: &str, from: usize, name: &str) -> Option<usize> {
    let bytes = html.as_bytes();
    let mut pos = from;
    while let Some(offset) = html[pos..].find("</") {
        let at = pos + offset;
        let rest = &bytes[at + 2..];
        if rest.len() > name.len()
            && rest[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && matches!(
                rest[name.len()],
                b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'
            )
        {
            return Some(at);
        }
        pos = at + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_and_style_bodies_go_json_ld_stays() {
        let page = r#"<head><STYLE type="text/css">p { color: red }</style><script>var a = "</div>"; if (a<b) {}</SCRIPT >
<script type="application/ld+json">{"@type":"NewsArticle"}</script></head><body><p>Text</p><script src=x.js></script></body>"#;
        assert_eq!(
            strip_scripts_and_styles(page),
            r#"<head><STYLE type="text/css"></style><script></SCRIPT >
<script type="application/ld+json">{"@type":"NewsArticle"}</script></head><body><p>Text</p><script src=x.js></script></body>"#
        );
    }

    #[test]
    fn comments_go_and_lookalikes_stay() {
        let page = "<!-- <script> not closed --><p>Kept <scripted> words</p><scriptx>y</scriptx>";
        assert_eq!(
            strip_scripts_and_styles(page),
            "<p>Kept <scripted> words</p><scriptx>y</scriptx>"
        );
    }

    #[test]
    fn inline_drawings_go_whole() {
        let page = r#"<p>a<svg viewBox="0 0 1 1"><path d="M0"/><text>icon</text></SVG>b</p>"#;
        assert_eq!(strip_scripts_and_styles(page), "<p>ab</p>");
    }

    #[test]
    fn unclosed_script_is_left_alone() {
        let page = "<p>a</p><script>var x = 1;";
        assert_eq!(strip_scripts_and_styles(page), page);
    }

    #[test]
    fn quoted_angle_brackets_in_the_open_tag_are_not_its_end() {
        let page = r#"<script data-x="a>b">code()</script><p>t</p>"#;
        assert_eq!(
            strip_scripts_and_styles(page),
            r#"<script data-x="a>b"></script><p>t</p>"#
        );
    }
}
