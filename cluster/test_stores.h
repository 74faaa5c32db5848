#pragma once
// Test support: N ReplicatedLogStores in one process, each over its own
// RocksDB directory and gRPC node-to-node port on 127.0.0.1 (ports picked
// free up front: the member list needs them before anything binds). A node
// can be stopped and reopened over the same directory.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cluster/replicated_log_store.h"
#include "storage/storage_test_util.h"

namespace herald::cluster::testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A port nobody listens on right now (the kernel's pick for port 0).
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Polls `pred` until it holds or the timeout passes.
template <typename Pred>
bool Eventually(Pred pred, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return pred();
}

// What the broker would be: here it only lets the store run its applier
// thread (leader readiness needs it).
class NoopListener final : public storage::ReplicationListener {
 public:
  void OnMetadataApplied(const std::vector<std::string>&) override {}
  void OnLeaderReady(storage::PartitionKey) override {}
};

class TestStores {
 public:
  explicit TestStores(int nodes) {
    for (int id = 1; id <= nodes; ++id) {
      options_.nodes[id] = {absl::StrCat("127.0.0.1:", FreePort()),
                            absl::StrCat("127.0.0.1:", FreePort())};
    }
    options_.tick_ms = 20;
    options_.election_ticks = 10;
    options_.metadata_write_timeout_ms = 5'000;
  }
  ~TestStores() {
    for (auto& [id, store] : stores_) store->Close();
  }

  absl::Status Open(int id) {
    storage::RocksLogStoreOptions local;
    local.path = dir_.Sub(absl::StrCat("node", id));
    auto inner = storage::OpenRocksLogStore(local);
    if (!inner.ok()) return inner.status();
    ClusterOptions options = options_;
    options.node_id = id;
    auto store = ReplicatedLogStore::Open(options, *std::move(inner));
    if (!store.ok()) return store.status();
    (*store)->SetReplicationListener(&listener_);
    stores_[id] = *std::move(store);
    return absl::OkStatus();
  }
  absl::Status OpenAll() {
    for (const auto& [id, addresses] : options_.nodes) {
      if (auto s = Open(id); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  absl::Status CreateEverywhere(storage::PartitionKey key) {
    for (auto& [id, store] : stores_) {
      if (auto s = store->CreatePartition(key); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  void Stop(int id) {
    auto it = stores_.find(id);
    if (it == stores_.end()) return;
    it->second->Close();
    stores_.erase(it);
  }

  ReplicatedLogStore& store(int id) { return *stores_.at(id); }
  bool live(int id) const { return stores_.count(id) > 0; }
  std::vector<int> live_ids() const {
    std::vector<int> ids;
    for (const auto& [id, store] : stores_) ids.push_back(id);
    return ids;
  }

  // The live node that leads `key` and accepts appends (it applied its
  // term's no-op), once every live node agrees; -1 after the timeout.
  int WaitForLeader(storage::PartitionKey key, milliseconds timeout) {
    return WaitFor(timeout, [&](storage::LogStore& s) { return s.Replica(key); });
  }
  int WaitForController(milliseconds timeout) {
    return WaitFor(timeout, [&](storage::LogStore& s) { return s.MetadataReplica(); });
  }

  // Appends on whichever node leads, retrying while leadership moves.
  absl::StatusOr<storage::AppendResult> AppendOnLeader(storage::PartitionKey key,
                                                       const std::string& tag,
                                                       milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    absl::Status last = absl::DeadlineExceededError("no leader");
    while (Clock::now() < deadline) {
      const int leader = WaitForLeader(key, timeout);
      if (leader < 0) continue;
      auto result = storage::testing::AppendAndWait(
          store(leader), storage::testing::MakeRequest(key, {1'700'000'000'000}, tag));
      if (result.ok()) return result;
      last = result.status();
      std::this_thread::sleep_for(milliseconds(5));
    }
    return last;
  }

 private:
  template <typename ReplicaFn>
  int WaitFor(milliseconds timeout, ReplicaFn replica) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int leader = -1;
      int64_t epoch = -1;
      bool agreed = true;
      for (auto& [id, store] : stores_) {
        auto r = replica(*store);
        if (!r.has_value() || r->leader < 0 || !live(r->leader) ||
            (leader >= 0 && (r->leader != leader || r->leader_epoch != epoch))) {
          agreed = false;
          break;
        }
        leader = r->leader;
        epoch = r->leader_epoch;
      }
      if (agreed && leader >= 0) {
        auto r = replica(store(leader));
        if (r.has_value() && r->local_is_leader) return leader;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    return -1;
  }

  storage::testing::TempDir dir_;
  ClusterOptions options_;
  NoopListener listener_;
  std::map<int, std::unique_ptr<ReplicatedLogStore>> stores_;
};

}  // namespace herald::cluster::testing
