#pragma once
// Options and counters of the gRPC transport (grpc_transport.h).
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "replication/types.h"

namespace grpc {
class Service;
}

namespace herald::replication {

struct GrpcTransportOptions {
  NodeId node_id = kNoNode;
  // The node-to-node listen address, separate from the client-facing API.
  // Port 0 picks a free port (GrpcTransport::port()).
  std::string listen_address = "127.0.0.1:0";
  // Static membership: node id -> "host:port". More via GrpcTransport::SetPeer.
  std::map<NodeId, std::string> peers;
  // Per-peer outbound queue bounds; messages beyond either are dropped
  // (counted). One message is always accepted into an empty queue.
  size_t max_queue_msgs_per_peer = 4096;
  size_t max_queue_bytes_per_peer = 64 << 20;
  // One request carries at most this much (always at least one message).
  size_t max_batch_msgs = 1024;
  size_t max_batch_bytes = 4 << 20;
  // Inbound request size limit. A Raft append is bounded by the core's
  // max_msg_bytes (one oversized entry still travels alone), a batch by
  // max_batch_bytes above, so this leaves generous slack.
  int max_receive_message_bytes = 64 << 20;
  // Reconnect backoff after a broken or refused stream: doubles up to max,
  // back to initial once a stream carries a batch.
  int reconnect_backoff_initial_ms = 20;
  int reconnect_backoff_max_ms = 1000;
  // HTTP/2 keepalive, so a peer that vanished without a reset is noticed.
  int keepalive_time_ms = 10'000;
  int keepalive_timeout_ms = 5'000;
  // More services served on listen_address (e.g. the cluster's proposal
  // forwarding); not owned, must outlive Stop().
  std::vector<grpc::Service*> extra_services;
};

struct PeerSenderStats {
  size_t queued_msgs = 0;        // now
  size_t queued_bytes = 0;       // now (ApproxMessageBytes)
  size_t max_queued_msgs = 0;    // high-water mark
  uint64_t dropped_msgs = 0;     // queue full
  uint64_t sent_msgs = 0;        // handed to gRPC (not necessarily received)
  uint64_t sent_batches = 0;     // requests written
  uint64_t stream_failures = 0;  // streams that broke or never connected
};

struct TransportInboundStats {
  uint64_t batches = 0;
  uint64_t messages = 0;           // delivered to the handler
  uint64_t malformed_msgs = 0;     // failed conversion or sender mismatch
  uint64_t misrouted_msgs = 0;     // addressed to another node
  uint64_t unknown_peer_msgs = 0;  // outbound, to a node without an address
};

}  // namespace herald::replication
