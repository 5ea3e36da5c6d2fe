//! A `raw` page's body compressed by the fetcher, for a broker whose cost
//! grows with the bytes it stores and serves: tansu keeps records as sent
//! but compresses them again for every fetch, so Kafka's own compression
//! costs it more than it saves (README, "Whole pipeline"), while pages
//! compressed inside the message are stored and served as opaque bytes.
//! On by default on the embedded bus only (`fetcher.page_compression`): on
//! Kafka a cleaner older than this field, or another reader of `raw`, would
//! take the compressed bytes for the page.

use std::borrow::Cow;
use std::io::Read;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a page's body is compressed inside its `raw` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PageCompression {
    /// Zstandard (one frame).
    Zstd,
}

/// zstd's fast end: a page compresses about 4x at several hundred MB/s.
const ZSTD_LEVEL: i32 = 1;

/// The largest window a frame may ask the decoder for, 16 MiB (as large as
/// `cleaner.max_page_bytes` by default; level 1 uses 512 KiB at most): a
/// hostile record cannot make it allocate zstd's default 128 MiB.
const ZSTD_WINDOW_LOG_MAX: u32 = 24;

#[derive(Debug, thiserror::Error)]
pub enum PageBodyError {
    #[error("compressed page body unreadable: {0}")]
    Corrupt(#[from] std::io::Error),
}

impl PageCompression {
    /// `page` compressed; an error only if zstd cannot allocate its state
    /// (the caller then sends the page as served).
    pub fn compress(self, page: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Self::Zstd => zstd::bulk::compress(page, ZSTD_LEVEL),
        }
    }
}

/// `body` as the page was served, cut at `limit` bytes: itself when
/// `compression` is `None`, else decompressed no further than the limit (a
/// small record cannot expand into an unbounded page; the cleaner cuts an
/// uncompressed page at the same length).
pub(crate) fn page_bytes(
    body: &[u8],
    compression: Option<PageCompression>,
    limit: usize,
) -> Result<Cow<'_, [u8]>, PageBodyError> {
    match compression {
        None => Ok(Cow::Borrowed(&body[..body.len().min(limit)])),
        Some(PageCompression::Zstd) => {
            let mut decoder = zstd::stream::read::Decoder::new(body)?;
            decoder.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
            let mut page = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
            decoder.take(limit as u64).read_to_end(&mut page)?;
            Ok(Cow::Owned(page))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compressed_page_reads_back_as_served() {
        let page = "<html><body><p>Putin arrived in Baku.</p></body></html>".repeat(200);
        let compressed = PageCompression::Zstd.compress(page.as_bytes()).unwrap();
        assert!(compressed.len() < page.len() / 4);
        let read = page_bytes(&compressed, Some(PageCompression::Zstd), 1 << 20).unwrap();
        assert_eq!(&*read, page.as_bytes());
    }

    #[test]
    fn an_uncompressed_body_is_the_page_itself_cut_at_the_limit() {
        let read = page_bytes(b"<p>plain</p>", None, 64).unwrap();
        assert_eq!(&*read, b"<p>plain</p>");
        assert!(matches!(read, Cow::Borrowed(_)));
        assert_eq!(&*page_bytes(b"<p>plain</p>", None, 3).unwrap(), b"<p>");
    }

    #[test]
    fn a_small_record_expands_no_further_than_the_limit() {
        let bomb = PageCompression::Zstd
            .compress(&vec![b'a'; 64 << 20])
            .unwrap();
        assert!(bomb.len() < 16 << 10, "{} bytes", bomb.len());
        let read = page_bytes(&bomb, Some(PageCompression::Zstd), 1 << 20).unwrap();
        assert_eq!(read.len(), 1 << 20);
    }

    #[test]
    fn bytes_that_are_not_zstd_are_refused() {
        let refused = page_bytes(
            b"<html>not compressed</html>",
            Some(PageCompression::Zstd),
            1 << 20,
        );
        assert!(matches!(refused, Err(PageBodyError::Corrupt(_))));
    }

    #[test]
    fn a_frame_asking_for_a_larger_window_than_pages_need_is_refused() {
        let mut encoder = zstd::bulk::Compressor::new(19).unwrap();
        encoder
            .set_parameter(zstd::stream::raw::CParameter::WindowLog(27))
            .unwrap();
        encoder
            .set_parameter(zstd::stream::raw::CParameter::EnableLongDistanceMatching(
                true,
            ))
            .unwrap();
        let page: Vec<u8> = (0..40u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let frame = encoder.compress(&page).unwrap();
        let refused = page_bytes(&frame, Some(PageCompression::Zstd), 64 << 20);
        assert!(matches!(refused, Err(PageBodyError::Corrupt(_))));
    }
}
