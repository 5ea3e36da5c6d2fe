//! Hostile bytes on a topic: `decode` refuses or reads them in time linear
//! in their size, without deep recursion (serde_json stops nesting at 128
//! levels), for every message type. A generated corpus, not a stored one.

use std::time::{Duration, Instant};

use newsflow_model::{
    decode, Article, DeadLetter, DuplicateRecord, EventRecord, Message, RawPage, UniqueStory,
};

fn hostile_corpus() -> Vec<(&'static str, Vec<u8>)> {
    let mut corpus: Vec<(&'static str, Vec<u8>)> = vec![
        ("deep arrays", "[".repeat(1_000_000).into_bytes()),
        ("deep objects", "{\"a\":".repeat(300_000).into_bytes()),
        (
            "deep schema_version",
            format!(
                "{{\"schema_version\":{}1{}}}",
                "[".repeat(200_000),
                "]".repeat(200_000)
            )
            .into_bytes(),
        ),
        (
            "huge number",
            format!("{{\"schema_version\":1{}}}", "0".repeat(1_000_000)).into_bytes(),
        ),
        ("float version", br#"{"schema_version":1e308}"#.to_vec()),
        ("negative version", br#"{"schema_version":-1.5}"#.to_vec()),
        ("nan-ish version", br#"{"schema_version":"NaN"}"#.to_vec()),
        ("many keys", {
            let mut text = String::from("{\"schema_version\":1");
            for i in 0..200_000 {
                text.push_str(&format!(",\"k{i}\":{i}"));
            }
            text.push('}');
            text.into_bytes()
        }),
        (
            "long string",
            format!(
                "{{\"schema_version\":1,\"item_id\":\"{}\"}}",
                "x".repeat(5_000_000)
            )
            .into_bytes(),
        ),
        (
            "many escapes",
            format!(
                "{{\"schema_version\":1,\"title\":\"{}\"}}",
                "\\u00e9".repeat(500_000)
            )
            .into_bytes(),
        ),
        (
            "lone surrogate",
            br#"{"schema_version":1,"item_id":"\ud800"}"#.to_vec(),
        ),
        ("invalid utf-8", vec![b'{', 0xff, 0xfe, b'}']),
        ("empty", Vec::new()),
        (
            "bad base64 body",
            br#"{"schema_version":1,"body":"!!!"}"#.to_vec(),
        ),
    ];
    // A body of a hundred thousand tiny array members.
    corpus.push((
        "wide array",
        format!(
            "{{\"schema_version\":1,\"members\":[{}0]}}",
            "0,".repeat(500_000)
        )
        .into_bytes(),
    ));
    corpus
}

fn refuses_in_time<M: Message>(name: &str, bytes: &[u8]) {
    let started = Instant::now();
    let result = decode::<M>(bytes);
    let elapsed = started.elapsed();
    assert!(
        result.is_err(),
        "{name} decoded as {} though it is no such message",
        M::TOPIC
    );
    // Generous: what takes milliseconds must not take seconds (a quadratic
    // path on a few MB would).
    assert!(
        elapsed < Duration::from_secs(10),
        "{name} took {elapsed:?} as {}",
        M::TOPIC
    );
}

#[test]
fn hostile_bytes_are_refused_promptly_as_every_message_type() {
    for (name, bytes) in hostile_corpus() {
        refuses_in_time::<RawPage>(name, &bytes);
        refuses_in_time::<Article>(name, &bytes);
        refuses_in_time::<UniqueStory>(name, &bytes);
        refuses_in_time::<DuplicateRecord>(name, &bytes);
        refuses_in_time::<EventRecord>(name, &bytes);
        refuses_in_time::<DeadLetter>(name, &bytes);
    }
}
