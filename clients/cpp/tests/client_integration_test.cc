// Producer, Consumer and Admin against the real herald-server binary.
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/murmur2.h"
#include "gtest/gtest.h"
#include "herald/client/admin.h"
#include "herald/client/consumer.h"
#include "herald/client/producer.h"
#include "tests/harness/server_process.h"

namespace herald::client {
namespace {

using testing::ServerOptions;
using testing::ServerProcess;

std::unique_ptr<ServerProcess> StartServer(bool same_ports_on_restart = false) {
  ServerOptions options;
  options.restart_on_same_ports = same_ports_on_restart;
  auto server = ServerProcess::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

std::unique_ptr<Admin> NewAdmin(const ServerProcess& server) {
  AdminOptions options;
  options.connection.brokers = server.address();
  return std::move(*Admin::Create(options));
}

void CreateTopic(const ServerProcess& server, const std::string& name, int32_t partitions) {
  auto topic = NewAdmin(server)->CreateTopic(name, partitions, 0, {});
  ASSERT_TRUE(topic.ok()) << topic.status();
}

ProducerOptions FastProducer(const ServerProcess& server) {
  ProducerOptions options;
  options.connection.brokers = server.address();
  options.linger_ms = 2;
  options.batch_max_bytes = 4 << 10;  // small batches: many in flight
  options.retry_backoff_ms = 20;
  options.retry_backoff_max_ms = 200;
  options.delivery_timeout_ms = 30'000;
  return options;
}

// Polls until `count` records arrived or timeout_ms passed.
std::vector<ConsumedRecord> PollUntil(Consumer& consumer, size_t count, int64_t timeout_ms) {
  std::vector<ConsumedRecord> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto records = consumer.Poll(100);
    if (!records.ok()) {
      ADD_FAILURE() << records.status();
      break;
    }
    for (auto& r : *records) out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::pair<TopicPartition, StartPosition>> AllFromEarliest(const std::string& topic,
                                                                      int32_t partitions) {
  std::vector<std::pair<TopicPartition, StartPosition>> out;
  for (int32_t p = 0; p < partitions; ++p) out.push_back({{topic, p}, StartPosition::Earliest()});
  return out;
}

TEST(ClientIntegration, RoundTripWithBatchingAndManyInFlightSends) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  CreateTopic(*server, "rt", 3);
  auto producer = std::move(*Producer::Create(FastProducer(*server)));
  constexpr int kRecords = 3000;
  std::vector<std::future<DeliveryResult>> futures;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRecords; ++i) {
    Record r{"key-" + std::to_string(i % 97), "value-" + std::to_string(i), {{"h", "x"}}, 0};
    if (i % 2 == 0) r.timestamp_ms = 1'700'000'000'000 + i;
    futures.push_back(producer->Send("rt", std::move(r)));
  }
  ASSERT_TRUE(producer->Flush(30'000).ok());
  const auto produce_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  std::map<std::pair<int32_t, int64_t>, int> where;  // (partition, offset) -> record index
  for (int i = 0; i < kRecords; ++i) {
    DeliveryResult result = futures[i].get();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_TRUE(where.emplace(std::make_pair(result->partition, result->offset), i).second);
  }
  std::printf("produced %d records (acks all) in %lld ms\n", kRecords,
              static_cast<long long>(produce_ms));

  ConsumerOptions consumer_options;
  consumer_options.connection.brokers = server->address();
  consumer_options.max_buffered_records = 500;  // forces several credit grants
  auto consumer = std::move(*Consumer::Create(consumer_options));
  ASSERT_TRUE(consumer->Assign(AllFromEarliest("rt", 3)).ok());
  std::vector<ConsumedRecord> records = PollUntil(*consumer, kRecords, 30'000);
  ASSERT_EQ(records.size(), static_cast<size_t>(kRecords));
  std::map<int32_t, int64_t> last_offset;
  for (const ConsumedRecord& r : records) {
    auto it = where.find({r.partition, r.offset});
    ASSERT_NE(it, where.end());
    const int i = it->second;
    EXPECT_EQ(r.value, "value-" + std::to_string(i));
    EXPECT_EQ(r.key, "key-" + std::to_string(i % 97));
    ASSERT_EQ(r.headers.size(), 1u);
    if (i % 2 == 0) {
      EXPECT_EQ(r.timestamp_ms, 1'700'000'000'000 + i);
    } else {
      EXPECT_GT(r.timestamp_ms, 1'700'000'000'000);  // the append time
    }
    if (last_offset.count(r.partition)) {
      EXPECT_EQ(r.offset, last_offset[r.partition] + 1);
    }
    last_offset[r.partition] = r.offset;
  }
  EXPECT_EQ(consumer->Position({"rt", 0}), last_offset[0] + 1);
}

TEST(ClientIntegration, KeyedRecordsLandOnTheMurmur2Partition) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  CreateTopic(*server, "keyed", 8);
  auto producer = std::move(*Producer::Create(FastProducer(*server)));
  std::vector<std::future<DeliveryResult>> futures;
  for (int i = 0; i < 200; ++i) {
    futures.push_back(producer->Send("keyed", Record{"user-" + std::to_string(i), "v", {}, 0}));
  }
  for (int i = 0; i < 200; ++i) {
    DeliveryResult result = futures[i].get();
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->partition, PartitionForKey("user-" + std::to_string(i), 8));
  }
}

TEST(ClientIntegration, KeylessRecordsSpreadAcrossPartitions) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  CreateTopic(*server, "spread", 4);
  ProducerOptions options = FastProducer(*server);
  options.batch_max_bytes = 512;
  auto producer = std::move(*Producer::Create(options));
  std::vector<std::future<DeliveryResult>> futures;
  for (int i = 0; i < 400; ++i) {
    futures.push_back(producer->Send("spread", Record{"", std::string(100, 'x'), {}, 0}));
  }
  std::set<int32_t> used;
  for (auto& f : futures) {
    DeliveryResult result = f.get();
    ASSERT_TRUE(result.ok()) << result.status();
    used.insert(result->partition);
  }
  EXPECT_GE(used.size(), 3u);
}

TEST(ClientIntegration, UnknownTopicFailsTheSendWithNotFound) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto producer = std::move(*Producer::Create(FastProducer(*server)));
  DeliveryResult result = producer->Send("nope", Record{"", "v", {}, 0}).get();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound) << result.status();

  ConsumerOptions consumer_options;
  consumer_options.connection.brokers = server->address();
  auto consumer = std::move(*Consumer::Create(consumer_options));
  ASSERT_TRUE(consumer->SubscribeTopics({"nope"}, StartPosition::Earliest()).ok());
  auto polled = consumer->Poll(5'000);
  EXPECT_EQ(polled.status().code(), absl::StatusCode::kNotFound) << polled.status();
}

TEST(ClientIntegration, SendsDuringAServerRestartSucceedAfterIt) {
  auto server = StartServer(/*same_ports_on_restart=*/true);
  ASSERT_NE(server, nullptr);
  CreateTopic(*server, "restart", 2);
  auto producer = std::move(*Producer::Create(FastProducer(*server)));
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        producer->Send("restart", Record{"", "before-" + std::to_string(i), {}, 0}).get().ok());
  }
  server->Kill();
  std::vector<std::future<DeliveryResult>> during;
  for (int i = 0; i < 50; ++i) {
    during.push_back(producer->Send("restart", Record{"", "during-" + std::to_string(i), {}, 0}));
  }
  ASSERT_TRUE(server->Restart().ok());
  for (auto& f : during) {
    DeliveryResult result = f.get();
    EXPECT_TRUE(result.ok()) << result.status();
  }
  ASSERT_TRUE(producer->Send("restart", Record{"", "after", {}, 0}).get().ok());

  ConsumerOptions consumer_options;
  consumer_options.connection.brokers = server->address();
  auto consumer = std::move(*Consumer::Create(consumer_options));
  ASSERT_TRUE(consumer->Assign(AllFromEarliest("restart", 2)).ok());
  std::set<std::string> values;
  for (const ConsumedRecord& r : PollUntil(*consumer, 101, 20'000)) values.insert(r.value);
  EXPECT_EQ(values.count("during-0"), 1u);
  EXPECT_EQ(values.count("during-49"), 1u);
  EXPECT_EQ(values.count("after"), 1u);
}

// Batches in flight when the server dies may already be in the log without
// their acknowledgement: the producer re-sends them, and the idempotent
// producer (the default) must not let them be written twice.
TEST(ClientIntegration, IdempotentProducerWritesEveryRecordOnceAcrossServerKills) {
  auto server = StartServer(/*same_ports_on_restart=*/true);
  ASSERT_NE(server, nullptr);
  CreateTopic(*server, "exactly-once", 2);
  ProducerOptions options = FastProducer(*server);
  options.acks = Acks::kLeader;  // fast acks: more batches in flight at each kill
  auto producer = std::move(*Producer::Create(options));
  constexpr int kRecords = 6000;
  std::vector<std::future<DeliveryResult>> sent;
  for (int i = 0; i < kRecords; ++i) {
    sent.push_back(producer->Send("exactly-once", Record{"", "r-" + std::to_string(i), {}, 0}));
    if (i == kRecords / 3 || i == 2 * kRecords / 3) {
      server->Kill();
      ASSERT_TRUE(server->Restart().ok());
    }
  }
  for (auto& f : sent) {
    DeliveryResult result = f.get();
    ASSERT_TRUE(result.ok()) << result.status();
  }
  ConsumerOptions consumer_options;
  consumer_options.connection.brokers = server->address();
  auto consumer = std::move(*Consumer::Create(consumer_options));
  ASSERT_TRUE(consumer->Assign(AllFromEarliest("exactly-once", 2)).ok());
  std::map<std::string, int> seen;
  for (const ConsumedRecord& r : PollUntil(*consumer, kRecords + 100, 5'000)) ++seen[r.value];
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRecords)) << "records lost";
  int duplicated = 0;
  for (const auto& [value, count] : seen) duplicated += count > 1 ? 1 : 0;
  EXPECT_EQ(duplicated, 0) << "records written more than once";
}

// A record sent while the broker is down (here: restarting) waits for it
// within the deadlines instead of failing at once on a reconnecting channel.
TEST(ClientIntegration, SendWhileTheBrokerRestartsSucceedsOnceItIsBack) {
  auto server = StartServer(/*same_ports_on_restart=*/true);
  ASSERT_NE(server, nullptr);
  CreateTopic(*server, "restarting", 1);
  auto producer = std::move(*Producer::Create(FastProducer(*server)));
  server->Kill();
  // Send from another thread: it blocks for topic metadata while the broker
  // is down. (The restart stays on this thread: the harness ties the child's
  // life to the thread that spawned it.)
  auto sending = std::async(std::launch::async, [&] {
    return producer->Send("restarting", Record{"k", "v", {}, 0}).get();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ASSERT_TRUE(server->Restart().ok());
  DeliveryResult result = sending.get();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->offset, 0);
}

TEST(ClientIntegration, ConsumerResumesAfterServerRestartWithoutGapsOrDuplicates) {
  auto server = StartServer(/*same_ports_on_restart=*/true);
  ASSERT_NE(server, nullptr);
  CreateTopic(*server, "resume", 1);
  auto producer = std::move(*Producer::Create(FastProducer(*server)));
  for (int i = 0; i < 100; ++i) producer->Send("resume", Record{"", std::to_string(i), {}, 0});
  ASSERT_TRUE(producer->Flush(10'000).ok());
  producer->Close();

  ConsumerOptions consumer_options;
  consumer_options.connection.brokers = server->address();
  consumer_options.max_buffered_records = 20;
  consumer_options.reconnect_backoff_ms = 20;
  auto consumer = std::move(*Consumer::Create(consumer_options));
  ASSERT_TRUE(consumer->Assign({{{"resume", 0}, StartPosition::Earliest()}}).ok());
  std::vector<ConsumedRecord> got = PollUntil(*consumer, 30, 10'000);
  ASSERT_GE(got.size(), 30u);

  ASSERT_TRUE(server->Restart().ok());
  auto producer2 = std::move(*Producer::Create(FastProducer(*server)));
  std::vector<std::future<DeliveryResult>> sent;
  for (int i = 100; i < 150; ++i) {
    sent.push_back(producer2->Send("resume", Record{"", std::to_string(i), {}, 0}));
  }
  ASSERT_TRUE(producer2->Flush(10'000).ok());
  for (auto& f : sent) {
    DeliveryResult result = f.get();
    ASSERT_TRUE(result.ok()) << result.status();
  }

  for (ConsumedRecord& r : PollUntil(*consumer, 150 - got.size(), 20'000)) {
    got.push_back(std::move(r));
  }
  ASSERT_EQ(got.size(), 150u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].offset, static_cast<int64_t>(i));
    EXPECT_EQ(got[i].value, std::to_string(i));
  }
}

TEST(ClientIntegration, SeekRereadsFromTheNewPosition) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  CreateTopic(*server, "seek", 1);
  auto producer = std::move(*Producer::Create(FastProducer(*server)));
  for (int i = 0; i < 20; ++i) producer->Send("seek", Record{"", std::to_string(i), {}, 0});
  ASSERT_TRUE(producer->Flush(10'000).ok());
  ConsumerOptions consumer_options;
  consumer_options.connection.brokers = server->address();
  auto consumer = std::move(*Consumer::Create(consumer_options));
  ASSERT_TRUE(consumer->Assign({{{"seek", 0}, StartPosition::Offset(15)}}).ok());
  std::vector<ConsumedRecord> got = PollUntil(*consumer, 5, 10'000);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].offset, 15);
  ASSERT_TRUE(consumer->Seek({"seek", 0}, StartPosition::Offset(3)).ok());
  got = PollUntil(*consumer, 2, 10'000);
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[0].offset, 3);
  EXPECT_EQ(got[1].offset, 4);
}

TEST(ClientIntegration, AdminManagesTopicsOffsetsAndCluster) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto admin = NewAdmin(*server);
  v1::TopicConfig config;
  config.set_retention_ms(3'600'000);
  auto created = admin->CreateTopic("admin-t", 2, 1, config);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(admin->CreateTopic("admin-t", 2, 1, {}).status().code(),
            absl::StatusCode::kAlreadyExists);

  auto topics = admin->ListTopics();
  ASSERT_TRUE(topics.ok()) << topics.status();
  ASSERT_EQ(topics->size(), 1u);
  EXPECT_EQ((*topics)[0].name(), "admin-t");

  v1::TopicConfig change;
  change.set_retention_bytes(1 << 20);
  auto altered = admin->AlterTopicConfig("admin-t", change);
  ASSERT_TRUE(altered.ok()) << altered.status();
  EXPECT_EQ(altered->retention_bytes(), 1 << 20);
  EXPECT_EQ(altered->retention_ms(), 3'600'000);

  auto grown = admin->CreatePartitions("admin-t", 5);
  ASSERT_TRUE(grown.ok()) << grown.status();
  auto described = admin->DescribeTopic("admin-t");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->partitions_size(), 5);

  auto offsets = admin->ListOffsets("admin-t", {}, StartPosition::Latest());
  ASSERT_TRUE(offsets.ok()) << offsets.status();
  EXPECT_EQ(offsets->size(), 5u);

  ASSERT_TRUE(admin->CommitOffsets("g1", {{"admin-t", 1, 0, "meta"}}).ok());
  auto committed = admin->FetchCommittedOffsets("g1", {{"admin-t", 1}});
  ASSERT_TRUE(committed.ok()) << committed.status();
  ASSERT_EQ(committed->size(), 1u);
  EXPECT_EQ((*committed)[0].offset, 0);

  auto cluster = admin->DescribeCluster();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  EXPECT_GE(cluster->brokers_size(), 1);

  ASSERT_TRUE(admin->DeleteTopic("admin-t").ok());
  EXPECT_EQ(admin->DescribeTopic("admin-t").status().code(), absl::StatusCode::kNotFound);
}

// (Pause waits until the server is really stopped: SIGSTOP is asynchronous,
// and a call racing it used to succeed now and then.)
TEST(ClientIntegration, UnaryCallsFailWithinTheirDeadlineWhenTheServerIsPaused) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  AdminOptions options;
  options.connection.brokers = server->address();
  options.connection.rpc_timeout_ms = 300;
  auto admin = std::move(*Admin::Create(options));
  ASSERT_TRUE(admin->ListTopics().ok());
  server->Pause();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(admin->ListTopics().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  server->Resume();
}

}  // namespace
}  // namespace herald::client

namespace herald::client {
namespace {

// Two members of one group split the partitions, each record is processed
// by exactly one of them, and when one closes the other takes over from
// the committed offsets.
TEST(ClientIntegration, GroupMembersSplitPartitionsAndHandOverAtTheCommit) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  CreateTopic(*server, "orders", 4);
  auto producer = std::move(*Producer::Create(FastProducer(*server)));
  auto produce = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      producer->Send("orders", Record{"k" + std::to_string(i), std::to_string(i), {}, 0});
    }
    ASSERT_TRUE(producer->Flush(10'000).ok());
  };
  ConsumerOptions options;
  options.connection.brokers = server->address();
  options.group = "billing";
  std::map<std::string, int> processed;
  std::vector<std::unique_ptr<Consumer>> members;
  std::vector<size_t> owned(2, 0);
  for (int m = 0; m < 2; ++m) {
    members.push_back(std::move(*Consumer::Create(options)));
    RebalanceListener listener;
    listener.on_assigned = [&owned, m](const std::vector<TopicPartition>& now) {
      owned[m] = now.size();
    };
    ASSERT_TRUE(members[m]->SubscribeGroup({"orders"}, StartPosition::Earliest(), listener).ok());
  }
  auto drain = [&](size_t total, int64_t timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t seen = 0;
    for (const auto& [v, n] : processed) seen += n;
    while (seen < total && std::chrono::steady_clock::now() < deadline) {
      for (auto& member : members) {
        auto records = member->Poll(50);
        ASSERT_TRUE(records.ok()) << records.status();
        for (const ConsumedRecord& r : *records) ++processed[r.value], ++seen;
        // A commit racing a rebalance carries the old generation and is
        // refused (ABORTED); the next one, after the new assignment, goes
        // through. Anything else is a failure.
        const absl::Status committed = member->CommitPositions();
        ASSERT_TRUE(committed.ok() || absl::IsAborted(committed)) << committed;
      }
    }
  };
  produce(0, 200);
  drain(200, 20'000);
  for (int i = 0; i < 50 && (owned[0] != 2 || owned[1] != 2); ++i) drain(200, 100);
  EXPECT_EQ(owned[0], 2u);
  EXPECT_EQ(owned[1], 2u);
  members[1]->Close();
  members.pop_back();
  produce(200, 300);
  drain(300, 20'000);
  EXPECT_EQ(processed.size(), 300u) << "records lost";
  for (const auto& [value, count] : processed) {
    EXPECT_EQ(count, 1) << "record " << value << " processed " << count << " times";
  }
}

}  // namespace
}  // namespace herald::client
