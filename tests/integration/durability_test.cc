// Committed offsets, retention, restarts, kill -9 under load and graceful
// shutdown: what a crash or a restart must never lose.
#include <atomic>
#include <deque>
#include <mutex>
#include <random>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/integration/fixture.h"

namespace herald::testing {
namespace {

using google::protobuf::util::MessageDifferencer;

class Durability : public IntegrationTest {
 protected:
  ServerOptions Options() override {
    ServerOptions options;
    options.extra_flags = {"--retention_check_interval_ms", "200"};
    return options;
  }

  grpc::Status Commit(const std::string& group,
                      const std::vector<std::tuple<std::string, int32_t, int64_t>>& offsets,
                      herald::v1::CommitOffsetsResponse* response) {
    grpc::ClientContext context;
    herald::v1::CommitOffsetsRequest request;
    request.set_group(group);
    for (const auto& [topic, partition, offset] : offsets) {
      auto* o = request.add_offsets();
      o->set_topic(topic);
      o->set_partition(partition);
      o->set_offset(offset);
      o->set_metadata(absl::StrCat("meta-", offset));
    }
    return broker_->CommitOffsets(&context, request, response);
  }

  std::map<std::pair<std::string, int32_t>, int64_t> Committed(const std::string& group) {
    grpc::ClientContext context;
    herald::v1::FetchCommittedOffsetsRequest request;
    request.set_group(group);
    herald::v1::FetchCommittedOffsetsResponse response;
    grpc::Status status = broker_->FetchCommittedOffsets(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::map<std::pair<std::string, int32_t>, int64_t> out;
    for (const auto& c : response.offsets()) {
      out[{c.topic(), c.partition()}] = c.offset();
      EXPECT_EQ(c.metadata(), absl::StrCat("meta-", c.offset()));
    }
    return out;
  }

  // Reads the whole partition and checks offsets are dense from log start.
  std::vector<ReadRecord> ReadAll(const std::string& topic, int32_t partition) {
    auto description = DescribeTopic(admin_.get(), topic);
    EXPECT_TRUE(description.ok()) << description.status();
    if (!description.ok()) return {};
    const auto& p = description->partitions(partition);
    auto records = FetchRecords(broker_.get(), topic, partition, p.log_start_offset(),
                                p.high_watermark() - p.log_start_offset(), 30'000);
    EXPECT_TRUE(records.ok()) << records.status();
    if (!records.ok()) return {};
    for (size_t i = 0; i < records->size(); ++i) {
      EXPECT_EQ((*records)[i].offset, p.log_start_offset() + static_cast<int64_t>(i))
          << "offsets are not dense in " << topic << "/" << partition;
    }
    return *records;
  }
};

TEST_F(Durability, CommittedOffsetsAreStoredAndSurviveRestart) {
  MakeTopic("offsets", 2);
  for (int p = 0; p < 2; ++p) {
    ASSERT_TRUE(ProduceOnce(broker_.get(), "offsets", p, MakeBatch(10, "x")).ok());
  }
  herald::v1::CommitOffsetsResponse response;
  ASSERT_TRUE(Commit("g1", {{"offsets", 0, 7}, {"offsets", 1, 3}}, &response).ok());
  ASSERT_EQ(response.results_size(), 2);
  for (const auto& r : response.results()) EXPECT_FALSE(r.has_error()) << r.error().message();
  ASSERT_TRUE(Commit("g2", {{"offsets", 0, 10}}, &response).ok());
  const std::map<std::pair<std::string, int32_t>, int64_t> expected = {{{"offsets", 0}, 7},
                                                                       {{"offsets", 1}, 3}};
  EXPECT_EQ(Committed("g1"), expected);
  ASSERT_TRUE(Commit("g1", {{"offsets", 0, 9}}, &response).ok());  // Overwrites.
  RestartServer();
  const std::map<std::pair<std::string, int32_t>, int64_t> after = {{{"offsets", 0}, 9},
                                                                    {{"offsets", 1}, 3}};
  EXPECT_EQ(Committed("g1"), after);
  EXPECT_EQ(Committed("g2"),
            (std::map<std::pair<std::string, int32_t>, int64_t>{{{"offsets", 0}, 10}}));
  // A partition never committed reads as -1.
  grpc::ClientContext context;
  herald::v1::FetchCommittedOffsetsRequest request;
  request.set_group("g2");
  auto* tp = request.add_partitions();
  tp->set_topic("offsets");
  tp->set_partition(1);
  herald::v1::FetchCommittedOffsetsResponse none;
  ASSERT_TRUE(broker_->FetchCommittedOffsets(&context, request, &none).ok());
  ASSERT_EQ(none.offsets_size(), 1);
  EXPECT_EQ(none.offsets(0).offset(), -1);
}

TEST_F(Durability, TimeRetentionDeletesOldBatchesAndOldOffsetsAreOutOfRange) {
  herald::v1::TopicConfig config;
  config.set_retention_ms(300);
  MakeTopic("retained", 1, config);
  for (int b = 0; b < 5; ++b) {
    ASSERT_TRUE(ProduceOnce(broker_.get(), "retained", 0, MakeBatch(10, "old")).ok());
  }
  // Every batch but the active (last) one ages out: log start moves to 40.
  int64_t log_start = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        auto d = DescribeTopic(admin_.get(), "retained");
        log_start = d.ok() ? d->partitions(0).log_start_offset() : -1;
        return log_start == 40;
      },
      15'000))
      << "log start offset stayed at " << log_start;
  grpc::ClientContext context;
  herald::v1::FetchRequest request;
  request.set_topic("retained");
  request.set_offset(0);
  herald::v1::FetchResponse response;
  const grpc::Status status = broker_->Fetch(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE) << status.error_message();
  EXPECT_NE(status.error_message().find("40"), std::string::npos) << status.error_message();
  EXPECT_NE(status.error_message().find("50"), std::string::npos) << status.error_message();
  auto kept = FetchRecords(broker_.get(), "retained", 0, 40, 10);
  EXPECT_TRUE(kept.ok()) << kept.status();
}

TEST_F(Durability, SizeRetentionKeepsThePartitionNearItsByteLimit) {
  herald::v1::TopicConfig config;
  config.set_retention_ms(-1);
  config.set_retention_bytes(4000);
  MakeTopic("sized", 1, config);
  for (int b = 0; b < 30; ++b) {
    std::vector<TestRecord> records(1);
    records[0].value = std::string(500, static_cast<char>('a' + b % 26));
    ASSERT_TRUE(ProduceOnce(broker_.get(), "sized", 0, MakeBatch(records)).ok());
  }
  int64_t size_bytes = 0, log_start = 0;
  EXPECT_TRUE(Eventually(
      [&] {
        auto d = DescribeTopic(admin_.get(), "sized");
        if (!d.ok()) return false;
        size_bytes = d->partitions(0).size_bytes();
        log_start = d->partitions(0).log_start_offset();
        return log_start > 0 && size_bytes <= 4000;
      },
      15'000))
      << "size_bytes=" << size_bytes << " log_start=" << log_start;
  EXPECT_GT(size_bytes, 0);
  EXPECT_GE(log_start, 20) << "30 batches of ~570 bytes under a 4000 byte limit";
  ReadAll("sized", 0);
}

TEST_F(Durability, RestartKeepsTopicsConfigsRecordsAndOffsets) {
  herald::v1::TopicConfig config;
  config.set_retention_ms(123'456'789);
  config.set_max_message_bytes(50'000);
  config.set_timestamp_type(herald::v1::TIMESTAMP_TYPE_LOG_APPEND_TIME);
  MakeTopic("kept", 3, config);
  MakeTopic("kept-too", 1);
  std::vector<herald::v1::Record> sent;
  for (int p = 0; p < 3; ++p) {
    auto batch = MakeBatch(5, absl::StrCat("p", p), absl::StrCat("key", p));
    ASSERT_TRUE(ProduceOnce(broker_.get(), "kept", p, batch).ok());
    for (const auto& r : batch.records()) sent.push_back(r);
  }
  herald::v1::CommitOffsetsResponse committed;
  ASSERT_TRUE(Commit("keeper", {{"kept", 2, 4}}, &committed).ok());
  auto before = DescribeTopic(admin_.get(), "kept");
  ASSERT_TRUE(before.ok()) << before.status();
  for (bool graceful : {true, false}) {
    if (graceful) {
      auto exit_code = server_->Terminate();
      ASSERT_TRUE(exit_code.ok()) << exit_code.status();
      EXPECT_EQ(*exit_code, 0);
    }
    RestartServer();  // Kills first when !graceful.
    auto after = DescribeTopic(admin_.get(), "kept");
    ASSERT_TRUE(after.ok()) << after.status();
    EXPECT_TRUE(MessageDifferencer::Equals(after->config(), before->config()))
        << after->config().DebugString() << " vs " << before->config().DebugString();
    EXPECT_EQ(after->topic_id(), before->topic_id());
    ASSERT_EQ(after->partitions_size(), 3);
    for (int p = 0; p < 3; ++p) {
      EXPECT_EQ(after->partitions(p).high_watermark(), 5);
      std::vector<ReadRecord> records = ReadAll("kept", p);
      ASSERT_EQ(records.size(), 5u);
      for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(MessageDifferencer::Equals(records[i].record, sent[p * 5 + i]));
      }
    }
    EXPECT_TRUE(DescribeTopic(admin_.get(), "kept-too").ok());
    EXPECT_EQ((Committed("keeper")),
              (std::map<std::pair<std::string, int32_t>, int64_t>{{{"kept", 2}, 4}}));
  }
}

TEST_F(Durability, IdleServerExitsPromptlyOnSigterm) {
  MakeTopic("idle", 1);
  ASSERT_TRUE(ProduceOnce(broker_.get(), "idle", 0, MakeBatch(1, "x")).ok());
  // No stream is open, so nothing needs the shutdown grace period.
  const int64_t start_ms = SteadyNowMs();
  auto exit_code = server_->Terminate();
  const int64_t elapsed_ms = SteadyNowMs() - start_ms;
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  std::cout << "idle SIGTERM -> exit took " << elapsed_ms << " ms" << std::endl;
  EXPECT_LT(elapsed_ms, 5000) << "an idle server should not wait out the shutdown grace period";
}

// One acknowledged batch: where the server said it is, and what it holds.
struct AckedBatch {
  int32_t partition = 0;
  int64_t base_offset = 0;
  herald::v1::RecordBatch batch;
};

// Produces pipelined acks=ALL batches until the stream breaks, recording
// every acknowledged one. Up to `window` batches are in flight.
void ProduceUntilBroken(herald::v1::Broker::Stub* stub, const std::string& topic, int producer,
                        int cycle, std::mutex* mu, std::vector<AckedBatch>* acked,
                        grpc::Status* final_status) {
  constexpr size_t kWindow = 8;
  ProduceClient client(stub);
  std::deque<std::pair<uint64_t, herald::v1::RecordBatch>> in_flight;
  for (int n = 0;; ++n) {
    if (in_flight.size() >= kWindow || n >= 100'000) {
      if (in_flight.empty()) break;
      auto response = client.Wait(in_flight.front().first, 15'000);
      if (!response.ok()) break;
      if (!response->has_error()) {
        std::lock_guard<std::mutex> lock(*mu);
        acked->push_back(
            {response->partition(), response->base_offset(), std::move(in_flight.front().second)});
      }
      in_flight.pop_front();
      continue;
    }
    herald::v1::RecordBatch batch = MakeBatch(3, absl::StrCat("c", cycle, "-p", producer, "-b", n));
    auto id = client.Send(topic, std::nullopt, batch, herald::v1::ACKS_ALL);
    if (!id.has_value()) break;
    in_flight.emplace_back(*id, std::move(batch));
  }
  *final_status = client.Finish();
}

TEST_F(Durability, KillNineUnderLoadLosesNoAckedBatch) {
  MakeTopic("crash", 4);
  std::mt19937 rng(std::random_device{}());
  std::mutex mu;
  std::vector<AckedBatch> acked;
  for (int cycle = 0; cycle < 3; ++cycle) {
    std::vector<std::thread> producers;
    std::vector<grpc::Status> statuses(4);
    std::vector<std::unique_ptr<herald::v1::Broker::Stub>> stubs;
    for (int p = 0; p < 4; ++p) stubs.push_back(server_->NewBrokerStub());
    const size_t acked_before = acked.size();
    for (int p = 0; p < 4; ++p) {
      producers.emplace_back(ProduceUntilBroken, stubs[p].get(), "crash", p, cycle, &mu, &acked,
                             &statuses[p]);
    }
    const int delay_ms = std::uniform_int_distribution<int>(300, 1200)(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    server_->Kill();
    for (auto& t : producers) t.join();
    std::cout << "cycle " << cycle << ": SIGKILL after " << delay_ms << " ms, "
              << acked.size() - acked_before << " batches acked this cycle" << std::endl;
    EXPECT_GT(acked.size(), acked_before) << "no batch was acknowledged before the kill";
    RestartServer();
    std::map<int32_t, std::vector<ReadRecord>> logs;
    for (int p = 0; p < 4; ++p) logs[p] = ReadAll("crash", p);
    for (const AckedBatch& a : acked) {
      const auto& log = logs[a.partition];
      for (int i = 0; i < a.batch.records_size(); ++i) {
        const size_t index = static_cast<size_t>(a.base_offset + i);
        ASSERT_LT(index, log.size())
            << "acked batch lost: partition " << a.partition << " offset " << a.base_offset + i;
        EXPECT_TRUE(MessageDifferencer::Equals(log[index].record, a.batch.records(i)))
            << "partition " << a.partition << " offset " << index << " holds "
            << log[index].record.value() << ", acked " << a.batch.records(i).value();
      }
    }
  }
}

TEST_F(Durability, SigtermWhileProducingAcksOnlyRealWritesAndExitsZero) {
  MakeTopic("graceful", 2);
  std::mutex mu;
  std::vector<AckedBatch> acked;
  std::vector<grpc::Status> statuses(2);
  std::vector<std::unique_ptr<herald::v1::Broker::Stub>> stubs;
  std::vector<std::thread> producers;
  for (int p = 0; p < 2; ++p) stubs.push_back(server_->NewBrokerStub());
  for (int p = 0; p < 2; ++p) {
    producers.emplace_back(ProduceUntilBroken, stubs[p].get(), "graceful", p, 0, &mu, &acked,
                           &statuses[p]);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  auto exit_code = server_->Terminate();
  for (auto& t : producers) t.join();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  for (const grpc::Status& s : statuses) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE)
        << "produce stream ended with " << s.error_code() << " " << s.error_message();
  }
  ASSERT_FALSE(acked.empty());
  RestartServer();
  std::map<int32_t, std::vector<ReadRecord>> logs;
  for (int p = 0; p < 2; ++p) logs[p] = ReadAll("graceful", p);
  for (const AckedBatch& a : acked) {
    for (int i = 0; i < a.batch.records_size(); ++i) {
      const size_t index = static_cast<size_t>(a.base_offset + i);
      ASSERT_LT(index, logs[a.partition].size()) << "acked batch missing after SIGTERM";
      EXPECT_TRUE(MessageDifferencer::Equals(logs[a.partition][index].record, a.batch.records(i)));
    }
  }
}

}  // namespace
}  // namespace herald::testing
