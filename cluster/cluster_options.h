#pragma once
// Options of a clustered node (cluster mode) and the --peers syntax.
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace herald::cluster {

struct NodeAddresses {
  std::string client;  // host:port of the public gRPC API (leader hints)
  std::string raft;    // host:port of the node-to-node port
};

struct ClusterOptions {
  int32_t node_id = 0;
  // Every member, this node included (static membership: the seed list).
  std::map<int32_t, NodeAddresses> nodes;
  // Where this node's node-to-node port binds (default: its raft address).
  std::string raft_listen;
  // Raft timing: election timeout = election_ticks..2x ticks of tick_ms.
  int tick_ms = 50;
  int election_ticks = 10;
  // How long WriteMetadata waits for the metadata log to commit.
  int64_t metadata_write_timeout_ms = 10'000;
  // Upper bound on appends proposed and not yet committed (bytes), across
  // partitions; beyond it Append fails fast with RESOURCE_EXHAUSTED.
  int64_t max_pending_append_bytes = 64 << 20;
  // Leader balancing: every interval, this node hands each partition it
  // leads but is not the preferred leader of (replicas[(topic id +
  // partition) % nodes]) back to the preferred node once that one is caught
  // up, at most max_leader_moves per round. 0 disables.
  int64_t leader_balance_interval_ms = 30'000;
  int max_leader_moves = 8;
};

// "1=hostA:7420/hostA:7422,2=hostB:7420/hostB:7422": node id = client
// address / node-to-node address. INVALID_ARGUMENT naming the bad entry.
absl::StatusOr<std::map<int32_t, NodeAddresses>> ParsePeers(absl::string_view spec);

// INVALID_ARGUMENT unless node_id is a member and the timings are sane.
absl::Status ValidateClusterOptions(const ClusterOptions& options);

}  // namespace herald::cluster
