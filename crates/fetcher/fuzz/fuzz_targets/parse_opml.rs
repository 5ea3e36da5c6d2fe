//! Any text as a feed list or OPML import: parsing returns, never panics,
//! and an accepted list holds only URLs that parse as absolute http(s)
//! (as written: `https:x.example/a` is one, the WHATWG parser adds the
//! slashes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsflow_fetcher::{import_opml, parse_feed_list, parse_opml};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = parse_opml(&text);
    if let Ok(feeds) = parse_feed_list(&text) {
        for feed in feeds {
            let url = url::Url::parse(&feed.url).expect("an accepted URL parses");
            assert!(matches!(url.scheme(), "http" | "https"), "{}", feed.url);
        }
    }
    let _ = import_opml(&text, None);
});
