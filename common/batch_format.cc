#include "common/batch_format.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/murmur2.h"
#include "common/wire.h"

namespace herald {
namespace {

template <typename T>
void Put(char* out, size_t at, T v) {
  static_assert(std::is_integral_v<T>);
  // Little endian by construction, independent of the host.
  for (size_t i = 0; i < sizeof(T); ++i) {
    out[at + i] = static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
  }
}

template <typename T>
T Get(const char* in, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  }
  return static_cast<T>(v);
}

absl::Status Malformed(int32_t index, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed record batch: record ", index, ": ", what));
}

absl::Status ValidateHeaderEntry(absl::string_view header, int32_t index) {
  while (!header.empty()) {
    wire::Field f;
    if (!wire::ReadField(&header, &f)) return Malformed(index, "bad header encoding");
    if ((f.number == 1 || f.number == 2) && f.type != wire::kLengthDelimited) {
      return Malformed(index, "header key/value must be length-delimited");
    }
  }
  return absl::OkStatus();
}

// Validates one serialized Record; reports its key and timestamp.
absl::Status ValidateRecord(absl::string_view record, int32_t index, absl::string_view* key,
                            int64_t* timestamp_ms) {
  *key = {};
  *timestamp_ms = 0;
  while (!record.empty()) {
    wire::Field f;
    if (!wire::ReadField(&record, &f)) return Malformed(index, "bad field encoding");
    switch (f.number) {
      case 1:
      case 2:
        if (f.type != wire::kLengthDelimited) return Malformed(index, "key/value wire type");
        if (f.number == 1) *key = f.body;
        break;
      case 3:
        if (f.type != wire::kLengthDelimited) return Malformed(index, "headers wire type");
        if (auto s = ValidateHeaderEntry(f.body, index); !s.ok()) return s;
        break;
      case 4:
        if (f.type != wire::kVarint) return Malformed(index, "timestamp wire type");
        *timestamp_ms = static_cast<int64_t>(f.varint);
        if (*timestamp_ms < 0) return Malformed(index, "negative timestamp_ms");
        break;
      default:
        break;  // unknown fields are kept as they are (forward compatibility)
    }
  }
  return absl::OkStatus();
}

void NoteKey(absl::string_view key, int32_t partition_count, PayloadSummary* summary) {
  if (key.empty() || partition_count <= 0) return;
  const int32_t p = PartitionForKey(key, partition_count);
  if (summary->key_partition == PayloadSummary::kNoKeys) {
    summary->key_partition = p;
  } else if (summary->key_partition != p) {
    summary->key_partition = PayloadSummary::kMixedKeys;
  }
}

}  // namespace

void EncodeBatchHeader(const BatchHeader& h, char* out) {
  std::memset(out, 0, kBatchHeaderBytes);
  Put<uint8_t>(out, 4, kBatchFormatVersion);
  Put<uint8_t>(out, 5,
               static_cast<uint8_t>(static_cast<uint8_t>(h.timestamp_type) |
                                    (h.control ? kControlFlag : 0)));
  Put<int64_t>(out, 8, h.base_offset);
  Put<int64_t>(out, 16, h.leader_epoch);
  Put<int64_t>(out, 24, h.append_time_ms);
  Put<int64_t>(out, 32, h.max_timestamp_ms);
  Put<int64_t>(out, 40, h.producer_id);
  Put<int32_t>(out, 48, h.base_sequence);
  Put<int32_t>(out, 52, h.record_count);
  Put<int16_t>(out, 56, h.producer_epoch);
  Put<uint32_t>(out, 60, h.payload_crc);
  Put<uint32_t>(out, 0, Crc32cExtend(0, out + 4, kBatchHeaderBytes - 4));
}

std::string EncodeBatch(BatchHeader header, absl::string_view payload) {
  header.payload_crc = Crc32c(payload);
  std::string out(kBatchHeaderBytes + payload.size(), '\0');
  EncodeBatchHeader(header, out.data());
  std::memcpy(out.data() + kBatchHeaderBytes, payload.data(), payload.size());
  return out;
}

absl::StatusOr<std::string> TrimBatchBefore(const BatchHeader& header, absl::string_view stored,
                                            int64_t offset) {
  if (offset <= header.base_offset || offset >= header.next_offset()) {
    return absl::InvalidArgumentError(absl::StrCat("offset ", offset, " is not inside batch [",
                                                   header.base_offset, ", ", header.next_offset(),
                                                   ")"));
  }
  const int64_t skip = offset - header.base_offset;
  absl::string_view rest = BatchPayload(stored);
  for (int64_t i = 0; i < skip; ++i) {
    wire::Field field;
    if (!wire::ReadField(&rest, &field)) {
      return absl::DataLossError(
          absl::StrCat("batch at offset ", header.base_offset, ": record ", i, " does not parse"));
    }
  }
  BatchHeader trimmed = header;
  trimmed.base_offset = offset;
  trimmed.record_count = static_cast<int32_t>(header.record_count - skip);
  if (trimmed.base_sequence >= 0) trimmed.base_sequence += static_cast<int32_t>(skip);
  return EncodeBatch(trimmed, rest);
}

absl::Status TrimStoredBatchBefore(BatchHeader* header, std::string* stored, int64_t offset) {
  if (offset <= header->base_offset || offset >= header->next_offset()) return absl::OkStatus();
  auto trimmed = TrimBatchBefore(*header, *stored, offset);
  if (!trimmed.ok()) return trimmed.status();
  *stored = *std::move(trimmed);
  const int64_t skip = offset - header->base_offset;
  header->base_offset = offset;
  header->record_count -= static_cast<int32_t>(skip);
  if (header->base_sequence >= 0) header->base_sequence += static_cast<int32_t>(skip);
  header->payload_crc = Crc32c(BatchPayload(*stored));
  return absl::OkStatus();
}

absl::StatusOr<BatchHeader> DecodeBatchHeader(absl::string_view stored) {
  if (stored.size() < kBatchHeaderBytes) {
    return absl::DataLossError(absl::StrCat("stored batch too short: ", stored.size(), " bytes"));
  }
  const char* in = stored.data();
  if (Get<uint32_t>(in, 0) != Crc32cExtend(0, in + 4, kBatchHeaderBytes - 4)) {
    return absl::DataLossError("stored batch header checksum mismatch");
  }
  if (Get<uint8_t>(in, 4) != kBatchFormatVersion) {
    return absl::DataLossError(absl::StrCat("unknown batch format version ", Get<uint8_t>(in, 4)));
  }
  BatchHeader h;
  h.timestamp_type = static_cast<TimestampType>(Get<uint8_t>(in, 5) & 3);
  h.control = (Get<uint8_t>(in, 5) & kControlFlag) != 0;
  h.base_offset = Get<int64_t>(in, 8);
  h.leader_epoch = Get<int64_t>(in, 16);
  h.append_time_ms = Get<int64_t>(in, 24);
  h.max_timestamp_ms = Get<int64_t>(in, 32);
  h.producer_id = Get<int64_t>(in, 40);
  h.base_sequence = Get<int32_t>(in, 48);
  h.record_count = Get<int32_t>(in, 52);
  h.producer_epoch = Get<int16_t>(in, 56);
  h.payload_crc = Get<uint32_t>(in, 60);
  return h;
}

absl::StatusOr<BatchHeader> DecodeAndVerifyBatch(absl::string_view stored) {
  auto header = DecodeBatchHeader(stored);
  if (!header.ok()) return header;
  if (Crc32c(BatchPayload(stored)) != header->payload_crc) {
    return absl::DataLossError(absl::StrCat("stored batch at offset ", header->base_offset,
                                            ": payload checksum mismatch"));
  }
  return header;
}

absl::StatusOr<PayloadSummary> ValidateRecordBatchPayload(absl::string_view payload,
                                                          const PayloadLimits& limits,
                                                          int32_t partition_count) {
  if (static_cast<int64_t>(payload.size()) > limits.max_batch_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("record batch is ", payload.size(),
                                                   " bytes, over the topic's max_message_bytes ",
                                                   limits.max_batch_bytes));
  }
  PayloadSummary summary;
  while (!payload.empty()) {
    wire::Field f;
    if (!wire::ReadField(&payload, &f)) return Malformed(summary.record_count, "bad encoding");
    if (f.number != 1 || f.type != wire::kLengthDelimited) {
      return Malformed(summary.record_count, "unexpected field in RecordBatch");
    }
    absl::string_view key;
    int64_t ts = 0;
    if (auto s = ValidateRecord(f.body, summary.record_count, &key, &ts); !s.ok()) return s;
    NoteKey(key, partition_count, &summary);
    if (ts > summary.max_timestamp_ms) summary.max_timestamp_ms = ts;
    if (++summary.record_count > limits.max_records) {
      return absl::InvalidArgumentError(
          absl::StrCat("record batch has more than ", limits.max_records, " records"));
    }
  }
  if (summary.record_count == 0) {
    return absl::InvalidArgumentError("record batch is empty: send at least one record");
  }
  return summary;
}

}  // namespace herald
