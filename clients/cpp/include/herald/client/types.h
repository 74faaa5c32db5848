#pragma once
// Plain value types shared by the Herald C++ client: records as the
// application sees them, positions and delivery results.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace herald::client {

struct Header {
  std::string key;
  std::string value;
};

// A record to produce. Every field is optional. timestamp_ms 0 means "unset":
// readers then see the batch's append time.
struct Record {
  std::string key;
  std::string value;
  std::vector<Header> headers;
  int64_t timestamp_ms = 0;
};

// Where a produced record was written.
struct RecordMetadata {
  std::string topic;
  int32_t partition = -1;
  // -1 when unknown (acks NONE: the broker sends no acknowledgement).
  int64_t offset = -1;
};

enum class TimestampKind { kCreateTime, kLogAppendTime };

// A consumed record. timestamp_ms is already resolved: the record's create
// time, or the batch's append time (LOG_APPEND_TIME topics, or records
// produced without a timestamp).
struct ConsumedRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  TimestampKind timestamp_kind = TimestampKind::kCreateTime;
  std::string key;
  std::string value;
  std::vector<Header> headers;
};

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  bool operator==(const TopicPartition& o) const {
    return partition == o.partition && topic == o.topic;
  }
  bool operator<(const TopicPartition& o) const {
    return topic != o.topic ? topic < o.topic : partition < o.partition;
  }
};

// A position to start reading a partition from.
struct StartPosition {
  enum class Kind { kEarliest, kLatest, kCommitted, kOffset, kTimestamp };
  Kind kind = Kind::kLatest;
  int64_t value = 0;  // the offset (kOffset) or time in ms (kTimestamp)

  static StartPosition Earliest() { return {Kind::kEarliest, 0}; }
  static StartPosition Latest() { return {Kind::kLatest, 0}; }
  static StartPosition Committed() { return {Kind::kCommitted, 0}; }
  static StartPosition Offset(int64_t offset) { return {Kind::kOffset, offset}; }
  static StartPosition Timestamp(int64_t timestamp_ms) { return {Kind::kTimestamp, timestamp_ms}; }
};

// Next offset to read of one partition (Kafka convention), for commits.
struct PartitionOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string metadata;
};

enum class Acks { kNone, kLeader, kAll };

}  // namespace herald::client
