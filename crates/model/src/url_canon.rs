//! One canonical form per article URL, so that one page reached through
//! tracking links, fragments or `www.` variants keeps one identity.

use sha2::{Digest, Sha256};
use url::Url;

/// Query parameters that identify a campaign or referrer, never a page.
pub const TRACKING_PARAMS: &[&str] = &[
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "utm_id",
    "utm_name",
    "at_medium",
    "at_campaign",
    "at_custom1",
    "at_custom2",
    "at_custom3",
    "at_custom4",
    "traffic_source",
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "ocid",
    "cmpid",
    "smid",
    "smtyp",
    "ns_mchannel",
    "ns_source",
    "ns_campaign",
    "ns_linkname",
    "ns_fee",
    "ref",
    "ref_src",
    "rss",
    "src",
    "CMP",
    "guccounter",
    "guce_referrer",
    "guce_referrer_sig",
    "_ga",
    "yclid",
    "igshid",
];

fn is_tracking(name: &str) -> bool {
    name.starts_with("utm_") || TRACKING_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// Canonical form: lower-case scheme and host, no `www.`/`m.`/`amp.` host
/// prefix, no fragment, no tracking parameters, remaining parameters sorted,
/// no trailing `/amp` path segment or `index.html`, no trailing slash.
/// Returns the input unchanged when it is not an absolute http(s) URL.
pub fn canonical_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw.trim()) else {
        return raw.trim().to_string();
    };
    if !matches!(url.scheme(), "http" | "https") {
        return url.to_string();
    }
    let _ = url.set_scheme("https");
    url.set_fragment(None);
    if let Some(host) = url.host_str().map(str::to_ascii_lowercase) {
        let trimmed = ["www.", "m.", "amp.", "mobile."]
            .iter()
            .find_map(|p| host.strip_prefix(p).filter(|rest| rest.contains('.')))
            .unwrap_or(&host)
            .to_string();
        let _ = url.set_host(Some(&trimmed));
    }
    let _ = url.set_port(None);
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| {
            !is_tracking(k)
                && !k.eq_ignore_ascii_case("amp")
                && !k.eq_ignore_ascii_case("outputType")
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    if params.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(params);
    }
    let mut path = url.path().to_string();
    for suffix in ["/amp", "/amp/", ".amp", "/index.html", "/index.htm"] {
        if path.len() > suffix.len() && path.ends_with(suffix) {
            path.truncate(path.len() - suffix.len());
        }
    }
    while path.len() > 1 && path.ends_with('/') {
        path.pop();
    }
    url.set_path(&path);
    url.to_string()
}

/// A short stable id for the page behind a URL.
pub fn story_id_for_url(raw: &str) -> String {
    let digest = Sha256::digest(canonical_url(raw).as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_parameters_and_fragment_are_removed() {
        assert_eq!(
            canonical_url(
                "http://WWW.Example.com/news/a-story/?utm_source=rss&id=7&at_medium=x#comments"
            ),
            "https://example.com/news/a-story?id=7"
        );
    }

    #[test]
    fn amp_and_mobile_variants_share_a_form() {
        let plain = canonical_url("https://example.com/world/story");
        assert_eq!(
            canonical_url("https://m.example.com/world/story/amp"),
            plain
        );
        assert_eq!(
            canonical_url("https://amp.example.com/world/story?amp=1"),
            plain
        );
        assert_eq!(canonical_url("https://www.example.com/world/story/"), plain);
    }

    #[test]
    fn meaningful_parameters_are_kept_in_a_stable_order() {
        assert_eq!(
            canonical_url("https://example.com/a?b=2&a=1"),
            canonical_url("https://example.com/a?a=1&b=2")
        );
        assert_ne!(
            canonical_url("https://example.com/a?id=1"),
            canonical_url("https://example.com/a?id=2")
        );
    }

    #[test]
    fn ids_are_stable_across_variants() {
        assert_eq!(
            story_id_for_url("https://www.example.com/x?utm_campaign=a"),
            story_id_for_url("https://example.com/x")
        );
        assert_eq!(story_id_for_url("https://example.com/x").len(), 24);
    }

    #[test]
    fn non_http_input_is_returned_as_is() {
        assert_eq!(canonical_url("not a url"), "not a url");
    }
}
