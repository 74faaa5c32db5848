#pragma once
// Test support: N nodes in one process, each a RaftHost over either an
// in-memory transport (LocalNetwork, socket-free) or a real GrpcTransport on
// 127.0.0.1. Storage (MemoryRaftStorage) outlives a node's stop, so a
// restart behaves like a process restart with its disk intact.
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "replication/runtime/grpc_transport.h"
#include "replication/runtime/raft_host.h"

namespace herald::replication::testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Routes Send() straight into the receiving host's Deliver(); nodes can be
// cut off (both directions).
class LocalNetwork {
 public:
  void Attach(NodeId id, RaftHost* host) {
    absl::MutexLock lock(&mu_);
    hosts_[id] = host;
  }
  void Detach(NodeId id) {
    absl::MutexLock lock(&mu_);
    hosts_.erase(id);
  }
  void Route(NodeId from, NodeId to, std::vector<GroupMessage> messages) {
    absl::MutexLock lock(&mu_);
    auto it = hosts_.find(to);
    if (it == hosts_.end() || hosts_.count(from) == 0) return;
    it->second->Deliver(from, std::move(messages));
  }

 private:
  absl::Mutex mu_;
  std::map<NodeId, RaftHost*> hosts_ ABSL_GUARDED_BY(mu_);
};

class LocalTransport final : public Transport {
 public:
  LocalTransport(LocalNetwork* network, NodeId self) : network_(network), self_(self) {}
  void SetHandler(Handler handler) override {}  // the network calls the host directly
  void Send(NodeId to, std::vector<GroupMessage> messages) override {
    network_->Route(self_, to, std::move(messages));
  }

 private:
  LocalNetwork* const network_;
  const NodeId self_;
};

// What one incarnation of a node applied, per group (normal entries only).
class AppliedLog {
 public:
  void Add(GroupId group, const Entry& e) {
    if (e.type != EntryType::kNormal) return;
    absl::MutexLock lock(&mu_);
    applied_[group].push_back(e.data);
  }
  std::vector<std::string> Get(GroupId group) const {
    absl::MutexLock lock(&mu_);
    auto it = applied_.find(group);
    return it == applied_.end() ? std::vector<std::string>{} : it->second;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<GroupId, std::vector<std::string>> applied_ ABSL_GUARDED_BY(mu_);
};

struct ClusterOptions {
  int nodes = 3;
  std::vector<GroupId> groups = {1, 2, 3};
  bool grpc = false;
  milliseconds tick{20};
  int election_tick = 10;
};

class TestCluster {
 public:
  explicit TestCluster(ClusterOptions options) : options_(std::move(options)) {
    for (int i = 1; i <= options_.nodes; ++i) {
      ids_.push_back(static_cast<NodeId>(i));
      for (GroupId g : options_.groups) {
        storage_[i][g] = std::make_shared<MemoryRaftStorage>();
      }
    }
  }
  ~TestCluster() {
    for (NodeId id : ids_) StopNode(id);
  }

  const std::vector<NodeId>& ids() const { return ids_; }
  bool live(NodeId id) const { return nodes_.count(id) > 0; }
  RaftHost& host(NodeId id) { return *nodes_.at(id).host; }
  GrpcTransport* grpc(NodeId id) { return nodes_.at(id).grpc; }
  std::vector<std::string> Applied(NodeId id, GroupId group) const {
    return nodes_.at(id).applied->Get(group);
  }

  // Starts every node (gRPC: all servers listen before any host runs).
  void StartAll() {
    for (NodeId id : ids_) CreateNode(id);
    for (NodeId id : ids_) ConnectAndStart(id);
  }
  void StartNode(NodeId id) {
    CreateNode(id);
    ConnectAndStart(id);
  }
  // In-memory network only: cut the node off (it keeps running) or heal it.
  void Isolate(NodeId id) { local_.Detach(id); }
  void Heal(NodeId id) { local_.Attach(id, nodes_.at(id).host.get()); }

  // Stops the node's transport (server and streams) and its host.
  void StopNode(NodeId id) {
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return;
    local_.Detach(id);
    if (it->second.grpc != nullptr) it->second.grpc->Stop();
    it->second.host->Stop();
    nodes_.erase(it);
  }

  // The leader all live nodes agree on, or kNoNode after the timeout.
  NodeId WaitForLeader(GroupId group, milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      NodeId leader = AgreedLeader(group);
      if (leader != kNoNode) return leader;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return kNoNode;
  }

  // Proposes on the current leader, retrying elsewhere while leadership moves.
  absl::StatusOr<uint64_t> ProposeOnLeader(GroupId group, const std::string& data,
                                           milliseconds timeout = milliseconds(10'000)) {
    const Clock::time_point deadline = Clock::now() + timeout;
    absl::Status last = absl::DeadlineExceededError("no leader");
    while (Clock::now() < deadline) {
      NodeId leader = WaitForLeader(group, milliseconds(2000));
      if (leader == kNoNode) continue;
      auto result = host(leader).Propose(group, data);
      if (result.wait_for(milliseconds(3000)) != std::future_status::ready) continue;
      absl::StatusOr<uint64_t> index = result.get();
      if (index.ok()) return index;
      last = index.status();
      std::this_thread::sleep_for(milliseconds(10));
    }
    return last;
  }

  // Waits until every live node applied `count` entries of `group`.
  bool WaitForApplied(GroupId group, size_t count, milliseconds timeout) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      bool all = true;
      for (auto& [id, node] : nodes_) all = all && node.applied->Get(group).size() >= count;
      if (all) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return false;
  }

 private:
  struct Node {
    std::unique_ptr<Transport> transport;
    GrpcTransport* grpc = nullptr;
    std::shared_ptr<AppliedLog> applied;
    std::unique_ptr<RaftHost> host;
  };

  NodeId AgreedLeader(GroupId group) {
    NodeId leader = kNoNode;
    uint64_t term = 0;
    for (auto& [id, node] : nodes_) {
      absl::StatusOr<GroupStatus> s = node.host->GetGroupStatus(group);
      if (!s.ok() || s->leader == kNoNode || !live(s->leader)) return kNoNode;
      if (leader != kNoNode && (s->leader != leader || s->term != term)) return kNoNode;
      leader = s->leader;
      term = s->term;
    }
    return leader;
  }

  void CreateNode(NodeId id) {
    Node node;
    node.applied = std::make_shared<AppliedLog>();
    if (options_.grpc) {
      GrpcTransportOptions t;
      t.node_id = id;
      t.listen_address = absl::StrCat("127.0.0.1:", ports_[id]);  // 0 the first time
      auto grpc = std::make_unique<GrpcTransport>(t);
      node.grpc = grpc.get();
      node.transport = std::move(grpc);
    } else {
      node.transport = std::make_unique<LocalTransport>(&local_, id);
    }
    RaftHostOptions h;
    h.node_id = id;
    h.tick_interval = options_.tick;
    h.raft.election_tick = options_.election_tick;
    std::shared_ptr<AppliedLog> applied = node.applied;
    node.host = std::make_unique<RaftHost>(
        h, node.transport.get(), [applied](GroupId g, const Entry& e) { applied->Add(g, e); });
    for (GroupId g : options_.groups) {
      absl::Status added = node.host->AddGroup(GroupOptions{g, ids_, storage_[id][g], 0});
      if (!added.ok()) std::abort();
    }
    if (node.grpc != nullptr) {
      if (!node.grpc->Start().ok()) std::abort();
      ports_[id] = node.grpc->port();
    }
    nodes_[id] = std::move(node);
  }

  void ConnectAndStart(NodeId id) {
    Node& node = nodes_.at(id);
    if (node.grpc != nullptr) {
      for (auto& [other, port] : ports_) {
        if (other == id || port == 0) continue;
        node.grpc->SetPeer(other, absl::StrCat("127.0.0.1:", port));
        if (live(other)) nodes_.at(other).grpc->SetPeer(id, absl::StrCat("127.0.0.1:", ports_[id]));
      }
    } else {
      local_.Attach(id, node.host.get());
    }
    node.host->Start();
  }

  const ClusterOptions options_;
  std::vector<NodeId> ids_;
  std::map<NodeId, std::map<GroupId, std::shared_ptr<MemoryRaftStorage>>> storage_;
  std::map<NodeId, int> ports_;
  std::map<NodeId, Node> nodes_;
  LocalNetwork local_;
};

}  // namespace herald::replication::testing
