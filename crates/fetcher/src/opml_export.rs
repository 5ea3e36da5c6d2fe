//! `newsflow feeds export`: the feed list as OPML 2.0, the format every
//! feed reader imports.

use crate::feed_list::FeedSource;

/// Writes `feeds` as an OPML document that [`crate::parse_opml`] reads back
/// to the same feeds (OPML requires a `text`: a feed without an outlet name
/// gets its URL there, and so comes back named by it). Characters XML 1.0 cannot carry (most control
/// characters) are left out; line breaks and tabs are kept as references.
pub fn feed_list_to_opml(feeds: &[FeedSource], title: &str) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n");
    out.push_str("  <head>\n    <title>");
    push_escaped(&mut out, title);
    out.push_str("</title>\n  </head>\n  <body>\n");
    for feed in feeds {
        out.push_str("    <outline type=\"rss\"");
        if let Some(outlet) = &feed.outlet {
            for attribute in ["text", "title"] {
                out.push_str(&format!(" {attribute}=\""));
                push_escaped(&mut out, outlet);
                out.push('"');
            }
        } else {
            out.push_str(" text=\"");
            push_escaped(&mut out, &feed.url);
            out.push('"');
        }
        out.push_str(" xmlUrl=\"");
        push_escaped(&mut out, &feed.url);
        out.push_str("\"/>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// Escapes text for an XML attribute or element.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Attribute values normalise raw whitespace to spaces.
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_opml;

    fn feed(url: &str, outlet: Option<&str>) -> FeedSource {
        FeedSource {
            url: url.into(),
            outlet: outlet.map(Into::into),
        }
    }

    #[test]
    fn export_reads_back_as_the_same_list() {
        let feeds = vec![
            feed("https://a.example/rss?x=1&y=<2>", Some("A & \"B\" <'C'>")),
            feed("https://b.example/atom", None),
            feed("https://c.example/feed", Some("tab\there\nnewline")),
        ];
        let opml = feed_list_to_opml(&feeds, "newsflow feeds");
        let back = parse_opml(&opml).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0], feeds[0]);
        assert_eq!(back[2], feeds[2]);
        // A feed without an outlet is named by its URL, as readers expect.
        assert_eq!(back[1].url, feeds[1].url);
        assert_eq!(back[1].outlet.as_deref(), Some(feeds[1].url.as_str()));
    }

    #[test]
    fn characters_xml_cannot_carry_are_left_out() {
        let feeds = vec![feed(
            "https://a.example/rss",
            Some("bad\u{0}\u{1b}[31mname"),
        )];
        let opml = feed_list_to_opml(&feeds, "t\u{7}");
        let back = parse_opml(&opml).unwrap();
        assert_eq!(back[0].outlet.as_deref(), Some("bad[31mname"));
    }
}
