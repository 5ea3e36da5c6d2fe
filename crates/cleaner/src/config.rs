//! Tunables of the cleaner; every field has a default, so a config file only
//! names what it changes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CleanerConfig {
    /// Bodies shorter than this (in characters) are not articles: a teaser,
    /// a paywall stub or a video caption.
    pub min_body_chars: usize,
    /// A paragraph shorter than this counts towards the body only inside the
    /// chosen content container, never as evidence for choosing it.
    pub min_paragraph_chars: usize,
    /// Pages larger than this are cut to this many bytes before parsing, so
    /// one huge page cannot take the stage's memory.
    pub max_page_bytes: usize,
    /// Language detection reads at most this many characters of the body.
    pub language_sample_chars: usize,
    /// Pages one cleaner process cleans at once; 0 for one per core. Set it
    /// to what the process may use where several cleaner processes (or
    /// other services) share a machine.
    pub workers: usize,
}

impl Default for CleanerConfig {
    fn default() -> Self {
        CleanerConfig {
            min_body_chars: 250,
            min_paragraph_chars: 25,
            max_page_bytes: 16 * 1024 * 1024,
            language_sample_chars: 400,
            workers: 0,
        }
    }
}
