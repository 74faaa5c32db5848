#pragma once
// ClusterProcesses: N real `herald-server` processes in cluster mode (--peers)
// for black-box tests, plus the client-side routing a test needs: who is the
// controller, who leads a partition, produce to that leader.
//
// Ports are picked up front (bind 127.0.0.1:0, read, close) because every
// node's --peers names every node's client and node-to-node address; they stay
// fixed across Restart, so channels reconnect to a restarted node. Node ids
// are 1..N; node(id) is the ServerProcess of that node.
//
// Thread-safety: Start/node()/Kill/Restart/Pause from the test's main thread
// (see ServerProcess on PDEATHSIG). The query and produce helpers only use
// stubs created at Start and are safe from any thread.
#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "herald/v1/admin.grpc.pb.h"
#include "herald/v1/broker.grpc.pb.h"
#include "tests/harness/client_helpers.h"
#include "tests/harness/server_process.h"

namespace herald::testing {

struct ClusterProcessOptions {
  int nodes = 3;
  // Per node (index id - 1); missing entries: 127.0.0.1 and no prefix. A
  // fault test puts each node in its own network namespace this way.
  std::vector<std::string> hosts;
  std::vector<std::vector<std::string>> command_prefixes;
  int raft_tick_ms = 50;
  int raft_election_ticks = 10;
  // Template for every node (binary, env, ready timeout, extra_flags).
  ServerOptions base;
};

class ClusterProcesses {
 public:
  static absl::StatusOr<std::unique_ptr<ClusterProcesses>> Start(
      ClusterProcessOptions options = {});
  ClusterProcesses(const ClusterProcesses&) = delete;
  ClusterProcesses& operator=(const ClusterProcesses&) = delete;
  ~ClusterProcesses();

  int size() const { return static_cast<int>(servers_.size()); }
  ServerProcess& node(int id) { return *servers_.at(static_cast<size_t>(id - 1)); }
  // "host:port" of a node's client API (what leader hints name).
  const std::string& client_address(int id) const {
    return client_addresses_.at(static_cast<size_t>(id - 1));
  }
  const std::string& peers() const { return peers_; }
  // Stubs of a node's current channel. Restart(id) replaces the channel (a
  // channel that saw the node die sits in gRPC's reconnect backoff for
  // seconds); stubs handed out earlier stay valid until destruction.
  herald::v1::Broker::Stub* broker(int id) { return Current(id)->broker.get(); }
  herald::v1::Admin::Stub* admin(int id) { return Current(id)->admin.get(); }
  // node(id).Restart(), then a fresh channel to it. Main thread only.
  absl::Status Restart(int id);

  // Asks every node not in `skip` (DescribeCluster, 500 ms each) until all
  // that answer name the same controller >= 0 and it is among them. Returns
  // the controller id.
  absl::StatusOr<int> WaitForController(int64_t timeout_ms = 10'000,
                                        const std::set<int>& skip = {});
  // CreateTopic on the controller, retrying UNAVAILABLE (elections).
  absl::Status CreateTopic(const std::string& name, int32_t partitions,
                           int64_t timeout_ms = 10'000);
  // The node that leads the partition in its own view (DescribeTopic on each
  // node not in `skip`, 500 ms each; of several, the highest leader epoch),
  // retried until one does.
  absl::StatusOr<int> LeaderOf(const std::string& topic, int32_t partition,
                               int64_t timeout_ms = 10'000, const std::set<int>& skip = {});
  // LeaderOf, then until every node not in `skip` that answers names it.
  absl::StatusOr<int> WaitForAgreedLeader(const std::string& topic, int32_t partition,
                                          int64_t timeout_ms = 10'000,
                                          const std::set<int>& skip = {});

  struct Produced {
    herald::v1::ProduceResponse response;
    int node = 0;  // the leader that acknowledged it
  };
  // Sends `request` (its request_id is set here) to the partition's leader
  // and retries on UNAVAILABLE / a broken stream / an attempt timeout until
  // acknowledged or `timeout_ms` passes. Retrying is safe for an idempotent
  // request (producer id + sequence) and may duplicate an anonymous one.
  // A per-batch error other than UNAVAILABLE is returned as is.
  // `leader_hint` (optional, per caller and partition): the first attempt
  // goes there without asking who leads (a follower forwards); it is set to
  // the node last tried and cleared (0) after a failed attempt.
  absl::StatusOr<Produced> ProduceToLeader(herald::v1::ProduceRequest request,
                                           int64_t timeout_ms = 10'000,
                                           const std::set<int>& skip = {},
                                           int* leader_hint = nullptr);

 private:
  struct NodeStubs {
    std::unique_ptr<herald::v1::Broker::Stub> broker;
    std::unique_ptr<herald::v1::Admin::Stub> admin;
  };
  ClusterProcesses() = default;
  NodeStubs* Current(int id) const {
    return current_[static_cast<size_t>(id - 1)].load(std::memory_order_acquire);
  }
  void RenewStubs(int id);

  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::vector<std::string> client_addresses_;
  // Every stub set ever made (main thread only); current_ points into it.
  std::vector<std::unique_ptr<NodeStubs>> all_stubs_;
  std::unique_ptr<std::atomic<NodeStubs*>[]> current_;
  std::string peers_;
};

// ---- free helpers over generated stubs ----

// A channel for tests that see servers die and come back: reconnect backoff
// 100-500 ms instead of gRPC's default of up to 2 minutes.
std::shared_ptr<grpc::Channel> NewClusterChannel(const std::string& address);
// Picks a free TCP port on `host` (bind :0, read, close). Racy by nature, but
// the kernel does not hand the same ephemeral port out again at once.
absl::StatusOr<int> PickFreePort(const std::string& host = "127.0.0.1");
// One request on a fresh Produce stream (request_id set if 0): the response,
// or the stream / timeout error.
absl::StatusOr<herald::v1::ProduceResponse> ProduceRequestOnce(herald::v1::Broker::Stub* stub,
                                                               herald::v1::ProduceRequest request,
                                                               int64_t timeout_ms);
// Every record of a partition from the node's log start (ListOffsets) up to
// its high watermark, via Fetch (control batches, the leaders' no-ops, leave
// offset gaps).
absl::StatusOr<std::vector<ReadRecord>> ReadWholePartition(herald::v1::Broker::Stub* stub,
                                                           const std::string& topic,
                                                           int32_t partition,
                                                           int64_t timeout_ms = 5'000);
// InitProducer: (producer_id, epoch).
absl::StatusOr<std::pair<int64_t, int32_t>> InitProducer(herald::v1::Broker::Stub* stub,
                                                         int64_t timeout_ms = 5'000);

}  // namespace herald::testing
