#pragma once
// Proposal forwarding: a node that does not lead a group hands the proposal
// to the node that does (internal ClusterService.ForwardProposal on the
// node-to-node port). Used for the metadata log, so any node accepts admin
// and offset-commit writes; partition appends are not forwarded (clients get
// a leader hint instead, like Kafka's NOT_LEADER).
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "replication/runtime/raft_host.h"

namespace grpc {
class Service;
}

namespace herald::cluster {

// The server side: proposes through `propose` (the local RaftHost) and
// answers on commit, or UNAVAILABLE after `timeout` (outcome unknown).
using ProposeFn =
    std::function<std::future<absl::StatusOr<uint64_t>>(replication::GroupId, std::string)>;
std::unique_ptr<grpc::Service> NewClusterService(ProposeFn propose,
                                                 std::chrono::milliseconds timeout);

// The client side: one channel per peer, created on first use.
class ProposalForwarder {
 public:
  ProposalForwarder(replication::NodeId self, std::map<replication::NodeId, std::string> peers);
  ~ProposalForwarder();

  // Blocks until the leader answers or the deadline passes. The leader's
  // errors come back as they are (FAILED_PRECONDITION: it no longer leads;
  // UNAVAILABLE / DEADLINE_EXCEEDED: outcome unknown).
  absl::StatusOr<uint64_t> Forward(replication::NodeId leader, replication::GroupId group,
                                   const std::string& data, std::chrono::milliseconds timeout);

 private:
  struct Peer;
  Peer* PeerFor(replication::NodeId node);

  const replication::NodeId self_;
  const std::map<replication::NodeId, std::string> addresses_;
  absl::Mutex mu_;
  std::map<replication::NodeId, std::unique_ptr<Peer>> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::cluster
