// Three herald-server nodes in cluster mode, each in its own network
// namespace (routed through the root namespace, so iptables inside one
// namespace cuts that node from the clients and / or from its peers). Two
// idempotent acks=all producers route each batch to the partition leader, a
// consumer reads from whichever node answers and commits (standalone group)
// on the controller, an offset fetcher reads the commits from the
// controller; all record a History while a seeded nemesis kills (-9) and
// restarts, pauses, isolates the leader of a partition and cuts a node from
// its peers, isolates the controller. Then everything heals, every partition is read from every
// node (all must agree byte for byte) and CheckHistory judges the history.
//
// HERALD_FAULT_SECONDS (default 15) sets the nemesis phase,
// HERALD_FAULT_SEED the schedule (default: time-based, printed).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/fault/checker.h"
#include "tests/fault/history.h"
#include "tests/fault/netns.h"
#include "tests/harness/cluster_process.h"

namespace herald::fault {
namespace {

using herald::testing::ClusterProcesses;
using herald::testing::ClusterProcessOptions;
using herald::testing::ReadRecord;

constexpr char kTopic[] = "cfault";
constexpr char kGroup[] = "cfault-group";
constexpr int kPartitions = 3;
constexpr int kNodes = 3;
constexpr int kConsumerProcess = 5;
constexpr int kFetcherProcess = 10;
constexpr int kDrainProcess = 99;
constexpr int64_t kDeliveryTimeoutMs = 6'000;

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* v = getenv(name);
  return v != nullptr && *v != '\0' ? std::atoll(v) : fallback;
}

void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::chrono::system_clock::time_point DeadlineIn(int64_t ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

absl::Status ToAbsl(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

absl::Status FromError(const herald::v1::Error& e) {
  return absl::Status(static_cast<absl::StatusCode>(e.code()), e.message());
}

// ip_forward in the root namespace, switched on for the test: the nodes'
// namespaces reach each other through it. ctest -j runs test cases in
// parallel, so every user holds a shared flock on kUsers for its lifetime;
// the one that switched forwarding on records the old value in kState, and
// whoever ends last (takes kUsers exclusively) restores it. kMutex makes
// the switch and the restore atomic with respect to each other.
class IpForward {
 public:
  static constexpr char kPath[] = "/proc/sys/net/ipv4/ip_forward";
  static constexpr char kMutex[] = "/tmp/herald-fault-ip-forward.mutex";
  static constexpr char kUsers[] = "/tmp/herald-fault-ip-forward.users";
  static constexpr char kState[] = "/tmp/herald-fault-ip-forward.state";
  IpForward() {
    const int mutex = LockFile(kMutex, LOCK_EX);
    users_fd_ = LockFile(kUsers, LOCK_SH);
    const std::string value = Read(kPath);
    if (value != "1") {
      std::ofstream(kState, std::ios::trunc) << value;
      std::ofstream(kPath) << "1\n";
    }
    if (mutex >= 0) close(mutex);
  }
  ~IpForward() {
    const int mutex = LockFile(kMutex, LOCK_EX);
    if (users_fd_ >= 0 && flock(users_fd_, LOCK_EX | LOCK_NB) == 0) {  // the last user
      const std::string previous = Read(kState);
      if (!previous.empty() && previous != "1") std::ofstream(kPath) << previous << "\n";
      std::ofstream(kState, std::ios::trunc).flush();
    }
    if (users_fd_ >= 0) close(users_fd_);
    if (mutex >= 0) close(mutex);
  }
  bool on() const { return Read(kPath) == "1"; }

 private:
  static int LockFile(const char* path, int operation) {
    const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) flock(fd, operation);
    return fd;
  }
  static std::string Read(const char* path) {
    std::ifstream in(path);
    std::string value;
    std::getline(in, value);
    return value;
  }
  int users_fd_ = -1;
};

// The controller as named by the first node that answers DescribeCluster.
int FindController(ClusterProcesses* cluster, int start) {
  for (int i = 0; i < kNodes; ++i) {
    const int id = (start + i) % kNodes + 1;
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(500));
    herald::v1::DescribeClusterResponse response;
    if (cluster->admin(id)->DescribeCluster(&context, {}, &response).ok() &&
        response.controller_id() > 0) {
      return response.controller_id();
    }
  }
  return 0;
}

class Workload {
 public:
  Workload(ClusterProcesses* cluster, History* history) : cluster_(cluster), history_(history) {}

  void Start() {
    for (int p = 0; p < 2; ++p) threads_.emplace_back([this, p] { Produce(p); });
    threads_.emplace_back([this] { Consume(kConsumerProcess); });
    threads_.emplace_back([this] { FetchCommitted(); });
  }
  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  // A fresh producer identity from any node that answers (sequences restart).
  bool InitProducer(int64_t* id, int32_t* epoch) {
    for (int attempt = 0; !stop_; ++attempt) {
      auto init = testing::InitProducer(cluster_->broker(attempt % kNodes + 1), 1000);
      if (init.ok()) {
        *id = init->first;
        *epoch = init->second;
        return true;
      }
      SleepMs(50);
    }
    return false;
  }

  void Produce(int process) {
    int64_t producer_id = 0;
    int32_t epoch = 0;
    std::map<int32_t, int32_t> sequence;
    std::map<int32_t, int> leader_hint;  // per partition, kept by ProduceToLeader
    if (!InitProducer(&producer_id, &epoch)) return;
    for (int64_t n = 0; !stop_; ++n) {
      const std::string value = absl::StrCat("p", process, "-", n);
      const int32_t partition = static_cast<int32_t>(n % kPartitions);
      const int64_t op = history_->Invoke(process, OpType::kSend, value, partition);
      herald::v1::ProduceRequest request;
      request.set_topic(kTopic);
      request.set_partition(partition);
      request.set_acks(herald::v1::ACKS_ALL);
      request.mutable_batch()->add_records()->set_value(value);
      request.set_producer_id(producer_id);
      request.set_producer_epoch(epoch);
      request.set_base_sequence(sequence[partition]);
      // Retries go to whichever node leads now, with the same sequence: the
      // new leader deduplicates a batch the old one already appended.
      auto produced =
          cluster_->ProduceToLeader(request, kDeliveryTimeoutMs, {}, &leader_hint[partition]);
      if (produced.ok() && produced->response.error().code() == 0) {
        history_->Complete(op, Outcome::kOk, partition, produced->response.base_offset());
        ++sequence[partition];
      } else {
        const absl::Status status =
            produced.ok() ? FromError(produced->response.error()) : produced.status();
        history_->Complete(op, SendOutcome(status), -1, -1, status.ToString());
        // Never re-sequence a batch that may have been appended: a new
        // identity for everything after it.
        sequence.clear();
        if (!InitProducer(&producer_id, &epoch)) return;
      }
      SleepMs(5);
    }
  }

  void Consume(int process) {
    std::map<int32_t, int64_t> next;
    int node = 0;
    int64_t last_commit_us = History::NowUs();
    while (!stop_) {
      for (int32_t p = 0; p < kPartitions && !stop_; ++p) {
        grpc::ClientContext context;
        context.set_deadline(DeadlineIn(1000));
        herald::v1::FetchRequest request;
        request.set_topic(kTopic);
        request.set_partition(p);
        request.set_offset(next[p]);
        request.set_max_wait_ms(50);
        herald::v1::FetchResponse response;
        if (!cluster_->broker(node % kNodes + 1)->Fetch(&context, request, &response).ok()) {
          ++node;  // Any reachable node will do.
          continue;
        }
        for (const herald::v1::ConsumedBatch& batch : response.batches()) {
          std::vector<ReadRecord> records;
          testing::AppendRecords(batch, next[p], &records);
          for (const ReadRecord& r : records) {
            Op op;
            op.process = process;
            op.type = OpType::kPoll;
            op.value = r.record.value();
            op.partition = p;
            op.offset = r.offset;
            history_->Record(op);
            next[p] = r.offset + 1;
          }
        }
      }
      if (History::NowUs() - last_commit_us > 300'000) {
        last_commit_us = History::NowUs();
        Commit(process, next, node);
      }
      // Spread the reads over the nodes (followers serve up to their commit
      // point).
      if (History::NowUs() % 3 == 0) ++node;
    }
  }

  void Commit(int process, const std::map<int32_t, int64_t>& next, int start) {
    const int controller = FindController(cluster_, start);
    if (controller <= 0 || next.empty()) return;
    herald::v1::CommitOffsetsRequest request;
    request.set_group(kGroup);
    std::vector<int64_t> ops;
    for (const auto& [partition, offset] : next) {
      auto* o = request.add_offsets();
      o->set_topic(kTopic);
      o->set_partition(partition);
      o->set_offset(offset);
      ops.push_back(history_->Invoke(process, OpType::kCommit, "", partition, offset, kGroup));
    }
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(2000));
    herald::v1::CommitOffsetsResponse response;
    const absl::Status status =
        ToAbsl(cluster_->broker(controller)->CommitOffsets(&context, request, &response));
    for (size_t i = 0; i < ops.size(); ++i) {
      absl::Status s = status;
      if (s.ok()) {
        s = static_cast<int>(i) < response.results_size()
                ? FromError(response.results(static_cast<int>(i)).error())
                : absl::UnknownError("no result");
      }
      history_->Complete(ops[i], SendOutcome(s), -1, -1, s.ok() ? "" : s.ToString());
    }
  }

  void FetchCommitted() {
    for (int round = 0; !stop_; ++round) {
      SleepMs(250);
      const int controller = FindController(cluster_, round);
      if (controller <= 0) continue;
      std::vector<int64_t> ops;
      herald::v1::FetchCommittedOffsetsRequest request;
      request.set_group(kGroup);
      for (int p = 0; p < kPartitions; ++p) {
        ops.push_back(
            history_->Invoke(kFetcherProcess, OpType::kFetchCommitted, "", p, -1, kGroup));
        auto* tp = request.add_partitions();
        tp->set_topic(kTopic);
        tp->set_partition(p);
      }
      grpc::ClientContext context;
      context.set_deadline(DeadlineIn(1000));
      herald::v1::FetchCommittedOffsetsResponse response;
      const absl::Status status =
          ToAbsl(cluster_->broker(controller)->FetchCommittedOffsets(&context, request, &response));
      std::map<int32_t, int64_t> by_partition;
      for (const auto& c : response.offsets()) by_partition[c.partition()] = c.offset();
      for (int p = 0; p < kPartitions; ++p) {
        if (!status.ok()) {
          history_->Complete(ops[p], SendOutcome(status), -1, -1, status.ToString());
        } else {
          auto it = by_partition.find(p);
          history_->Complete(ops[p], Outcome::kOk, -1, it == by_partition.end() ? -1 : it->second);
        }
      }
    }
  }

  ClusterProcesses* const cluster_;
  History* const history_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// Runs on the test's main thread (Restart must, see ServerProcess): quiet
// periods and one fault at a time.
class Nemesis {
 public:
  Nemesis(ClusterProcesses* cluster, std::vector<NetNamespace*> ns, uint64_t seed)
      : cluster_(cluster), ns_(std::move(ns)), rng_(seed) {}

  void Run(int64_t seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (std::chrono::steady_clock::now() < end) {
      SleepMs(Uniform(300, 1000));
      Fault(static_cast<int>(Uniform(0, 4)));
    }
  }
  const std::string& log() const { return log_; }

 private:
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  void Note(const std::string& what) {
    std::cerr << "[nemesis] " << History::NowUs() << "us " << what << "\n";
    absl::StrAppend(&log_, what, "; ");
  }
  NetNamespace* ns(int id) { return ns_[static_cast<size_t>(id - 1)]; }

  void Fault(int kind) {
    const int node = static_cast<int>(Uniform(1, kNodes));
    const int64_t ms = Uniform(500, 2000);
    switch (kind) {
      case 0: {
        Note(absl::StrCat("kill -9 node ", node, ", restart after ", ms / 2, " ms"));
        cluster_->node(node).Kill();
        SleepMs(ms / 2);
        const absl::Status s = cluster_->Restart(node);
        ASSERT_TRUE(s.ok()) << s;
        break;
      }
      case 1:
        Note(absl::StrCat("SIGSTOP node ", node, " for ", ms, " ms"));
        cluster_->node(node).Pause();
        SleepMs(ms);
        cluster_->node(node).Resume();
        break;
      case 2: {
        const int32_t partition = static_cast<int32_t>(Uniform(0, kPartitions - 1));
        absl::StatusOr<int> leader = cluster_->LeaderOf(kTopic, partition, 2000);
        if (!leader.ok()) {
          Note(absl::StrCat("isolate leader of ", partition, ": no leader known, skipped"));
          return;
        }
        Note(absl::StrCat("isolate node ", *leader, " (leader of partition ", partition,
                          ") from everyone for ", ms, " ms"));
        ASSERT_TRUE(ns(*leader)->Isolate().ok());
        SleepMs(ms);
        ASSERT_TRUE(ns(*leader)->HealPartition().ok());
        break;
      }
      case 4: {
        const int controller = FindController(cluster_, node);
        if (controller <= 0) {
          Note("isolate the controller: none known, skipped");
          return;
        }
        Note(absl::StrCat("isolate node ", controller, " (the controller) from everyone for ", ms,
                          " ms"));
        ASSERT_TRUE(ns(controller)->Isolate().ok());
        SleepMs(ms);
        ASSERT_TRUE(ns(controller)->HealPartition().ok());
        break;
      }
      case 3: {
        Note(absl::StrCat("cut node ", node, " from its peers (clients still reach it) for ", ms,
                          " ms"));
        for (int other = 1; other <= kNodes; ++other) {
          if (other == node) continue;
          ASSERT_TRUE(ns(node)->DropPeer(ns(other)->ns_ip()).ok());
        }
        SleepMs(ms);
        ASSERT_TRUE(ns(node)->HealPartition().ok());
        break;
      }
    }
  }

  ClusterProcesses* cluster_;
  std::vector<NetNamespace*> ns_;
  std::mt19937_64 rng_;
  std::string log_;
};

std::vector<std::pair<int64_t, std::string>> Bytes(const std::vector<ReadRecord>& records) {
  std::vector<std::pair<int64_t, std::string>> out;
  for (const ReadRecord& r : records) out.emplace_back(r.offset, r.record.SerializeAsString());
  return out;
}

class ClusterFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = NetnsUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
    if (!HaveProgram("iptables")) GTEST_SKIP() << "iptables is not installed";
    forward_ = std::make_unique<IpForward>();
    if (!forward_->on()) GTEST_SKIP() << "cannot enable net.ipv4.ip_forward";
    ClusterProcessOptions options;
    options.nodes = kNodes;
    for (int i = 0; i < kNodes; ++i) {
      auto ns = NetNamespace::Create();
      ASSERT_TRUE(ns.ok()) << ns.status();
      ASSERT_TRUE((*ns)->AddDefaultRoute().ok());
      options.hosts.push_back((*ns)->ns_ip());
      options.command_prefixes.push_back((*ns)->ExecPrefix());
      ns_.push_back(std::move(*ns));
    }
    auto cluster = ClusterProcesses::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
  }
  void TearDown() override {
    for (auto& ns : ns_) (void)ns->HealAll();
  }

  std::vector<NetNamespace*> Namespaces() {
    std::vector<NetNamespace*> out;
    for (auto& ns : ns_) out.push_back(ns.get());
    return out;
  }

  std::unique_ptr<IpForward> forward_;
  std::vector<std::unique_ptr<NetNamespace>> ns_;  // Outlive the servers inside.
  std::unique_ptr<ClusterProcesses> cluster_;
};

herald::v1::ProduceRequest IdempotentRequest(int32_t partition, const std::string& value,
                                             std::pair<int64_t, int32_t> producer,
                                             int32_t sequence) {
  herald::v1::ProduceRequest request;
  request.set_topic(kTopic);
  request.set_partition(partition);
  request.set_acks(herald::v1::ACKS_ALL);
  request.mutable_batch()->add_records()->set_value(value);
  request.set_producer_id(producer.first);
  request.set_producer_epoch(producer.second);
  request.set_base_sequence(sequence);
  return request;
}

// A leader that lost its peers but not its clients keeps answering until
// CheckQuorum deposes it. A retry of a batch the new leader already
// committed must then be a duplicate (or a retriable error), not a definite
// rejection from the stale producer state. Deterministic: the old leader is
// paused while the new one is elected and the batch committed, cut from its
// peers, and resumed with the retry already waiting on a fresh connection.
TEST_F(ClusterFaultTest, DeposedLeaderDoesNotRejectRetryOfCommittedBatch) {
  ASSERT_TRUE(cluster_->CreateTopic(kTopic, 1, 15'000).ok());
  absl::StatusOr<int> old_leader = cluster_->WaitForAgreedLeader(kTopic, 0, 15'000);
  ASSERT_TRUE(old_leader.ok()) << old_leader.status();
  auto producer = testing::InitProducer(cluster_->broker(*old_leader));
  ASSERT_TRUE(producer.ok()) << producer.status();
  int32_t sequence = 0;
  for (; sequence < 5; ++sequence) {
    auto produced = cluster_->ProduceToLeader(
        IdempotentRequest(0, absl::StrCat("v", sequence), *producer, sequence));
    ASSERT_TRUE(produced.ok() && produced->response.error().code() == 0);
  }
  // The retry goes over a stream opened before the pause (a plain channel:
  // no keepalive gives up on the paused node), proved alive by one answer.
  auto channel = grpc::CreateChannel(cluster_->client_address(*old_leader),
                                     grpc::InsecureChannelCredentials());
  auto stub = herald::v1::Broker::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(20'000));
  auto stream = stub->Produce(&context);
  herald::v1::ProduceRequest probe;
  probe.set_request_id(1);
  probe.set_topic("no-such-topic");
  probe.mutable_batch()->add_records()->set_value("probe");
  herald::v1::ProduceResponse response;
  ASSERT_TRUE(stream->Write(probe) && stream->Read(&response));

  cluster_->node(*old_leader).Pause();
  absl::StatusOr<int> new_leader = cluster_->LeaderOf(kTopic, 0, 10'000, {*old_leader});
  ASSERT_TRUE(new_leader.ok()) << new_leader.status();
  int64_t last_offset = -1;
  for (; sequence < 10; ++sequence) {
    auto produced = cluster_->ProduceToLeader(
        IdempotentRequest(0, absl::StrCat("v", sequence), *producer, sequence), 10'000,
        {*old_leader});
    ASSERT_TRUE(produced.ok() && produced->response.error().code() == 0);
    last_offset = produced->response.base_offset();
  }
  for (int other = 1; other <= kNodes; ++other) {
    if (other == *old_leader) continue;
    ASSERT_TRUE(ns_[static_cast<size_t>(*old_leader - 1)]
                    ->DropPeer(ns_[static_cast<size_t>(other - 1)]->ns_ip())
                    .ok());
  }
  auto retry = IdempotentRequest(0, absl::StrCat("v", sequence - 1), *producer, sequence - 1);
  retry.set_request_id(2);
  const bool written = stream->Write(retry);  // Buffered until the node runs.
  cluster_->node(*old_leader).Resume();
  const bool answered = written && stream->Read(&response);
  context.TryCancel();
  const grpc::Status finished = stream->Finish();
  ASSERT_TRUE(ns_[static_cast<size_t>(*old_leader - 1)]->HealPartition().ok());
  std::cerr << "[cluster-fault] retry of committed sequence " << sequence - 1 << " (offset "
            << last_offset << ") on the deposed leader node " << *old_leader << ": "
            << (answered ? absl::StrCat("error ", response.error().code(), " '",
                                        response.error().message(), "' offset ",
                                        response.base_offset(), " duplicate ", response.duplicate())
                         : absl::StrCat("no answer (written ", written, ", stream ",
                                        finished.error_code(), " ", finished.error_message(), ")"))
            << "\n";
  if (answered && response.error().code() == 0) {
    EXPECT_EQ(response.base_offset(), last_offset);
  } else if (answered) {
    // Retriable: the client tries again elsewhere and finds the duplicate.
    EXPECT_EQ(response.error().code(), static_cast<int>(absl::StatusCode::kUnavailable))
        << "a batch the cluster committed was definitely rejected by the deposed leader: "
        << response.error().message();
  }
}

TEST_F(ClusterFaultTest, HistoryUnderClusterNemesisPassesChecker) {
  const uint64_t seed = static_cast<uint64_t>(
      EnvInt("HERALD_FAULT_SEED", std::chrono::system_clock::now().time_since_epoch().count()));
  const int64_t seconds = EnvInt("HERALD_FAULT_SECONDS", 15);
  std::cerr << "[cluster-fault] seed " << seed << " (HERALD_FAULT_SEED), " << seconds
            << " s of faults (HERALD_FAULT_SECONDS); nodes";
  for (int id = 1; id <= kNodes; ++id)
    std::cerr << " " << id << "=" << cluster_->client_address(id);
  std::cerr << "\n";
  ASSERT_TRUE(cluster_->CreateTopic(kTopic, kPartitions, 15'000).ok());
  for (int32_t p = 0; p < kPartitions; ++p) {
    ASSERT_TRUE(cluster_->WaitForAgreedLeader(kTopic, p, 15'000).ok());
  }

  History history;
  Workload workload(cluster_.get(), &history);
  workload.Start();
  SleepMs(1000);  // Some traffic before the first fault.
  Nemesis nemesis(cluster_.get(), Namespaces(), seed);
  nemesis.Run(seconds);
  for (auto& ns : ns_) ASSERT_TRUE(ns->HealAll().ok());
  for (int id = 1; id <= kNodes; ++id) {
    cluster_->node(id).Resume();
    ASSERT_TRUE(cluster_->node(id).IsRunning()) << "node " << id << " died";
  }
  SleepMs(2000);  // Traffic after healing: clients must recover.
  workload.Stop();

  // The final log: every partition from every node once they agree (rule a
  // across replicas), recorded once (from the leader).
  ASSERT_TRUE(cluster_->WaitForController(15'000).ok());
  for (int32_t p = 0; p < kPartitions; ++p) {
    absl::StatusOr<int> leader = cluster_->WaitForAgreedLeader(kTopic, p, 15'000);
    ASSERT_TRUE(leader.ok()) << leader.status();
    auto reference = testing::ReadWholePartition(cluster_->broker(*leader), kTopic, p);
    ASSERT_TRUE(reference.ok()) << reference.status();
    for (int id = 1; id <= kNodes; ++id) {
      const int64_t deadline = History::NowUs() + 10'000'000;
      absl::StatusOr<std::vector<ReadRecord>> replica;
      do {
        replica = testing::ReadWholePartition(cluster_->broker(id), kTopic, p);
        if (replica.ok() && Bytes(*replica) == Bytes(*reference)) break;
        SleepMs(50);
      } while (History::NowUs() < deadline);
      ASSERT_TRUE(replica.ok()) << replica.status();
      std::cerr << "[cluster-fault] partition " << p << " node " << id << ": " << replica->size()
                << " records, offsets "
                << (replica->empty()
                        ? std::string("-")
                        : absl::StrCat(replica->front().offset, "..", replica->back().offset))
                << "\n";
      EXPECT_EQ(Bytes(*replica), Bytes(*reference))
          << "node " << id << " partition " << p << ": " << replica->size() << " vs "
          << reference->size() << " records on the leader (node " << *leader << ")";
    }
    for (const ReadRecord& r : *reference) {
      Op op;
      op.process = kDrainProcess;
      op.type = OpType::kFinalRead;
      op.value = r.record.value();
      op.partition = p;
      op.offset = r.offset;
      history.Record(op);
    }
  }

  const std::vector<Op> ops = history.Snapshot();
  const CheckResult result = CheckHistory(ops);
  std::map<std::string, int64_t> errors;
  for (const Op& op : ops) {
    if (op.type == OpType::kSend && op.outcome != Outcome::kOk) {
      ++errors[absl::StrCat(OutcomeName(op.outcome), " ", op.error.substr(0, 90))];
    }
  }
  for (const auto& [error, count] : errors) {
    std::cerr << "[cluster-fault] sends " << error << ": " << count << "\n";
  }
  // Refusals that contradict the log: a batch refused as out of order
  // although it is in the final log (see DeposedLeaderDoesNotRejectRetry...).
  // Recorded as unknown, so the checker accepts them; counted for the report.
  std::set<std::string> final_values;
  for (const Op& op : ops) {
    if (op.type == OpType::kFinalRead) final_values.insert(op.value);
  }
  int64_t refused_but_written = 0;
  for (const Op& op : ops) {
    if (op.type == OpType::kSend && op.error.find("out of order sequence") != std::string::npos &&
        final_values.count(op.value) > 0) {
      ++refused_but_written;
    }
  }
  std::cerr << "[cluster-fault] sends refused as out of order yet in the final log: "
            << refused_but_written << "\n";
  std::cerr << "[cluster-fault] " << result.Summary()
            << "\n[cluster-fault] nemesis: " << nemesis.log() << "\n";
  EXPECT_TRUE(result.ok()) << "seed " << seed << ": " << result.Summary();
  // Not vacuous. ~700-1700 ok sends on an idle 2-core box; 102 once with
  // the whole cluster suite running beside it (ctest -j2), hence the margin.
  EXPECT_GT(result.sends_ok, 50);
  EXPECT_GT(result.polls, 50);
  EXPECT_GT(result.commits_ok, 0);
  EXPECT_GT(result.fetches, 0);
}

}  // namespace
}  // namespace herald::fault
