//! The LSH band table: a multimap from band key to story slot, open
//! addressing with linear probing in one flat array of 8-byte entries.
//! A general-purpose `HashMap<u64, Vec<u32>>` would cost several times the
//! memory per entry, and every remembered story has `BANDS` entries.

use crate::hashing::mix64;

const EMPTY: u64 = u64::MAX;
/// Grow when more than 7/10 of the entries are used: linear probing stays
/// short (a few entries, one cache line) below that.
const MAX_LOAD_NUM: usize = 7;
const MAX_LOAD_DEN: usize = 10;

/// An entry packs the key's 32-bit fingerprint (high half) and the slot
/// (low half). The home position is a hash of the fingerprint, so entries
/// can be moved (on growth or deletion) without the original key, and
/// entries sharing a home still differ in their fingerprints.
pub(crate) struct BandTable {
    entries: Vec<u64>,
    used: usize,
    shift: u32,
}

fn fingerprint(key: u64) -> u32 {
    (key >> 32) as u32
}

fn pack(fingerprint: u32, slot: u32) -> u64 {
    (u64::from(fingerprint) << 32) | u64::from(slot)
}

impl BandTable {
    pub(crate) fn new() -> Self {
        Self::with_capacity_log2(10)
    }

    fn with_capacity_log2(log2: u32) -> Self {
        Self {
            entries: vec![EMPTY; 1 << log2],
            used: 0,
            shift: 64 - log2,
        }
    }

    fn mask(&self) -> usize {
        self.entries.len() - 1
    }

    fn home(&self, fingerprint: u32) -> usize {
        (mix64(u64::from(fingerprint)) >> self.shift) as usize
    }

    pub(crate) fn insert(&mut self, key: u64, slot: u32) {
        if (self.used + 1) * MAX_LOAD_DEN > self.entries.len() * MAX_LOAD_NUM {
            self.grow();
        }
        self.place(pack(fingerprint(key), slot));
        self.used += 1;
    }

    fn place(&mut self, entry: u64) {
        let mask = self.mask();
        let mut index = self.home((entry >> 32) as u32);
        while self.entries[index] != EMPTY {
            index = (index + 1) & mask;
        }
        self.entries[index] = entry;
    }

    fn grow(&mut self) {
        let log2 = 64 - self.shift + 1;
        let old = std::mem::replace(self, Self::with_capacity_log2(log2));
        for entry in old.entries.into_iter().filter(|&e| e != EMPTY) {
            self.place(entry);
        }
        self.used = old.used;
    }

    /// Loads the home entries of all `keys` with no branch depending on
    /// them, so the processor fetches them from memory in parallel; the
    /// probes that follow then hit the cache. (At a million stories the
    /// table is far larger than any cache and each probe is a cache and TLB
    /// miss; issued one after another they dominate a lookup.)
    pub(crate) fn warm(&self, keys: &[u64]) {
        let touched = keys.iter().fold(0u64, |acc, &key| {
            acc ^ self.entries[self.home(fingerprint(key))]
        });
        std::hint::black_box(touched);
    }

    /// Calls `found` with every slot stored under `key` (and, with
    /// probability about 2^-32 per probed entry, a slot of another key;
    /// callers verify candidates anyway).
    pub(crate) fn for_each(&self, key: u64, mut found: impl FnMut(u32)) {
        let wanted = fingerprint(key);
        let mask = self.mask();
        let mut index = self.home(wanted);
        loop {
            let entry = self.entries[index];
            if entry == EMPTY {
                return;
            }
            if (entry >> 32) as u32 == wanted {
                found(entry as u32);
            }
            index = (index + 1) & mask;
        }
    }

    /// Removes one `(key, slot)` entry, if present.
    pub(crate) fn remove(&mut self, key: u64, slot: u32) {
        let target = pack(fingerprint(key), slot);
        let mask = self.mask();
        let mut index = self.home(fingerprint(key));
        loop {
            match self.entries[index] {
                EMPTY => return,
                entry if entry == target => break,
                _ => index = (index + 1) & mask,
            }
        }
        // Backward-shift deletion: pull later entries of the probe run into
        // the hole when their home lies at or before it, so no tombstones.
        let mut hole = index;
        let mut next = (index + 1) & mask;
        loop {
            let entry = self.entries[next];
            if entry == EMPTY {
                break;
            }
            let home = self.home((entry >> 32) as u32);
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                self.entries[hole] = entry;
                hole = next;
            }
            next = (next + 1) & mask;
        }
        self.entries[hole] = EMPTY;
        self.used -= 1;
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.used
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries.len() * std::mem::size_of::<u64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots_for(table: &BandTable, key: u64) -> Vec<u32> {
        let mut slots = Vec::new();
        table.for_each(key, |slot| slots.push(slot));
        slots.sort_unstable();
        slots
    }

    #[test]
    fn keeps_every_slot_of_a_key_through_growth() {
        let mut table = BandTable::new();
        for slot in 0..5000u32 {
            table.insert(mix64(u64::from(slot % 1000)), slot);
        }
        assert_eq!(table.len(), 5000);
        assert_eq!(slots_for(&table, mix64(7)), vec![7, 1007, 2007, 3007, 4007]);
        assert!(slots_for(&table, mix64(123_456)).is_empty());
    }

    #[test]
    fn removal_leaves_the_other_entries_reachable() {
        let mut table = BandTable::new();
        for slot in 0..3000u32 {
            table.insert(mix64(u64::from(slot)), slot);
        }
        for slot in (0..3000u32).step_by(2) {
            table.remove(mix64(u64::from(slot)), slot);
        }
        assert_eq!(table.len(), 1500);
        for slot in 0..3000u32 {
            let expected = if slot % 2 == 1 { vec![slot] } else { vec![] };
            assert_eq!(slots_for(&table, mix64(u64::from(slot))), expected);
        }
    }

    #[test]
    fn removing_an_absent_entry_changes_nothing() {
        let mut table = BandTable::new();
        table.insert(mix64(1), 1);
        table.remove(mix64(1), 2);
        table.remove(mix64(2), 1);
        assert_eq!(slots_for(&table, mix64(1)), vec![1]);
        assert_eq!(table.len(), 1);
    }
}
