// Cluster mode, black-box: 3 real herald-server processes (--peers) over real
// gRPC. Each test starts its own cluster (ports fixed up front, see
// ClusterProcesses) and drives it through the generated stubs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/harness/client_helpers.h"
#include "tests/harness/cluster_process.h"

namespace herald::testing {
namespace {

using ::testing::HasSubstr;

constexpr int kUnavailable = 14;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

herald::v1::ProduceRequest Request(const std::string& topic, int32_t partition,
                                   const std::vector<std::string>& values) {
  herald::v1::ProduceRequest request;
  request.set_topic(topic);
  request.set_partition(partition);
  request.set_acks(herald::v1::ACKS_ALL);
  for (const std::string& value : values) {
    herald::v1::Record* record = request.mutable_batch()->add_records();
    record->set_key(absl::StrCat("k-", value));
    record->set_value(value);
    herald::v1::Header* header = record->add_headers();
    header->set_key("h");
    header->set_value(absl::StrCat("hv-", value));
  }
  return request;
}

// (offset, serialized record) per record: a byte-for-byte view of a log.
std::vector<std::pair<int64_t, std::string>> Bytes(const std::vector<ReadRecord>& records) {
  std::vector<std::pair<int64_t, std::string>> out;
  for (const ReadRecord& r : records) out.emplace_back(r.offset, r.record.SerializeAsString());
  return out;
}

std::vector<std::pair<int64_t, std::string>> OffsetValues(const std::vector<ReadRecord>& records) {
  std::vector<std::pair<int64_t, std::string>> out;
  for (const ReadRecord& r : records) out.emplace_back(r.offset, r.record.value());
  return out;
}

// Reads the partition from `stub` until it holds `count` records (a follower
// learns the commit point with the next heartbeat) or timeout_ms passes.
std::vector<ReadRecord> WaitForCount(herald::v1::Broker::Stub* stub, const std::string& topic,
                                     int32_t partition, size_t count, int64_t timeout_ms = 5000) {
  const int64_t deadline = NowMs() + timeout_ms;
  std::vector<ReadRecord> records;
  while (true) {
    absl::StatusOr<std::vector<ReadRecord>> read = ReadWholePartition(stub, topic, partition, 1000);
    if (read.ok()) records = *read;
    if (records.size() >= count || NowMs() >= deadline) return records;
    SleepMs(20);
  }
}

absl::StatusOr<herald::v1::TopicDescription> Describe(herald::v1::Admin::Stub* admin,
                                                      const std::string& topic) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1000));
  herald::v1::DescribeTopicRequest request;
  request.set_name(topic);
  herald::v1::DescribeTopicResponse response;
  const grpc::Status s = admin->DescribeTopic(&context, request, &response);
  if (!s.ok())
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
  return response.topic();
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const int64_t start = NowMs();
    absl::StatusOr<std::unique_ptr<ClusterProcesses>> cluster = ClusterProcesses::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
    absl::StatusOr<int> controller = cluster_->WaitForController(10'000);
    ASSERT_TRUE(controller.ok()) << controller.status();
    std::cout << "cluster of 3 up, controller " << *controller << " after " << NowMs() - start
              << " ms" << std::endl;
  }

  // Creates `topic` and waits until every node agrees on each leader.
  void CreateTopic(const std::string& topic, int32_t partitions) {
    ASSERT_TRUE(cluster_->CreateTopic(topic, partitions).ok());
    for (int32_t p = 0; p < partitions; ++p) {
      absl::StatusOr<int> leader = cluster_->WaitForAgreedLeader(topic, p, 10'000);
      ASSERT_TRUE(leader.ok()) << leader.status();
    }
  }

  int Leader(const std::string& topic, int32_t partition, const std::set<int>& skip = {}) {
    absl::StatusOr<int> leader = cluster_->LeaderOf(topic, partition, 10'000, skip);
    EXPECT_TRUE(leader.ok()) << leader.status();
    return leader.ok() ? *leader : 0;
  }

  int OtherThan(std::set<int> nodes) {
    for (int id = 1; id <= cluster_->size(); ++id) {
      if (nodes.count(id) == 0) return id;
    }
    return 0;
  }

  std::unique_ptr<ClusterProcesses> cluster_;
};

TEST_F(ClusterTest, CreateTopicOnControllerIsVisibleEverywhere) {
  absl::StatusOr<int> controller = cluster_->WaitForController();
  ASSERT_TRUE(controller.ok()) << controller.status();
  const int other = OtherThan({*controller});
  // Refused with the controller's address (dc0d28c), or relayed to the
  // controller (main's 86ed354, "any node accepts every RPC").
  const grpc::Status elsewhere = testing::CreateTopic(cluster_->admin(other), "elsewhere", 1);
  if (!elsewhere.ok()) {
    EXPECT_EQ(elsewhere.error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_THAT(elsewhere.error_message(), HasSubstr(cluster_->client_address(*controller)));
  }

  ASSERT_TRUE(cluster_->CreateTopic("visible", 3).ok());
  for (int id = 1; id <= 3; ++id) {
    const int64_t deadline = NowMs() + 5000;
    absl::StatusOr<herald::v1::TopicDescription> topic;
    auto complete = [&] {
      if (!topic.ok() || topic->partitions_size() != 3) return false;
      for (const auto& p : topic->partitions()) {
        if (p.leader() <= 0 || p.replicas_size() != 3) return false;
      }
      return true;
    };
    do {
      topic = Describe(cluster_->admin(id), "visible");
      if (!complete()) SleepMs(20);
    } while (!complete() && NowMs() < deadline);
    ASSERT_TRUE(complete()) << "node " << id << ": "
                            << (topic.ok() ? topic->DebugString() : topic.status().ToString());
    EXPECT_EQ(topic->replication_factor(), 3);
  }
  for (int id = 1; id <= 3; ++id) {
    grpc::ClientContext context;
    herald::v1::DescribeClusterResponse response;
    ASSERT_TRUE(cluster_->admin(id)->DescribeCluster(&context, {}, &response).ok());
    EXPECT_EQ(response.controller_id(), *controller) << "node " << id;
    ASSERT_EQ(response.brokers_size(), 3);
    for (const auto& broker : response.brokers()) {
      EXPECT_EQ(broker.address(), cluster_->client_address(broker.id()));
    }
  }
  // The topic already exists everywhere: a second create is refused.
  EXPECT_EQ(cluster_->CreateTopic("visible", 3).code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ClusterTest, AckedRecordsAreOnEveryReplicaByteForByte) {
  CreateTopic("bytes", 3);
  constexpr int kBatches = 10, kPerBatch = 5;
  std::map<int32_t, std::vector<std::pair<int64_t, std::string>>> acked;  // offset, value
  for (int32_t p = 0; p < 3; ++p) {
    for (int b = 0; b < kBatches; ++b) {
      std::vector<std::string> values;
      for (int i = 0; i < kPerBatch; ++i) values.push_back(absl::StrCat("p", p, "-b", b, "-", i));
      auto produced = cluster_->ProduceToLeader(Request("bytes", p, values));
      ASSERT_TRUE(produced.ok()) << produced.status();
      ASSERT_EQ(produced->response.error().code(), 0) << produced->response.error().message();
      for (int i = 0; i < kPerBatch; ++i) {
        acked[p].emplace_back(produced->response.base_offset() + i, values[i]);
      }
    }
  }
  for (int32_t p = 0; p < 3; ++p) {
    const size_t count = kBatches * kPerBatch;
    const auto reference = WaitForCount(cluster_->broker(1), "bytes", p, count);
    ASSERT_EQ(OffsetValues(reference), acked[p]) << "node 1, partition " << p;
    for (int id = 2; id <= 3; ++id) {
      const auto records = WaitForCount(cluster_->broker(id), "bytes", p, count);
      EXPECT_EQ(Bytes(records), Bytes(reference)) << "node " << id << ", partition " << p;
    }
    for (int id = 1; id <= 3; ++id) {  // Subscribe serves the same bytes.
      SubscribeClient subscriber(cluster_->broker(id),
                                 StartRequest({{"bytes", p}}, Earliest(), 1000));
      EXPECT_EQ(Bytes(subscriber.ReadRecords(count, 5000)), Bytes(reference))
          << "subscribe on node " << id << ", partition " << p;
    }
  }
}

// Server-side forwarding (931e0fc): any node accepts a produce for a
// partition another node leads, and the ack is the leader's.
TEST_F(ClusterTest, ProduceOnFollowerIsForwardedToTheLeader) {
  CreateTopic("forward", 1);
  const int leader = Leader("forward", 0);
  const int follower = OtherThan({leader});
  std::vector<std::pair<int64_t, std::string>> acked;
  for (int i = 0; i < 5; ++i) {
    const std::string value = absl::StrCat("via-follower-", i);
    auto response =
        ProduceRequestOnce(cluster_->broker(follower), Request("forward", 0, {value}), 5000);
    ASSERT_TRUE(response.ok()) << response.status();
    ASSERT_EQ(response->error().code(), 0) << response->error().message();
    acked.emplace_back(response->base_offset(), value);
  }
  for (int id = 1; id <= 3; ++id) {
    EXPECT_EQ(OffsetValues(WaitForCount(cluster_->broker(id), "forward", 0, acked.size())), acked)
        << "node " << id;
  }
}

// A node forwards over one cached stream per leader address. Once that
// stream broke (the leader restarted) and the same node leads again, the
// next forwarded batch must still arrive whole: it used to be moved into the
// dead stream's Send and the retry on a fresh stream sent an empty batch,
// refused with INVALID_ARGUMENT "topic name is empty".
TEST_F(ClusterTest, ForwardingAfterTheLeaderRestartedCarriesTheBatch) {
  CreateTopic("reforward", 1);
  const int leader = Leader("reforward", 0);
  const int follower = OtherThan({leader});
  const int third = OtherThan({leader, follower});
  auto via_follower = [&](const std::string& value) {
    return ProduceRequestOnce(cluster_->broker(follower), Request("reforward", 0, {value}), 5000);
  };
  auto before = via_follower("before");
  ASSERT_TRUE(before.ok() && before->error().code() == 0);
  ASSERT_TRUE(cluster_->Restart(leader).ok());  // Breaks the follower's stream to it.
  // Bring the leadership back to `leader` without restarting `follower`
  // (its forwarder holds the broken stream): restart `third` while it leads,
  // pause `follower` while it leads.
  int now = 0;
  for (int round = 0; round < 12 && now != leader; ++round) {
    absl::StatusOr<int> current = cluster_->WaitForAgreedLeader("reforward", 0, 10'000);
    ASSERT_TRUE(current.ok()) << current.status();
    now = *current;
    if (now == third) {
      ASSERT_TRUE(cluster_->Restart(third).ok());
    } else if (now == follower) {
      cluster_->node(follower).Pause();
      (void)cluster_->LeaderOf("reforward", 0, 10'000, {follower});
      cluster_->node(follower).Resume();
    }
  }
  if (now != leader) GTEST_SKIP() << "the leadership did not come back to node " << leader;
  auto after = via_follower("after");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->error().code(), 0) << after->error().message();
  const int final_leader = Leader("reforward", 0);
  std::vector<std::string> values;
  for (const ReadRecord& r : WaitForCount(cluster_->broker(final_leader), "reforward", 0, 2)) {
    values.push_back(r.record.value());
  }
  EXPECT_EQ(values, (std::vector<std::string>{"before", "after"}));
}

struct Ack {
  int64_t seq = 0;
  int64_t offset = 0;
  int node = 0;
  int64_t at_ms = 0;
  bool duplicate = false;
};

TEST_F(ClusterTest, LeaderKilledFailoverWithinSeconds) {
  CreateTopic("failover", 1);
  const int leader = Leader("failover", 0);
  auto producer = InitProducer(cluster_->broker(leader));
  ASSERT_TRUE(producer.ok()) << producer.status();

  std::mutex mu;
  std::vector<Ack> acks;
  std::string error;
  std::atomic<bool> stop{false};
  // One idempotent producer, one batch at a time, retrying the same sequence
  // until acknowledged: every sequence is acked exactly once in the log.
  std::thread produce([&] {
    for (int64_t seq = 0; !stop.load(); ++seq) {
      auto request = Request("failover", 0, {absl::StrCat("v-", seq)});
      request.set_producer_id(producer->first);
      request.set_producer_epoch(producer->second);
      request.set_base_sequence(static_cast<int32_t>(seq));
      auto produced = cluster_->ProduceToLeader(request, 10'000);
      std::lock_guard<std::mutex> lock(mu);
      if (!produced.ok() || produced->response.error().code() != 0) {
        error = produced.ok() ? produced->response.error().message() : produced.status().ToString();
        return;
      }
      acks.push_back({seq, produced->response.base_offset(), produced->node, NowMs(),
                      produced->response.duplicate()});
    }
  });
  auto acked = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return acks.size();
  };
  const int64_t wait_until = NowMs() + 5000;
  while (acked() < 30 && NowMs() < wait_until) SleepMs(5);
  const int64_t killed_at = NowMs();
  cluster_->node(leader).Kill();
  int64_t failover_ms = -1;
  size_t acked_at_failover = 0;
  while (NowMs() < killed_at + 10'000 && failover_ms < 0) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!error.empty()) break;
      for (const Ack& ack : acks) {
        if (ack.node != leader) {
          failover_ms = ack.at_ms - killed_at;
          acked_at_failover = acks.size();
          break;
        }
      }
    }
    SleepMs(2);
  }
  while (acked() < acked_at_failover + 30 && NowMs() < killed_at + 15'000) SleepMs(5);
  stop = true;
  produce.join();
  ASSERT_TRUE(error.empty()) << error;
  std::cout << "failover: leader node " << leader << " killed, first ack from the new leader after "
            << failover_ms << " ms" << std::endl;
  ASSERT_GE(failover_ms, 0) << "no ack from a new leader within 10 s";
  EXPECT_LT(failover_ms, 5000);

  std::vector<std::pair<int64_t, std::string>> expected;
  for (const Ack& ack : acks) expected.emplace_back(ack.offset, absl::StrCat("v-", ack.seq));
  for (int id = 1; id <= 3; ++id) {
    if (id == leader) continue;
    EXPECT_EQ(OffsetValues(WaitForCount(cluster_->broker(id), "failover", 0, expected.size())),
              expected)
        << "survivor node " << id;
  }
}

TEST_F(ClusterTest, PausedLeaderCannotAcknowledge) {
  CreateTopic("paused", 1);
  const int old_leader = Leader("paused", 0);
  std::vector<std::pair<int64_t, std::string>> acked;
  for (int i = 0; i < 5; ++i) {
    auto produced = cluster_->ProduceToLeader(Request("paused", 0, {absl::StrCat("before-", i)}));
    ASSERT_TRUE(produced.ok()) << produced.status();
    ASSERT_EQ(produced->response.error().code(), 0);
    acked.emplace_back(produced->response.base_offset(), absl::StrCat("before-", i));
  }
  cluster_->node(old_leader).Pause();
  // Sent to the frozen leader: it may only be acknowledged if it is committed.
  absl::StatusOr<herald::v1::ProduceResponse> during;
  std::thread paused_send([&] {
    during =
        ProduceRequestOnce(cluster_->broker(old_leader), Request("paused", 0, {"during"}), 6000);
  });
  const int new_leader = Leader("paused", 0, {old_leader});
  ASSERT_NE(new_leader, old_leader);
  auto produced = cluster_->ProduceToLeader(Request("paused", 0, {"after"}), 10'000, {old_leader});
  ASSERT_TRUE(produced.ok()) << produced.status();
  ASSERT_EQ(produced->response.error().code(), 0);
  acked.emplace_back(produced->response.base_offset(), "after");
  cluster_->node(old_leader).Resume();
  paused_send.join();
  // Right after SIGCONT the old leader may still think it leads.
  auto resumed =
      ProduceRequestOnce(cluster_->broker(old_leader), Request("paused", 0, {"resumed"}), 5000);

  auto ok = [](const absl::StatusOr<herald::v1::ProduceResponse>& r) {
    return r.ok() && r->error().code() == 0;
  };
  std::cout << "send to the paused leader: "
            << (during.ok()
                    ? absl::StrCat("error ", during->error().code(), " ", during->error().message(),
                                   " offset ", during->base_offset())
                    : during.status().ToString())
            << "\nsend right after SIGCONT: "
            << (resumed.ok() ? absl::StrCat("error ", resumed->error().code(), " ",
                                            resumed->error().message())
                             : resumed.status().ToString())
            << std::endl;
  if (ok(during)) acked.emplace_back(during->base_offset(), "during");
  if (ok(resumed)) acked.emplace_back(resumed->base_offset(), "resumed");
  std::sort(acked.begin(), acked.end());

  // The old leader learns the new term and reports the new leader.
  const int64_t deadline = NowMs() + 5000;
  int reported = 0;
  while (NowMs() < deadline && reported != new_leader) {
    auto topic = Describe(cluster_->admin(old_leader), "paused");
    if (topic.ok() && topic->partitions_size() == 1) reported = topic->partitions(0).leader();
    if (reported != new_leader) SleepMs(20);
  }
  EXPECT_EQ(reported, new_leader);

  // Every acked record is on every node at its offset; nothing twice.
  const auto reference = WaitForCount(cluster_->broker(new_leader), "paused", 0, acked.size());
  std::multiset<std::string> values;
  for (const ReadRecord& r : reference) values.insert(r.record.value());
  for (const auto& [offset, value] : acked) {
    EXPECT_EQ(values.count(value), 1u) << value;
    bool at_offset = false;
    for (const ReadRecord& r : reference)
      at_offset |= r.offset == offset && r.record.value() == value;
    EXPECT_TRUE(at_offset) << value << " acked at " << offset;
  }
  for (const std::string& value : values) EXPECT_EQ(values.count(value), 1u) << value;
  for (int id = 1; id <= 3; ++id) {
    EXPECT_EQ(Bytes(WaitForCount(cluster_->broker(id), "paused", 0, reference.size())),
              Bytes(reference))
        << "node " << id;
  }
}

TEST_F(ClusterTest, RestartedNodeCatchesUp) {
  CreateTopic("restart", 1);
  const int leader = Leader("restart", 0);
  const int follower = OtherThan({leader});
  cluster_->node(follower).Kill();
  for (int i = 0; i < 20; ++i) {
    auto produced =
        cluster_->ProduceToLeader(Request("restart", 0, {absl::StrCat("while-down-", i)}));
    ASSERT_TRUE(produced.ok()) << produced.status();
    ASSERT_EQ(produced->response.error().code(), 0) << produced->response.error().message();
  }
  const int64_t restart_at = NowMs();
  ASSERT_TRUE(cluster_->Restart(follower).ok());
  const int64_t restarted_ms = NowMs() - restart_at;
  for (int i = 0; i < 5; ++i) {
    auto produced = cluster_->ProduceToLeader(Request("restart", 0, {absl::StrCat("after-", i)}));
    ASSERT_TRUE(produced.ok()) << produced.status();
    ASSERT_EQ(produced->response.error().code(), 0) << produced->response.error().message();
  }
  const int64_t produced_ms = NowMs() - restart_at;
  const int leader_now = Leader("restart", 0);
  const auto reference = WaitForCount(cluster_->broker(leader_now), "restart", 0, 25);
  ASSERT_EQ(reference.size(), 25u);
  const auto caught_up = WaitForCount(cluster_->broker(follower), "restart", 0, 25, 10'000);
  std::cout << "restarted node " << follower << ": ready after " << restarted_ms
            << " ms, 5 more batches acked at " << produced_ms << " ms, caught up at "
            << NowMs() - restart_at << " ms" << std::endl;
  EXPECT_EQ(Bytes(caught_up), Bytes(reference));
}

// Commits and fetches of a standalone group (no members).
std::vector<herald::v1::PartitionResult> Commit(herald::v1::Broker::Stub* stub,
                                                const std::map<int32_t, int64_t>& offsets) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  herald::v1::CommitOffsetsRequest request;
  request.set_group("g");
  for (const auto& [partition, offset] : offsets) {
    auto* o = request.add_offsets();
    o->set_topic("offsets");
    o->set_partition(partition);
    o->set_offset(offset);
  }
  herald::v1::CommitOffsetsResponse response;
  const grpc::Status s = stub->CommitOffsets(&context, request, &response);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return {response.results().begin(), response.results().end()};
}

absl::StatusOr<std::map<int32_t, int64_t>> Committed(herald::v1::Broker::Stub* stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  herald::v1::FetchCommittedOffsetsRequest request;
  request.set_group("g");
  herald::v1::FetchCommittedOffsetsResponse response;
  const grpc::Status s = stub->FetchCommittedOffsets(&context, request, &response);
  if (!s.ok()) return absl::UnavailableError(s.error_message());
  std::map<int32_t, int64_t> out;
  for (const auto& c : response.offsets()) {
    if (c.topic() == "offsets") out[c.partition()] = c.offset();
  }
  return out;
}

TEST_F(ClusterTest, CommittedOffsetsSurviveControllerFailover) {
  CreateTopic("offsets", 3);
  for (int32_t p = 0; p < 3; ++p) {
    for (int i = 0; i < 4; ++i) {
      std::vector<std::string> values;
      for (int r = 0; r < 5; ++r) values.push_back(absl::StrCat(p, "-", i, "-", r));
      auto produced = cluster_->ProduceToLeader(Request("offsets", p, values));
      ASSERT_TRUE(produced.ok()) << produced.status();
    }
  }
  const int controller = *cluster_->WaitForController();
  const std::map<int32_t, int64_t> committed = {{0, 5}, {1, 7}, {2, 11}};
  // Not on the controller: refused with its address, or relayed to it
  // (main's 86ed354); either way the same values.
  const auto elsewhere = Commit(cluster_->broker(OtherThan({controller})), committed);
  ASSERT_EQ(elsewhere.size(), 3u);
  if (elsewhere[0].error().code() != 0) {
    EXPECT_EQ(elsewhere[0].error().code(), kUnavailable);
    EXPECT_THAT(elsewhere[0].error().message(), HasSubstr(cluster_->client_address(controller)));
  }
  for (const auto& result : Commit(cluster_->broker(controller), committed)) {
    ASSERT_EQ(result.error().code(), 0) << result.error().message();
  }

  cluster_->node(controller).Kill();
  absl::StatusOr<int> new_controller = cluster_->WaitForController(10'000, {controller});
  ASSERT_TRUE(new_controller.ok()) << new_controller.status();
  ASSERT_NE(*new_controller, controller);
  // Survivors: first answer and eventual value. A lower value after the
  // commit was acknowledged would be a lost (or stale) commit.
  for (int id = 1; id <= 3; ++id) {
    if (id == controller) continue;
    const int64_t deadline = NowMs() + 5000;
    absl::StatusOr<std::map<int32_t, int64_t>> seen;
    do {
      seen = Committed(cluster_->broker(id));
      if (seen.ok()) {
        for (const auto& [partition, offset] : *seen) {
          EXPECT_GE(offset, committed.at(partition))
              << "node " << id << " partition " << partition << " went backwards";
        }
      }
      if (!seen.ok() || *seen != committed) SleepMs(20);
    } while ((!seen.ok() || *seen != committed) && NowMs() < deadline);
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_EQ(*seen, committed) << "node " << id;
  }
  // The new controller takes commits; the old one catches up on restart.
  const std::map<int32_t, int64_t> later = {{0, 9}, {1, 7}, {2, 12}};
  for (const auto& result : Commit(cluster_->broker(*new_controller), later)) {
    ASSERT_EQ(result.error().code(), 0) << result.error().message();
  }
  ASSERT_TRUE(cluster_->Restart(controller).ok());
  const int64_t deadline = NowMs() + 10'000;
  absl::StatusOr<std::map<int32_t, int64_t>> restarted;
  do {
    restarted = Committed(cluster_->broker(controller));
    if (!restarted.ok() || *restarted != later) SleepMs(20);
  } while ((!restarted.ok() || *restarted != later) && NowMs() < deadline);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_EQ(*restarted, later);
}

}  // namespace
}  // namespace herald::testing
