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

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Incremental FNV-1a over bytes, finished with `mix64`.
#[derive(Clone, Copy)]
pub(crate) struct ByteHasher(u64);

impl ByteHasher {
    pub(crate) fn new() -> Self {
        Self(FNV_OFFSET)
    }
    pub(crate) fn write_byte(&mut self, byte: u8) {
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
    }
    pub(crate) fn finish(self) -> u64 {
        mix64(self.0)
    }
}
