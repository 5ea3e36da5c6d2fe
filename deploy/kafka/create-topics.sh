#!/usr/bin/env bash
# Creates newsflow's topics on an Apache Kafka or Redpanda cluster ahead of
# time (for clusters where clients may not create topics; otherwise
# `newsflow run` creates them with bus.kafka.create_topics = true).
#
#   BOOTSTRAP=broker:9092 PREFIX=newsflow. REPLICATION=3 deploy/kafka/create-topics.sh
#
# Partitioning: `raw` and `articles` may have many partitions (the fetcher
# and cleaner scale out by consumer group). `articles` and `unique` feed
# stages that keep global state (dedup, clusterer): give them one partition
# so one member sees every story, in order; more members of those groups
# stand by for failover. `events` is compacted: keyed by event id, it keeps
# each event's latest state for consumers that start late.
# `dead-letters` holds the records a stage could not process or deliver
# (with their payloads, for `newsflow dead-letters list|replay`), and
# `dead-letters-replayed` what replay re-injected already: one partition,
# kept 90 days.
# Sizes: every topic takes a record batch of MAX_MESSAGE_BYTES (the same
# value as bus.kafka.max_message_bytes) plus 64 KiB of batch framing, the
# same `max.message.bytes` newsflow sets when it creates topics itself and
# the `message.max.bytes` its producer uses.
# `clusterer-changelog` is the clusterer's state (its recent operations and
# a snapshot every 1024 of them, read back by a member given its input): one
# partition for one order, compacted (operations are keyed by seq modulo
# 4096, so old ones are overwritten once a snapshot covers them).
# `dedup-changelog` is dedup's state, one record per remembered story:
# compacted, so it holds the current window, not its history.
set -euo pipefail
BOOTSTRAP=${BOOTSTRAP:-127.0.0.1:9092}
PREFIX=${PREFIX:-newsflow.}
REPLICATION=${REPLICATION:-3}
RAW_PARTITIONS=${RAW_PARTITIONS:-12}
TOPICS=${KAFKA_TOPICS:-kafka-topics.sh}
MAX_MESSAGE_BYTES=${MAX_MESSAGE_BYTES:-16777216}
MAX_BATCH_BYTES=$((MAX_MESSAGE_BYTES + 65536))

create() {
  local name=$1 partitions=$2; shift 2
  "$TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "${PREFIX}${name}" --partitions "$partitions" \
    --replication-factor "$REPLICATION" --config "max.message.bytes=$MAX_BATCH_BYTES" "$@"
}

create raw "$RAW_PARTITIONS" --config retention.ms=604800000
create articles 1 --config retention.ms=604800000
create unique 1 --config retention.ms=2592000000
create duplicates 1 --config retention.ms=2592000000
create events 1 --config cleanup.policy=compact --config min.compaction.lag.ms=60000
create dead-letters 1 --config cleanup.policy=delete --config retention.ms=7776000000
create dead-letters-replayed 1 --config cleanup.policy=delete --config retention.ms=7776000000
create clusterer-changelog 1 --config cleanup.policy=compact
create dedup-changelog 1 --config cleanup.policy=compact
