use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("clusterer state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("clusterer state log entry {seq} is not valid: {source}")]
    CorruptLog {
        seq: i64,
        #[source]
        source: serde_json::Error,
    },
    #[error("clusterer snapshot is not valid: {0}")]
    Snapshot(String),
    #[error("clusterer operations after {requested} were asked for, but those through {compacted} were folded into a snapshot and deleted")]
    Compacted { requested: i64, compacted: i64 },
}
