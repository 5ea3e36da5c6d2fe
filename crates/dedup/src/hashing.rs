//! Stable 64-bit hashing. State is persisted and rebuilt after restarts, so
//! the hashes must not depend on a per-process random seed (as std's do).

/// The splitmix64 finaliser: spreads every input bit over the whole word.
pub(crate) fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Incremental hash of a short byte string (a word): bytes are packed
/// eight to a word and each full word is folded in with one multiply, so a
/// typical word costs one fold and the final mix instead of a multiply per
/// byte.
#[derive(Clone, Copy)]
pub(crate) struct ByteHasher {
    state: u64,
    pending: u64,
    pending_len: u32,
    total_len: u32,
}

impl ByteHasher {
    pub(crate) fn new() -> Self {
        Self {
            state: 0x243f_6a88_85a3_08d3,
            pending: 0,
            pending_len: 0,
            total_len: 0,
        }
    }

    pub(crate) fn write_byte(&mut self, byte: u8) {
        self.pending |= u64::from(byte) << (8 * self.pending_len);
        self.pending_len += 1;
        self.total_len += 1;
        if self.pending_len == 8 {
            self.state = (self.state ^ self.pending)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(29);
            self.pending = 0;
            self.pending_len = 0;
        }
    }

    /// Writes `bytes | 0x20` (ASCII letters lower-cased, digits
    /// unchanged), eight bytes at a time, exactly as `write_byte` per byte
    /// would. Only for a fresh hasher.
    pub(crate) fn write_ascii_lowered(&mut self, bytes: &[u8]) {
        debug_assert_eq!(self.pending_len, 0);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let lowered = u64::from_le_bytes(word) | 0x2020_2020_2020_2020;
            self.state = (self.state ^ lowered)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(29);
            self.total_len += 8;
        }
        for &byte in chunks.remainder() {
            self.write_byte(byte | 0x20);
        }
    }

    pub(crate) fn finish(self) -> u64 {
        mix64(self.state ^ mix64(self.pending ^ (u64::from(self.total_len) << 56)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(bytes: &[u8]) -> u64 {
        let mut hasher = ByteHasher::new();
        bytes.iter().for_each(|&b| hasher.write_byte(b));
        hasher.finish()
    }

    #[test]
    fn distinct_short_strings_hash_apart() {
        let words: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"b",
            b"ab",
            b"ba",
            b"a\0",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefgh\0",
        ];
        let mut hashes: Vec<u64> = words.iter().map(|w| hash(w)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), words.len());
    }

    #[test]
    fn bulk_writes_equal_byte_writes() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len as u8)
                .map(|b| b"AbZ09xQ"[usize::from(b) % 7])
                .collect();
            let lowered: Vec<u8> = bytes.iter().map(|b| b | 0x20).collect();
            let mut bulk = ByteHasher::new();
            bulk.write_ascii_lowered(&bytes);
            assert_eq!(bulk.finish(), hash(&lowered), "length {len}");
        }
    }
}
