// One herald-server in its own network namespace; two idempotent acks=all
// producers, two group consumers and an offset fetcher record a History
// while a seeded nemesis kills (-9) and restarts, pauses, partitions and
// degrades (netem) the server. Then everything heals, the log is drained
// from the earliest offset and CheckHistory judges the history.
//
// HERALD_FAULT_SECONDS (default 12) sets the nemesis phase,
// HERALD_FAULT_SEED the schedule (default: time-based, printed).
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "herald/client/admin.h"
#include "herald/client/consumer.h"
#include "herald/client/producer.h"
#include "tests/fault/checker.h"
#include "tests/fault/history.h"
#include "tests/fault/netns.h"
#include "tests/harness/server_process.h"

namespace herald::fault {
namespace {

using herald::testing::ServerOptions;
using herald::testing::ServerProcess;

constexpr char kTopic[] = "fault";
constexpr char kGroup[] = "fault-group";
constexpr int kPartitions = 3;
constexpr int kFetcherProcess = 10;
constexpr int kDrainProcess = 99;

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = getenv(name);
  return v != nullptr && *v != '\0' ? std::atoll(v) : fallback;
}

void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

client::ConnectionOptions Connection(const std::string& address) {
  client::ConnectionOptions c;
  c.brokers = address;
  c.rpc_timeout_ms = 3'000;
  c.keepalive_time_ms = 1'000;  // Notice a partitioned connection quickly.
  c.keepalive_timeout_ms = 1'000;
  return c;
}

// Outcome of a commit or offset fetch: like a send's.
Outcome RpcOutcome(const absl::Status& status) { return SendOutcome(status); }

class Workload {
 public:
  Workload(std::string address, History* history)
      : address_(std::move(address)), history_(history) {}

  void Start() {
    for (int p = 0; p < 2; ++p) threads_.emplace_back([this, p] { Produce(p); });
    for (int c = 0; c < 2; ++c) threads_.emplace_back([this, c] { Consume(2 + c); });
    threads_.emplace_back([this] { FetchCommitted(); });
  }
  // Stops the clients: producers flush what they hold first.
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void Produce(int process) {
    client::ProducerOptions options;
    options.connection = Connection(address_);
    options.delivery_timeout_ms = 10'000;
    options.max_block_ms = 1'000;
    options.linger_ms = 2;
    auto producer = client::Producer::Create(options);
    if (!producer.ok()) {
      ADD_FAILURE() << "producer: " << producer.status();
      return;
    }
    for (int64_t n = 0; !stop_; ++n) {
      const std::string value = absl::StrCat("p", process, "-", n);
      const int32_t partition = static_cast<int32_t>(n % kPartitions);
      const int64_t op = history_->Invoke(process, OpType::kSend, value, partition);
      client::Record record;
      record.value = value;
      (*producer)->Send(kTopic, std::move(record), partition,
                        [this, op](const client::DeliveryResult& result) {
                          if (result.ok()) {
                            history_->Complete(op, Outcome::kOk, result->partition, result->offset);
                          } else {
                            history_->Complete(op, SendOutcome(result.status()), -1, -1,
                                               result.status().ToString());
                          }
                        });
      SleepMs(3);
    }
    (void)(*producer)->Flush(30'000);
    (*producer)->Close(5'000);  // Unresolved sends stay pending: unknown.
  }

  std::unique_ptr<client::Consumer> NewConsumer(int process) {
    client::ConsumerOptions options;
    options.connection = Connection(address_);
    options.group = kGroup;
    options.session_timeout_ms = 6'000;
    options.max_reconnect_attempts = 100;
    auto consumer = client::Consumer::Create(options);
    if (!consumer.ok()) return nullptr;
    client::RebalanceListener listener;
    // Positions may jump on any assignment change: mark a reset.
    auto reset = [this, process](const std::vector<client::TopicPartition>&) {
      Op op;
      op.process = process;
      op.type = OpType::kReset;
      history_->Record(op);
    };
    listener.on_assigned = reset;
    listener.on_revoked = reset;
    if (!(*consumer)->SubscribeGroup({kTopic}, client::StartPosition::Earliest(), listener).ok()) {
      return nullptr;
    }
    return std::move(*consumer);
  }

  void Consume(int process) {
    std::unique_ptr<client::Consumer> consumer;
    std::map<int32_t, int64_t> next;  // partition -> offset after the last polled
    int64_t last_commit_us = History::NowUs();
    while (!stop_) {
      if (consumer == nullptr) {
        Op reset;
        reset.process = process;
        reset.type = OpType::kReset;
        history_->Record(reset);
        next.clear();
        consumer = NewConsumer(process);
        if (consumer == nullptr) {
          SleepMs(200);
          continue;
        }
      }
      absl::StatusOr<std::vector<client::ConsumedRecord>> records = consumer->Poll(200);
      if (!records.ok()) {
        consumer->Close();
        consumer.reset();
        continue;
      }
      for (const client::ConsumedRecord& r : *records) {
        Op op;
        op.process = process;
        op.type = OpType::kPoll;
        op.value = r.value;
        op.partition = r.partition;
        op.offset = r.offset;
        history_->Record(op);
        next[r.partition] = r.offset + 1;
      }
      if (History::NowUs() - last_commit_us > 300'000 && !next.empty()) {
        last_commit_us = History::NowUs();
        Commit(process, consumer.get(), next);
      }
    }
    if (consumer != nullptr) consumer->Close();
  }

  void Commit(int process, client::Consumer* consumer, const std::map<int32_t, int64_t>& next) {
    std::vector<client::PartitionOffset> offsets;
    std::vector<int64_t> ops;
    for (const auto& [partition, offset] : next) {
      offsets.push_back({kTopic, partition, offset, ""});
      ops.push_back(history_->Invoke(process, OpType::kCommit, "", partition, offset, kGroup));
    }
    const absl::Status status = consumer->Commit(offsets);
    for (int64_t op : ops) {
      history_->Complete(op, RpcOutcome(status), -1, -1, status.ok() ? "" : status.ToString());
    }
  }

  void FetchCommitted() {
    client::AdminOptions options;
    options.connection = Connection(address_);
    auto admin = client::Admin::Create(options);
    if (!admin.ok()) return;
    std::vector<client::TopicPartition> partitions;
    for (int p = 0; p < kPartitions; ++p) partitions.push_back({kTopic, p});
    while (!stop_) {
      SleepMs(250);
      std::vector<int64_t> ops;
      for (int p = 0; p < kPartitions; ++p) {
        ops.push_back(
            history_->Invoke(kFetcherProcess, OpType::kFetchCommitted, "", p, -1, kGroup));
      }
      auto fetched = (*admin)->FetchCommittedOffsets(kGroup, partitions);
      std::map<int32_t, int64_t> by_partition;
      if (fetched.ok()) {
        for (const client::PartitionOffset& po : *fetched) by_partition[po.partition] = po.offset;
      }
      for (int p = 0; p < kPartitions; ++p) {
        if (!fetched.ok()) {
          history_->Complete(ops[p], RpcOutcome(fetched.status()), -1, -1,
                             fetched.status().ToString());
        } else {
          auto it = by_partition.find(p);
          history_->Complete(ops[p], Outcome::kOk, -1, it == by_partition.end() ? -1 : it->second);
        }
      }
    }
  }

  const std::string address_;
  History* const history_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// Reads every partition from the earliest offset up to its end, recording
// each record as a kFinalRead.
absl::Status Drain(const std::string& address, History* history, int partitions = kPartitions) {
  client::AdminOptions admin_options;
  admin_options.connection = Connection(address);
  auto admin = client::Admin::Create(admin_options);
  if (!admin.ok()) return admin.status();
  auto ends = (*admin)->ListOffsets(kTopic, {}, client::StartPosition::Latest());
  if (!ends.ok()) return ends.status();
  std::map<int32_t, int64_t> end;
  for (const client::PartitionOffsets& po : *ends) end[po.partition] = po.offset;
  client::ConsumerOptions options;
  options.connection = Connection(address);
  auto consumer = client::Consumer::Create(options);
  if (!consumer.ok()) return consumer.status();
  std::vector<std::pair<client::TopicPartition, client::StartPosition>> assignment;
  for (int p = 0; p < partitions; ++p) {
    assignment.push_back({{kTopic, p}, client::StartPosition::Earliest()});
  }
  if (absl::Status s = (*consumer)->Assign(assignment); !s.ok()) return s;
  std::map<int32_t, int64_t> next;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto done = [&] {
    for (const auto& [p, e] : end) {
      if (next[p] < e) return false;
    }
    return true;
  };
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError("drain did not reach the end offsets");
    }
    auto records = (*consumer)->Poll(500);
    if (!records.ok()) return records.status();
    for (const client::ConsumedRecord& r : *records) {
      Op op;
      op.process = kDrainProcess;
      op.type = OpType::kFinalRead;
      op.value = r.value;
      op.partition = r.partition;
      op.offset = r.offset;
      history->Record(op);
      next[r.partition] = r.offset + 1;
    }
  }
  (*consumer)->Close();
  return absl::OkStatus();
}

// The nemesis: runs on the test's main thread (Restart must, see
// ServerProcess), alternating quiet periods and one fault at a time.
class Nemesis {
 public:
  Nemesis(ServerProcess* server, NetNamespace* ns, uint64_t seed)
      : server_(server), ns_(ns), rng_(seed), have_iptables_(HaveProgram("iptables")) {
    if (!have_iptables_) {
      std::cerr << "[nemesis] iptables is not installed: partitions are skipped "
                   "(scripts/setup.sh installs it)\n";
    }
    // Kernels without sch_netem (some VMs and containers) reject the qdisc.
    const absl::Status netem = ns_->SetNetem(1, 0, 0.0);
    have_netem_ = netem.ok();
    (void)ns_->ClearNetem();
    if (!have_netem_) {
      std::cerr << "[nemesis] tc netem is unavailable here, delay/loss faults are skipped: "
                << netem << "\n";
    }
  }

  void Run(int64_t seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
      SleepMs(Uniform(500, 1500));
      Fault(static_cast<int>(Uniform(0, 3)));
    }
  }

  std::string log() const { return log_; }

 private:
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  void Note(const std::string& what) {
    // The time matches the ops' invoke/complete times (steady clock, us).
    std::cerr << "[nemesis] " << History::NowUs() << "us " << what << "\n";
    absl::StrAppend(&log_, what, "; ");
  }

  void Fault(int kind) {
    switch (kind) {
      case 0: {
        Note("kill -9 + restart");
        server_->Kill();
        const absl::Status s = server_->Restart();
        ASSERT_TRUE(s.ok()) << s;
        break;
      }
      case 1: {
        const int64_t ms = Uniform(500, 2000);
        Note(absl::StrCat("pause ", ms, " ms"));
        server_->Pause();
        SleepMs(ms);
        server_->Resume();
        break;
      }
      case 2: {
        if (!have_iptables_) return;
        const int64_t ms = Uniform(1000, 3000);
        Note(absl::StrCat("partition ", ms, " ms"));
        const absl::Status s = ns_->Partition();
        ASSERT_TRUE(s.ok()) << s;
        SleepMs(ms);
        ASSERT_TRUE(ns_->HealPartition().ok());
        break;
      }
      case 3: {
        if (!have_netem_) return;
        const int delay = static_cast<int>(Uniform(10, 80));
        const int64_t ms = Uniform(1000, 2500);
        Note(absl::StrCat("netem delay ", delay, "ms loss 10% for ", ms, " ms"));
        const absl::Status s = ns_->SetNetem(delay, delay / 2, 10.0);
        ASSERT_TRUE(s.ok()) << s;
        SleepMs(ms);
        ASSERT_TRUE(ns_->ClearNetem().ok());
        break;
      }
    }
  }

  ServerProcess* server_;
  NetNamespace* ns_;
  std::mt19937_64 rng_;
  bool have_iptables_;
  bool have_netem_ = false;
  std::string log_;
};

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = NetnsUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
    auto ns = NetNamespace::Create();
    ASSERT_TRUE(ns.ok()) << ns.status();
    ns_ = std::move(*ns);
    ServerOptions options;
    options.listen_host = ns_->ns_ip();
    options.command_prefix = ns_->ExecPrefix();
    options.restart_on_same_ports = true;
    auto server = ServerProcess::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  void TearDown() override {
    if (ns_ != nullptr) (void)ns_->HealAll();
  }

  std::unique_ptr<NetNamespace> ns_;  // Outlives the server running inside.
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(FaultTest, NamespaceServerIsReachableAndPartitionable) {
  client::AdminOptions options;
  options.connection = Connection(server_->address());
  auto admin = client::Admin::Create(options);
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE((*admin)->ListTopics().ok()) << "server at " << server_->address();
  if (!HaveProgram("iptables")) {
    GTEST_SKIP() << "iptables is not installed (scripts/setup.sh installs it): "
                    "partition check skipped";
  }
  ASSERT_TRUE(ns_->Partition().ok());
  EXPECT_FALSE((*admin)->ListTopics().ok()) << "a partitioned server answered";
  ASSERT_TRUE(ns_->HealPartition().ok());
  // The connection recovers once packets flow again.
  bool healed = false;
  for (int i = 0; i < 20 && !healed; ++i) healed = (*admin)->ListTopics().ok();
  EXPECT_TRUE(healed);
}

// Lost acknowledgements: the server receives and appends every batch while
// its answers are dropped, then the producer reconnects and retries its
// whole in-flight window. An idempotent producer must not write any record
// twice (rule e) nor lose an acked one (rule b).
TEST_F(FaultTest, IdempotentProducerRetriesAfterLostAcks) {
  if (!HaveProgram("iptables")) {
    GTEST_SKIP() << "iptables is not installed (scripts/setup.sh installs it)";
  }
  {
    client::AdminOptions options;
    options.connection = Connection(server_->address());
    auto admin = client::Admin::Create(options);
    ASSERT_TRUE(admin.ok());
    ASSERT_TRUE((*admin)->CreateTopic(kTopic, kPartitions, 0, {}).ok());
  }
  History history;
  client::ProducerOptions options;  // The defaults, as an application has them.
  options.connection = Connection(server_->address());
  options.linger_ms = 0;
  options.delivery_timeout_ms = 20'000;
  auto producer = client::Producer::Create(options);
  ASSERT_TRUE(producer.ok());
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    for (int64_t n = 0; !stop; ++n) {
      const std::string value = absl::StrCat("v", n);
      const int32_t partition = static_cast<int32_t>(n % kPartitions);
      const int64_t op = history.Invoke(0, OpType::kSend, value, partition);
      client::Record record;
      record.value = value;
      (*producer)->Send(
          kTopic, std::move(record), 0, [&history, op](const client::DeliveryResult& r) {
            if (r.ok()) {
              history.Complete(op, Outcome::kOk, r->partition, r->offset);
            } else {
              history.Complete(op, SendOutcome(r.status()), -1, -1, r.status().ToString());
            }
          });
      SleepMs(1);
    }
  });
  SleepMs(500);
  ASSERT_TRUE(ns_->Partition(NetNamespace::Direction::kFromServer).ok());
  SleepMs(3000);  // Longer than the client's keepalive: it reconnects and retries.
  ASSERT_TRUE(ns_->HealPartition().ok());
  SleepMs(1500);
  stop = true;
  sender.join();
  EXPECT_TRUE((*producer)->Flush(30'000).ok());
  (*producer)->Close();
  ASSERT_TRUE(Drain(server_->address(), &history).ok());
  const CheckResult result = CheckHistory(history.Snapshot());
  std::cerr << "[fault] " << result.Summary(5) << "\n";
  EXPECT_TRUE(result.ok()) << result.Summary(10);
  EXPECT_GT(result.sends_ok, 100);
}

TEST_F(FaultTest, HistoryUnderNemesisPassesChecker) {
  const uint64_t seed = static_cast<uint64_t>(
      EnvInt("HERALD_FAULT_SEED", std::chrono::system_clock::now().time_since_epoch().count()));
  const int64_t seconds = EnvInt("HERALD_FAULT_SECONDS", 12);
  std::cerr << "[fault] seed " << seed << " (HERALD_FAULT_SEED), " << seconds
            << " s of faults (HERALD_FAULT_SECONDS)\n";
  {
    client::AdminOptions options;
    options.connection = Connection(server_->address());
    auto admin = client::Admin::Create(options);
    ASSERT_TRUE(admin.ok());
    ASSERT_TRUE((*admin)->CreateTopic(kTopic, kPartitions, 0, {}).ok());
  }
  History history;
  Workload workload(server_->address(), &history);
  workload.Start();
  SleepMs(1000);  // Some traffic before the first fault.
  Nemesis nemesis(server_.get(), ns_.get(), seed);
  nemesis.Run(seconds);
  ASSERT_TRUE(ns_->HealAll().ok());
  server_->Resume();
  ASSERT_TRUE(server_->IsRunning());
  SleepMs(2000);  // Traffic after healing: clients must recover.
  workload.Stop();
  const absl::Status drained = Drain(server_->address(), &history);
  ASSERT_TRUE(drained.ok()) << drained;

  const std::vector<Op> ops = history.Snapshot();
  const CheckResult result = CheckHistory(ops);
  // Why sends were not ok: the status code names, counted.
  std::map<std::string, int64_t> errors;
  std::map<std::string, std::string> example;  // one full op per error kind
  for (const Op& op : ops) {
    if (op.type == OpType::kSend && op.outcome != Outcome::kOk) {
      example.emplace(op.error.substr(0, op.error.find(':')), op.DebugString());
      ++errors[absl::StrCat(OutcomeName(op.outcome), " ", op.error.substr(0, op.error.find(':')))];
    }
  }
  for (const auto& [error, count] : errors) {
    std::cerr << "[fault] sends " << error << ": " << count << "\n";
  }
  for (const auto& [code, op] : example) std::cerr << "[fault] e.g. " << op << "\n";
  std::cerr << "[fault] " << result.Summary() << "\n[fault] nemesis: " << nemesis.log() << "\n";
  EXPECT_TRUE(result.ok()) << "seed " << seed << ": " << result.Summary();
  // Not vacuous: the workload made progress and was read.
  EXPECT_GT(result.sends_ok, 100);
  EXPECT_GT(result.polls, 100);
  EXPECT_GT(result.commits_ok, 0);
  EXPECT_GT(result.fetches, 0);
}

}  // namespace
}  // namespace herald::fault
