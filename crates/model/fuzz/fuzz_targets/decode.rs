//! Any bytes, read as every message type newsflow's stages exchange:
//! `decode` returns, never panics, and what it accepts survives a round trip
//! through `encode` unchanged (so a stage that re-publishes a record it
//! read writes what it read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use newsflow_model::{
    decode, encode, Article, DeadLetter, DuplicateRecord, EventRecord, Message, RawPage,
    UniqueStory,
};

fn round_trip<M: Message + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(message) = decode::<M>(data) {
        let again: M = decode(&encode(&message)).expect("an encoded message decodes");
        assert_eq!(again, message);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<RawPage>(data);
    round_trip::<Article>(data);
    round_trip::<UniqueStory>(data);
    round_trip::<DuplicateRecord>(data);
    round_trip::<EventRecord>(data);
    round_trip::<DeadLetter>(data);
});
