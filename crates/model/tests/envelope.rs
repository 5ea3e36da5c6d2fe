use chrono::Utc;
use newsflow_model::{decode, encode, DecodeError, RawPage, SCHEMA_VERSION};

fn page() -> RawPage {
    RawPage {
        schema_version: SCHEMA_VERSION,
        item_id: "guid-1".into(),
        feed_url: "https://example.com/feed".into(),
        outlet: "Example".into(),
        item_link: "https://example.com/a".into(),
        item_title: Some("A".into()),
        item_summary: None,
        item_published: None,
        final_url: "https://example.com/a".into(),
        http_status: 200,
        content_type: Some("text/html".into()),
        fetched_at: Utc::now(),
        body: vec![0xff, 0xfe, b'<', b'p', b'>'],
        body_compression: None,
    }
}

#[test]
fn non_utf8_bodies_survive_a_round_trip() {
    let original = page();
    let back: RawPage = decode(&encode(&original)).unwrap();
    assert_eq!(back, original);
}

#[test]
fn unknown_schema_versions_are_refused() {
    let mut value: serde_json::Value = serde_json::from_slice(&encode(&page())).unwrap();
    value["schema_version"] = 99.into();
    let err = decode::<RawPage>(&serde_json::to_vec(&value).unwrap()).unwrap_err();
    assert!(matches!(err, DecodeError::SchemaVersion { found: 99, .. }));
}

#[test]
fn garbage_is_a_clear_error() {
    let err = decode::<RawPage>(b"\x00not json").unwrap_err();
    assert!(err.to_string().contains("not valid JSON for raw"), "{err}");
}
