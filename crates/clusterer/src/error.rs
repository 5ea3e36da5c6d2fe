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
}
