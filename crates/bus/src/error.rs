#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("embedded bus store at {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("kafka: {context}: {source}")]
    Kafka {
        context: String,
        #[source]
        source: rdkafka::error::KafkaError,
    },
    #[error("consumer group {0} is attached in this process and cannot be dropped")]
    GroupAttached(String),
    #[error("the bus is shut down")]
    Closed,
}
