//! A snapshot of the core: its whole state in a compact serde format
//! (postcard), so that a restart or a changelog restore loads it instead of
//! replaying every operation ever logged. The core is deterministic and the
//! format stores floats bit for bit, so a restored core then behaves exactly
//! as the one that wrote the snapshot.

use serde::Serialize;

use crate::{ClusterError, Clusterer, ClustererConfig};

/// Layout of the snapshot bytes; bump when the core's fields change.
const SNAPSHOT_FORMAT: u32 = 1;

#[derive(Serialize)]
struct SnapshotRef<'a> {
    format: u32,
    core: &'a Clusterer,
}

/// The core's state as bytes.
pub(crate) fn encode(core: &Clusterer) -> Result<Vec<u8>, ClusterError> {
    postcard::to_stdvec(&SnapshotRef {
        format: SNAPSHOT_FORMAT,
        core,
    })
    .map_err(|error| ClusterError::Snapshot(format!("encoding: {error}")))
}

/// A core from snapshot bytes, running with `config`.
pub(crate) fn decode(bytes: &[u8], config: ClustererConfig) -> Result<Clusterer, ClusterError> {
    let corrupt = |what: String| ClusterError::Snapshot(what);
    let (format, rest): (u32, &[u8]) = postcard::take_from_bytes(bytes)
        .map_err(|e| corrupt(format!("reading its format: {e}")))?;
    if format != SNAPSHOT_FORMAT {
        return Err(corrupt(format!(
            "format {format}, this build reads {SNAPSHOT_FORMAT}"
        )));
    }
    let (core, rest): (Clusterer, &[u8]) =
        postcard::take_from_bytes(rest).map_err(|e| corrupt(format!("decoding: {e}")))?;
    if !rest.is_empty() {
        return Err(corrupt(format!("{} bytes after its end", rest.len())));
    }
    core.restored(config).map_err(corrupt)
}

impl Clusterer {
    /// The core's state as the snapshot bytes that
    /// [`ClusterStage::restore_snapshot`](crate::ClusterStage::restore_snapshot)
    /// reads: a stage on disk can start from a core built in memory (the
    /// throughput bench measures both from one state this way).
    pub fn snapshot_bytes(&self) -> Result<Vec<u8>, ClusterError> {
        encode(self)
    }
}
