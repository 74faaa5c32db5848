#pragma once
// The stored form of a record batch, used from producer to disk to consumer.
//
//   stored batch = 64-byte header || payload
//   payload      = the serialized herald.v1.RecordBatch exactly as the
//                  producer sent it (a run of field-1 Record entries)
//
// Header layout (little endian):
//   [0,4)   header_crc   CRC-32C of bytes [4,64)
//   [4]     version      kBatchFormatVersion
//   [5]     flags        bits 0-1: timestamp type (1 create, 2 log append)
//                        bit 2: control batch (kControlFlag)
//   [6,8)   reserved (0)
//   [8,16)  base_offset
//   [16,24) leader_epoch (Raft term the batch was written in)
//   [24,32) append_time_ms
//   [32,40) max_timestamp_ms (largest record timestamp; append time if none)
//   [40,48) producer_id (-1: not idempotent)
//   [48,52) base_sequence
//   [52,56) record_count
//   [56,58) producer_epoch
//   [58,60) reserved (0)
//   [60,64) payload_crc  CRC-32C of the payload
//
// Two checksums so the expensive one (payload) is computed once, off the
// storage writer thread, and the header (whose offset and times are set at
// append) is cheap to re-seal.
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace herald {

inline constexpr size_t kBatchHeaderBytes = 64;
inline constexpr uint8_t kBatchFormatVersion = 1;

enum class TimestampType : uint8_t { kCreateTime = 1, kLogAppendTime = 2 };

// Flags byte bit marking a control batch: written by the log itself (a Raft
// no-op entry, one offset, empty payload), never by a producer. Readers that
// hand batches to consumers skip control batches, so consumers see an offset
// gap instead.
inline constexpr uint8_t kControlFlag = 1 << 2;

struct BatchHeader {
  TimestampType timestamp_type = TimestampType::kCreateTime;
  int64_t base_offset = 0;
  int64_t leader_epoch = 0;
  int64_t append_time_ms = 0;
  int64_t max_timestamp_ms = 0;
  int64_t producer_id = -1;
  int32_t base_sequence = -1;
  int32_t record_count = 0;
  int16_t producer_epoch = -1;
  uint32_t payload_crc = 0;
  bool control = false;  // kControlFlag

  int64_t next_offset() const { return base_offset + record_count; }
};

// Writes the 64 header bytes (computing header_crc) to `out`.
void EncodeBatchHeader(const BatchHeader& header, char* out);

// header || payload, with payload_crc computed from `payload`.
std::string EncodeBatch(BatchHeader header, absl::string_view payload);

// Parses and checks the header of a stored batch (size, version, header_crc).
// DATA_LOSS on any mismatch.
absl::StatusOr<BatchHeader> DecodeBatchHeader(absl::string_view stored);

// DecodeBatchHeader plus the payload checksum. DATA_LOSS on mismatch.
absl::StatusOr<BatchHeader> DecodeAndVerifyBatch(absl::string_view stored);

inline absl::string_view BatchPayload(absl::string_view stored) {
  return stored.substr(kBatchHeaderBytes);
}

// What validation learned about a producer's RecordBatch payload.
struct PayloadSummary {
  int32_t record_count = 0;
  int64_t max_timestamp_ms = 0;  // 0 if no record carries a timestamp
  // With partition_count > 0: the partition the records' keys map to;
  // kNoKeys if no record has a key; kMixedKeys if keys map to several.
  int32_t key_partition = kNoKeys;
  static constexpr int32_t kNoKeys = -1;
  static constexpr int32_t kMixedKeys = -2;
};

struct PayloadLimits {
  int64_t max_batch_bytes = 1 << 20;
  int32_t max_records = 1 << 20;
};

// Drops the records before `offset` from a stored batch that starts earlier
// (a read that begins mid-batch): returns the re-sealed batch holding records
// [offset, next_offset) with base_offset, base_sequence and record_count
// moved accordingly. Readers then never see records before the position they
// asked for. `stored` must be a verified batch with base_offset < offset <
// next_offset; DATA_LOSS if its payload does not parse.
absl::StatusOr<std::string> TrimBatchBefore(const BatchHeader& header, absl::string_view stored,
                                            int64_t offset);
// In place: trims when the batch starts before `offset` (else no-op).
absl::Status TrimStoredBatchBefore(BatchHeader* header, std::string* stored, int64_t offset);

// Checks that `payload` is a well-formed serialized RecordBatch holding at
// least one record: every Record and Header parses, timestamps are >= 0.
// INVALID_ARGUMENT (naming the record index) if not, and also when the batch
// is over `limits` (the message names the limit and the actual size).
absl::StatusOr<PayloadSummary> ValidateRecordBatchPayload(absl::string_view payload,
                                                          const PayloadLimits& limits,
                                                          int32_t partition_count);

}  // namespace herald
