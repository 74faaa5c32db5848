// Produce / consume round trips, partitioning, start positions, ListOffsets.
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/murmur2.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/integration/fixture.h"

namespace herald::testing {
namespace {

using google::protobuf::util::MessageDifferencer;
using herald::v1::ProduceResponse;

class ProduceConsume : public IntegrationTest {};

// Records with awkward bytes: NULs, 0xff, empty fields, repeated header keys.
std::vector<TestRecord> AwkwardRecords(int partition, int batch) {
  std::vector<TestRecord> records;
  for (int i = 0; i < 3; ++i) {
    TestRecord r;
    r.key = i == 1 ? "" : std::string("k\0", 2) + absl::StrCat(partition, "-", batch, "-", i);
    r.value = std::string("v\0\xff", 3) + absl::StrCat(partition, ":", batch, ":", i);
    r.headers = {{"h", "1"}, {"h", std::string("\0\x01", 2)}, {"", ""}};
    r.timestamp_ms = i == 2 ? 0 : 1'600'000'000'000 + batch * 10 + i;
    records.push_back(r);
  }
  return records;
}

TEST_F(ProduceConsume, RoundTripIsByteForByteAcrossPartitions) {
  MakeTopic("round-trip", 4);
  const int64_t before_ms = WallNowMs();
  std::map<int, std::vector<herald::v1::Record>> sent;
  for (int p = 0; p < 4; ++p) {
    for (int b = 0; b < 3; ++b) {
      const herald::v1::RecordBatch batch = MakeBatch(AwkwardRecords(p, b));
      absl::StatusOr<ProduceResponse> r = ProduceOnce(broker_.get(), "round-trip", p, batch);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_FALSE(r->has_error()) << r->error().message();
      EXPECT_EQ(r->partition(), p);
      EXPECT_EQ(r->base_offset(), b * 3);
      EXPECT_EQ(r->record_count(), 3);
      for (const auto& record : batch.records()) sent[p].push_back(record);
    }
  }
  const int64_t after_ms = WallNowMs();
  for (int p = 0; p < 4; ++p) {
    auto read = FetchRecords(broker_.get(), "round-trip", p, 0, 9);
    ASSERT_TRUE(read.ok()) << read.status();
    for (int i = 0; i < 9; ++i) {
      const ReadRecord& got = (*read)[i];
      EXPECT_EQ(got.offset, i);
      EXPECT_EQ(got.partition, p);
      EXPECT_GE(got.append_time_ms, before_ms - 1000);
      EXPECT_LE(got.append_time_ms, after_ms + 1000);
      EXPECT_TRUE(MessageDifferencer::Equals(got.record, sent[p][i]))
          << "partition " << p << " offset " << i << "\n got: " << got.record.DebugString()
          << "\nwant: " << sent[p][i].DebugString();
    }
  }
}

TEST_F(ProduceConsume, PipelinedBatchesAreAckedByRequestIdAndKeepPartitionOrder) {
  MakeTopic("pipelined", 3);
  constexpr int kBatches = 300;
  ProduceClient producer(broker_.get());
  std::vector<uint64_t> ids;
  for (int i = 0; i < kBatches; ++i) {
    // Each batch carries its sequence number so the read-back proves order.
    auto id = producer.Send("pipelined", i % 3, MakeBatch(2, absl::StrCat("seq", i)));
    ASSERT_TRUE(id.has_value());
    ids.push_back(*id);
  }
  std::map<int, int64_t> next_offset;
  for (int i = 0; i < kBatches; ++i) {
    auto r = producer.Wait(ids[i]);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->has_error()) << r->error().message();
    EXPECT_EQ(r->request_id(), ids[i]);
    EXPECT_EQ(r->partition(), i % 3);
    EXPECT_EQ(r->base_offset(), next_offset[i % 3]) << "batch " << i;
    next_offset[i % 3] += 2;
  }
  EXPECT_TRUE(producer.Finish().ok());
  EXPECT_EQ(producer.Responses().size(), static_cast<size_t>(kBatches));
  for (int p = 0; p < 3; ++p) {
    auto read = FetchRecords(broker_.get(), "pipelined", p, 0, next_offset[p]);
    ASSERT_TRUE(read.ok()) << read.status();
    int seq = p;
    for (size_t i = 0; i < read->size(); i += 2, seq += 3) {
      EXPECT_EQ((*read)[i].record.value(), absl::StrCat("seq", seq, "-0"));
      EXPECT_EQ((*read)[i + 1].record.value(), absl::StrCat("seq", seq, "-1"));
    }
  }
}

// Kafka: partition = (murmur2(key) & 0x7fffffff) % partitions.
int32_t KafkaPartition(int32_t murmur, int32_t partitions) {
  return static_cast<int32_t>((static_cast<uint32_t>(murmur) & 0x7fffffffu) %
                              static_cast<uint32_t>(partitions));
}

TEST_F(ProduceConsume, KeysLandOnTheKafkaMurmur2Partition) {
  MakeTopic("keyed", 16);
  // Known Kafka murmur2 values (Utils.murmur2 test vectors).
  const std::vector<std::pair<std::string, int32_t>> known = {
      {"21", -973932308}, {"foobar", -790332482}, {"abc", 479470107},
      {"1", -1993445489}, {"12345", -1188365604}, {"a-little-bit-long-string", -985981536}};
  for (const auto& [key, murmur] : known) {
    const int32_t expected = KafkaPartition(murmur, 16);
    ASSERT_EQ(herald::PartitionForKey(key, 16), expected) << key;
    auto r = ProduceOnce(broker_.get(), "keyed", std::nullopt, MakeBatch(2, key, key));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->has_error()) << r->error().message();
    EXPECT_EQ(r->partition(), expected) << "key " << key;
    auto read = FetchRecords(broker_.get(), "keyed", expected, r->base_offset(), 2);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ((*read)[0].record.key(), key);
  }
  EXPECT_EQ(KafkaPartition(-973932308, 16), 12);  // "21": 1173551340 % 16.
  for (int i = 0; i < 40; ++i) {
    const std::string key = absl::StrCat("user-", i * 7919);
    auto r = ProduceOnce(broker_.get(), "keyed", std::nullopt, MakeBatch(1, "v", key));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->partition(), herald::PartitionForKey(key, 16)) << key;
  }
}

TEST_F(ProduceConsume, KeylessBatchesSpreadAcrossPartitions) {
  MakeTopic("keyless", 16);
  ProduceClient producer(broker_.get());
  std::vector<uint64_t> ids;
  for (int i = 0; i < 64; ++i)
    ids.push_back(*producer.Send("keyless", std::nullopt, MakeBatch(1, "x")));
  std::set<int32_t> partitions;
  for (uint64_t id : ids) {
    auto r = producer.Wait(id);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_FALSE(r->has_error()) << r->error().message();
    EXPECT_GE(r->partition(), 0);
    EXPECT_LT(r->partition(), 16);
    partitions.insert(r->partition());
  }
  EXPECT_GE(partitions.size(), 4u)
      << "64 keyless batches used only " << partitions.size() << " of 16 partitions";
}

TEST_F(ProduceConsume, MixedKeyBatchIsRejectedInBandAndTheStreamSurvives) {
  MakeTopic("mixed", 16);
  std::string other = "k0";
  for (int i = 0; herald::PartitionForKey(other, 16) == herald::PartitionForKey("21", 16); ++i) {
    other = absl::StrCat("k", i);
  }
  TestRecord a, b;
  a.key = "21";
  a.value = "a";
  b.key = other;
  b.value = "b";
  ProduceClient producer(broker_.get());
  const auto bad = producer.Send("mixed", std::nullopt, MakeBatch({a, b}));
  ASSERT_TRUE(bad.has_value());
  auto r = producer.Wait(*bad);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_error()) << "mixed-key batch was accepted at partition " << r->partition();
  EXPECT_EQ(r->error().code(), grpc::StatusCode::INVALID_ARGUMENT) << r->error().message();
  const auto good = producer.Send("mixed", std::nullopt, MakeBatch({a}));
  ASSERT_TRUE(good.has_value());
  auto ok = producer.Wait(*good);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_FALSE(ok->has_error()) << ok->error().message();
  EXPECT_EQ(ok->partition(), herald::PartitionForKey("21", 16));
  EXPECT_TRUE(producer.Finish().ok());
  // Nothing of the rejected batch was written.
  auto read = FetchRecords(broker_.get(), "mixed", ok->partition(), 0, 1);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ((*read)[0].record.value(), "a");
  EXPECT_EQ((*read)[0].offset, ok->base_offset());
  EXPECT_EQ(ok->base_offset(), 0);
}

}  // namespace
}  // namespace herald::testing
