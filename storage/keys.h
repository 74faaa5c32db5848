#pragma once
// Key and value encodings of the RocksDB log store (internal to storage/).
//
// Keys are big endian so that RocksDB's bytewise order is the logical order:
// one partition's entries are contiguous and sorted by offset (or time).
//
//   partition prefix = topic_id (8 BE) || partition (4 BE)       12 bytes
//   data / index key = prefix || base_offset (8 BE)              20 bytes
//   time index key   = prefix || running max timestamp (8 BE, sign flipped)
//
// Values of the small column families are fixed-width little endian.
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "storage/log_store.h"

namespace herald::storage::keys {

inline constexpr size_t kPrefixBytes = 12;
inline constexpr size_t kKeyBytes = 20;

inline void PutBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

inline uint64_t GetBigEndian64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

inline std::string PartitionPrefix(PartitionKey key) {
  std::string out;
  out.reserve(kKeyBytes);
  PutBigEndian64(&out, key.topic_id);
  const auto p = static_cast<uint32_t>(key.partition);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(p >> shift));
  return out;
}

inline PartitionKey DecodePartitionPrefix(absl::string_view key) {
  PartitionKey out;
  out.topic_id = GetBigEndian64(key.data());
  uint32_t p = 0;
  for (int i = 8; i < 12; ++i) p = (p << 8) | static_cast<uint8_t>(key[i]);
  out.partition = static_cast<int32_t>(p);
  return out;
}

// The first key after every key of the partition (exclusive upper bound).
inline std::string PartitionEnd(PartitionKey key) {
  std::string out = PartitionPrefix(key);
  // Incrementing the 12-byte prefix as a big-endian number; the all-0xff
  // prefix (topic_id 2^64-1) never occurs because ids start at 1.
  for (int i = static_cast<int>(kPrefixBytes) - 1; i >= 0; --i) {
    if (static_cast<uint8_t>(out[i]) != 0xff) {
      out[i] = static_cast<char>(static_cast<uint8_t>(out[i]) + 1);
      break;
    }
    out[i] = '\0';
  }
  return out;
}

// Offsets are never negative, so their plain big-endian form sorts correctly.
inline std::string OffsetKey(PartitionKey key, int64_t offset) {
  std::string out = PartitionPrefix(key);
  PutBigEndian64(&out, static_cast<uint64_t>(offset));
  return out;
}

inline int64_t OffsetOfKey(absl::string_view key) {
  return static_cast<int64_t>(GetBigEndian64(key.data() + kPrefixBytes));
}

// Flipping the sign bit makes negative timestamps sort before positive ones.
inline std::string TimeKey(PartitionKey key, int64_t timestamp_ms) {
  std::string out = PartitionPrefix(key);
  PutBigEndian64(&out, static_cast<uint64_t>(timestamp_ms) ^ (uint64_t{1} << 63));
  return out;
}

inline int64_t TimeOfKey(absl::string_view key) {
  return static_cast<int64_t>(GetBigEndian64(key.data() + kPrefixBytes) ^ (uint64_t{1} << 63));
}

// Fixed-width little-endian int64 fields, used by the small value formats.
inline void PutFixed64(std::string* out, int64_t v) {
  for (int i = 0; i < 8; ++i)
    out->push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
}

inline int64_t GetFixed64(const char* in) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return static_cast<int64_t>(v);
}

// One entry of the per-batch index column family: what retention, stats and
// timestamp lookups need without reading the batch itself.
struct IndexEntry {
  int64_t stored_bytes = 0;
  int64_t record_count = 0;
  int64_t max_timestamp_ms = 0;
  int64_t leader_epoch = 0;
};
inline constexpr size_t kIndexEntryBytes = 32;

inline std::string EncodeIndexEntry(const IndexEntry& e) {
  std::string out;
  out.reserve(kIndexEntryBytes);
  PutFixed64(&out, e.stored_bytes);
  PutFixed64(&out, e.record_count);
  PutFixed64(&out, e.max_timestamp_ms);
  PutFixed64(&out, e.leader_epoch);
  return out;
}

inline bool DecodeIndexEntry(absl::string_view in, IndexEntry* e) {
  if (in.size() != kIndexEntryBytes) return false;
  e->stored_bytes = GetFixed64(in.data());
  e->record_count = GetFixed64(in.data() + 8);
  e->max_timestamp_ms = GetFixed64(in.data() + 16);
  e->leader_epoch = GetFixed64(in.data() + 24);
  return true;
}

// The durable per-partition record, rewritten in the same WriteBatch as every
// change to the partition so that opening the store reads only these.
struct PartitionRecord {
  PartitionStats stats;
  // Largest max_timestamp_ms appended so far (INT64_MIN when none): the time
  // index gets an entry only when a batch raises it.
  int64_t running_max_timestamp_ms = INT64_MIN;
};
inline constexpr size_t kPartitionRecordBytes = 40;

inline std::string EncodePartitionRecord(const PartitionRecord& r) {
  std::string out;
  out.reserve(kPartitionRecordBytes);
  PutFixed64(&out, r.stats.log_start_offset);
  PutFixed64(&out, r.stats.log_end_offset);
  PutFixed64(&out, r.stats.size_bytes);
  PutFixed64(&out, r.stats.batch_count);
  PutFixed64(&out, r.running_max_timestamp_ms);
  return out;
}

inline bool DecodePartitionRecord(absl::string_view in, PartitionRecord* r) {
  if (in.size() != kPartitionRecordBytes) return false;
  r->stats.log_start_offset = GetFixed64(in.data());
  r->stats.log_end_offset = GetFixed64(in.data() + 8);
  r->stats.size_bytes = GetFixed64(in.data() + 16);
  r->stats.batch_count = GetFixed64(in.data() + 24);
  r->running_max_timestamp_ms = GetFixed64(in.data() + 32);
  return true;
}

}  // namespace herald::storage::keys
