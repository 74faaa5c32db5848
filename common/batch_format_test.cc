#include "common/batch_format.h"

#include <string>

#include "common/crc32c.h"
#include "common/murmur2.h"
#include "common/wire.h"
#include "gtest/gtest.h"

namespace herald {
namespace {

// Serializes a Record the way protobuf would (fields 1, 2, 3, 4).
std::string Record(absl::string_view key, absl::string_view value, int64_t ts = 0,
                   absl::string_view header_key = "") {
  std::string r;
  if (!key.empty()) {
    wire::AppendTag(&r, 1, wire::kLengthDelimited);
    wire::AppendVarint(&r, key.size());
    r.append(key.data(), key.size());
  }
  wire::AppendTag(&r, 2, wire::kLengthDelimited);
  wire::AppendVarint(&r, value.size());
  r.append(value.data(), value.size());
  if (!header_key.empty()) {
    std::string h;
    wire::AppendTag(&h, 1, wire::kLengthDelimited);
    wire::AppendVarint(&h, header_key.size());
    h.append(header_key.data(), header_key.size());
    wire::AppendTag(&r, 3, wire::kLengthDelimited);
    wire::AppendVarint(&r, h.size());
    r.append(h);
  }
  if (ts != 0) {
    wire::AppendTag(&r, 4, wire::kVarint);
    wire::AppendVarint(&r, static_cast<uint64_t>(ts));
  }
  return r;
}

std::string Batch(std::initializer_list<std::string> records) {
  std::string out;
  for (const auto& r : records) {
    wire::AppendTag(&out, 1, wire::kLengthDelimited);
    wire::AppendVarint(&out, r.size());
    out.append(r);
  }
  return out;
}

TEST(Crc32c, KnownVector) { EXPECT_EQ(Crc32c("123456789"), 0xE3069283u); }

TEST(Crc32c, ExtendEqualsWhole) {
  const std::string data(1000, 'x');
  EXPECT_EQ(Crc32cExtend(Crc32cExtend(0, data.data(), 333), data.data() + 333, 667), Crc32c(data));
}

TEST(BatchFormat, EncodeDecodeRoundTrip) {
  BatchHeader h;
  h.timestamp_type = TimestampType::kLogAppendTime;
  h.base_offset = 1234567890123;
  h.leader_epoch = 7;
  h.append_time_ms = 1700000000123;
  h.max_timestamp_ms = 1700000000999;
  h.producer_id = 42;
  h.base_sequence = 17;
  h.record_count = 3;
  h.producer_epoch = 2;
  const std::string payload = Batch({Record("k", "v"), Record("", "v2"), Record("k3", "")});
  const std::string stored = EncodeBatch(h, payload);
  ASSERT_EQ(stored.size(), kBatchHeaderBytes + payload.size());
  EXPECT_EQ(BatchPayload(stored), payload);
  auto decoded = DecodeAndVerifyBatch(stored);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->timestamp_type, TimestampType::kLogAppendTime);
  EXPECT_EQ(decoded->base_offset, h.base_offset);
  EXPECT_EQ(decoded->leader_epoch, 7);
  EXPECT_EQ(decoded->append_time_ms, h.append_time_ms);
  EXPECT_EQ(decoded->max_timestamp_ms, h.max_timestamp_ms);
  EXPECT_EQ(decoded->producer_id, 42);
  EXPECT_EQ(decoded->base_sequence, 17);
  EXPECT_EQ(decoded->record_count, 3);
  EXPECT_EQ(decoded->producer_epoch, 2);
  EXPECT_EQ(decoded->next_offset(), h.base_offset + 3);
}

TEST(BatchFormat, ControlFlagRoundTripsBesideTheTimestampType) {
  BatchHeader h;
  h.timestamp_type = TimestampType::kLogAppendTime;
  h.base_offset = 9;
  h.leader_epoch = 3;
  h.record_count = 1;
  h.control = true;
  const std::string stored = EncodeBatch(h, "");
  EXPECT_EQ(static_cast<uint8_t>(stored[5]), 2 | kControlFlag);
  auto decoded = DecodeAndVerifyBatch(stored);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->control);
  EXPECT_EQ(decoded->timestamp_type, TimestampType::kLogAppendTime);
  EXPECT_EQ(decoded->next_offset(), 10);

  h.control = false;
  auto plain = DecodeAndVerifyBatch(EncodeBatch(h, ""));
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->control);
  EXPECT_EQ(plain->timestamp_type, TimestampType::kLogAppendTime);
}

TEST(BatchFormat, TrimDropsRecordsBeforeTheOffsetAndReseals) {
  BatchHeader h;
  h.base_offset = 100;
  h.base_sequence = 10;
  h.producer_id = 5;
  h.record_count = 3;
  std::string stored =
      EncodeBatch(h, Batch({Record("a", "0"), Record("b", "1"), Record("c", "2")}));
  h = *DecodeAndVerifyBatch(stored);
  ASSERT_TRUE(TrimStoredBatchBefore(&h, &stored, 102).ok());
  auto trimmed = DecodeAndVerifyBatch(stored);
  ASSERT_TRUE(trimmed.ok()) << trimmed.status();
  EXPECT_EQ(trimmed->base_offset, 102);
  EXPECT_EQ(trimmed->record_count, 1);
  EXPECT_EQ(trimmed->base_sequence, 12);
  EXPECT_EQ(trimmed->payload_crc, h.payload_crc);
  EXPECT_EQ(h.base_offset, 102);
  EXPECT_EQ(BatchPayload(stored), Batch({Record("c", "2")}));
}

TEST(BatchFormat, TrimOutsideTheBatchIsANoOpOrInvalid) {
  BatchHeader h;
  h.base_offset = 100;
  h.record_count = 2;
  std::string stored = EncodeBatch(h, Batch({Record("a", "0"), Record("b", "1")}));
  const std::string original = stored;
  EXPECT_TRUE(TrimStoredBatchBefore(&h, &stored, 100).ok());
  EXPECT_TRUE(TrimStoredBatchBefore(&h, &stored, 102).ok());
  EXPECT_EQ(stored, original);
  EXPECT_EQ(TrimBatchBefore(h, stored, 102).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BatchFormat, EveryBitFlipIsDetected) {
  BatchHeader h;
  h.record_count = 1;
  const std::string stored = EncodeBatch(h, Batch({Record("key", "value", 5)}));
  for (size_t byte = 0; byte < stored.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = stored;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      auto decoded = DecodeAndVerifyBatch(bad);
      ASSERT_FALSE(decoded.ok()) << "flip at byte " << byte << " bit " << bit;
      EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
    }
  }
}

TEST(BatchFormat, ShortInputIsDataLoss) {
  EXPECT_EQ(DecodeBatchHeader("tiny").status().code(), absl::StatusCode::kDataLoss);
}

TEST(ValidatePayload, CountsRecordsAndMaxTimestamp) {
  auto s = ValidateRecordBatchPayload(
      Batch({Record("a", "1", 10, "h"), Record("a", "2", 30), Record("a", "3", 20)}), {}, 0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->record_count, 3);
  EXPECT_EQ(s->max_timestamp_ms, 30);
}

TEST(ValidatePayload, KeyPartitionSameMixedAndNone) {
  auto same = ValidateRecordBatchPayload(Batch({Record("21", "x"), Record("21", "y")}), {}, 16);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->key_partition, 1173551340 % 16);
  auto none = ValidateRecordBatchPayload(Batch({Record("", "x")}), {}, 16);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->key_partition, PayloadSummary::kNoKeys);
  auto mixed =
      ValidateRecordBatchPayload(Batch({Record("21", "x"), Record("foobar", "y")}), {}, 16);
  ASSERT_TRUE(mixed.ok());
  EXPECT_NE(PartitionForKey("21", 16), PartitionForKey("foobar", 16));
  EXPECT_EQ(mixed->key_partition, PayloadSummary::kMixedKeys);
}

TEST(ValidatePayload, RejectsEmptyOversizedAndMalformed) {
  EXPECT_EQ(ValidateRecordBatchPayload("", {}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  PayloadLimits small;
  small.max_batch_bytes = 10;
  auto big = ValidateRecordBatchPayload(Batch({Record("k", std::string(100, 'v'))}), small, 1);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("max_message_bytes"), std::string::npos);
  // Truncated length prefix.
  std::string truncated = Batch({Record("k", "value")});
  truncated.pop_back();
  EXPECT_EQ(ValidateRecordBatchPayload(truncated, {}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Wrong field number at the batch level.
  std::string wrong;
  wire::AppendTag(&wrong, 2, wire::kLengthDelimited);
  wire::AppendVarint(&wrong, 0);
  EXPECT_EQ(ValidateRecordBatchPayload(wrong, {}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Garbage bytes never crash.
  for (int seed = 0; seed < 2000; ++seed) {
    std::string junk;
    uint32_t x = static_cast<uint32_t>(seed) * 2654435761u + 1;
    for (int i = 0; i < seed % 64; ++i) {
      x = x * 1103515245u + 12345u;
      junk.push_back(static_cast<char>(x >> 24));
    }
    (void)ValidateRecordBatchPayload(junk, {}, 3);
  }
}

TEST(ValidatePayload, RejectsTooManyRecords) {
  PayloadLimits limits;
  limits.max_records = 2;
  auto s = ValidateRecordBatchPayload(Batch({Record("", "1"), Record("", "2"), Record("", "3")}),
                                      limits, 1);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace herald
