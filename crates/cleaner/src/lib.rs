//! The cleaner stage: a fetched page in, the article out — title, byline,
//! published time, language, canonical URL, lead image and the body text
//! with paragraph breaks, and none of the page's chrome.
//!
//! [`extract`] is the pure core (bytes to [`Extracted`]); [`clean`] builds the
//! `articles` message from a `raw` message with it.

mod article;
mod boilerplate;
mod bounded_markup;
mod config;
mod content;
mod dates;
mod decode;
mod error;
mod extract;
mod hints;
mod language;
mod metadata;
mod scan;
mod standfirst;
mod story_parts;
mod strip;
mod text;
mod tree_sink;
mod verdict;

pub use article::clean;
pub use config::CleanerConfig;
pub use dates::parse_date;
pub use error::CleanError;
pub use extract::{extract, Extracted};
