//! Names a feed's format from its root element, before any repair changes it.

/// feedparser's names: `rss090`, `rss091u`, `rss092`, `rss093`, `rss094`,
/// `rss20`, `rss10`, `rss` (unknown version), `atom03`, `atom10`, `atom`, or
/// an empty string when the root is not a feed.
pub fn detect_format(text: &str) -> String {
    let comment_pattern = static_regex!(r"(?s)<!--.*?-->");
    let end = (0..=text.len().min(8192))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let head = comment_pattern.replace_all(&text[..end], "");
    let head = head.as_ref();
    let root = static_regex!(r"<([A-Za-z_][\w.:-]*)([^>]*)>");
    let Some(c) = root
        .captures_iter(head)
        .find(|c| !c[1].starts_with('?') && !c[0].starts_with("<!"))
    else {
        return String::new();
    };
    let name = c[1]
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let attrs = &c[2];
    let version = static_regex!(r#"version\s*=\s*["']([^"']*)["']"#)
        .captures(attrs)
        .map(|v| v[1].trim().to_string());
    match name.as_str() {
        "rss" => match version.as_deref() {
            Some("0.91") if head.contains("-//Netscape") => "rss091n".into(),
            Some("0.91") => "rss091u".into(),
            Some("0.92") => "rss092".into(),
            Some("0.93") => "rss093".into(),
            Some("0.94") => "rss094".into(),
            Some(v) if v == "2" || v.starts_with("2.") => "rss20".into(),
            _ => "rss".into(),
        },
        "rdf" => {
            if text.contains("http://my.netscape.com/rdf/simple/0.9/") {
                "rss090".into()
            } else {
                "rss10".into()
            }
        }
        "feed" => {
            if text.contains("http://www.w3.org/2005/Atom") {
                "atom10".into()
            } else if version.as_deref() == Some("0.3") || text.contains("http://purl.org/atom/ns#")
            {
                "atom03".into()
            } else {
                "atom".into()
            }
        }
        // Microsoft's Channel Definition Format, the oldest feed format.
        "channel" => "cdf".into(),
        _ => String::new(),
    }
}
