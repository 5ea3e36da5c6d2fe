#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("embedded bus store at {path}: {source}")]
    Store {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("embedded bus store at {path}: starting its writer: {source}")]
    Writer {
        path: String,
        #[source]
        source: std::io::Error,
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
    /// The record is larger than the bus takes: sending it again cannot
    /// succeed.
    #[error("record for {topic} is {size} bytes, more than the bus takes ({limit} bytes)")]
    TooLarge {
        topic: String,
        size: usize,
        limit: usize,
    },
}

impl BusError {
    /// Whether sending the same record again can never succeed (it is too
    /// large, or the broker refuses its contents), as opposed to a bus that
    /// is away for now. A permanent failure goes to the dead letters; any
    /// other is retried.
    pub fn is_permanent(&self) -> bool {
        use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};
        self.is_too_large()
            || matches!(
                self,
                BusError::Kafka {
                    source: KafkaError::MessageProduction(
                        Code::InvalidRecord | Code::InvalidMessageSize
                    ),
                    ..
                }
            )
    }

    /// Whether the record is larger than the bus (or the broker) takes.
    pub fn is_too_large(&self) -> bool {
        use rdkafka::error::{KafkaError, RDKafkaErrorCode as Code};
        match self {
            BusError::TooLarge { .. } => true,
            // librdkafka reports its own size check with the broker's code
            // (MSG_SIZE_TOO_LARGE, 10).
            BusError::Kafka {
                source:
                    KafkaError::MessageProduction(
                        Code::MessageSizeTooLarge | Code::MessageBatchTooLarge,
                    ),
                ..
            } => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::{KafkaError, RDKafkaErrorCode};

    fn produce_error(code: RDKafkaErrorCode) -> BusError {
        BusError::Kafka {
            context: "producing to t".into(),
            source: KafkaError::MessageProduction(code),
        }
    }

    #[test]
    fn size_refusals_are_permanent_and_outages_are_not() {
        assert!(produce_error(RDKafkaErrorCode::MessageSizeTooLarge).is_permanent());
        assert!(produce_error(RDKafkaErrorCode::MessageSizeTooLarge).is_too_large());
        assert!(!produce_error(RDKafkaErrorCode::InvalidRecord).is_too_large());
        assert!(produce_error(RDKafkaErrorCode::MessageBatchTooLarge).is_permanent());
        assert!(BusError::TooLarge {
            topic: "raw".into(),
            size: 2,
            limit: 1
        }
        .is_permanent());
        assert!(!produce_error(RDKafkaErrorCode::MessageTimedOut).is_permanent());
        assert!(!produce_error(RDKafkaErrorCode::AllBrokersDown).is_permanent());
        assert!(!produce_error(RDKafkaErrorCode::NotLeaderForPartition).is_permanent());
        assert!(!BusError::Closed.is_permanent());
    }
}
