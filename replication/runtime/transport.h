#pragma once
// Transport: moves Raft messages of many groups between the nodes of a
// cluster. The runtime (raft_host.h) talks only to this interface, so tests
// can swap the gRPC implementation (grpc_transport.h) for an in-memory one.
//
// Delivery is best effort: messages may be dropped (full queue, broken
// connection, peer down), never duplicated by the transport itself, and are
// kept in order per (sender, receiver) pair while a connection lasts. Raft
// retries everything it needs, so loss only costs latency.
#include <cstdint>
#include <functional>
#include <vector>

#include "replication/raft_log.h"
#include "replication/types.h"

namespace herald::replication {

// Names one Raft group (e.g. one partition) cluster-wide.
using GroupId = uint64_t;

struct GroupMessage {
  GroupId group = 0;
  Message msg;
};

// Approximate memory/wire size of a message, for byte bounds on queues.
inline size_t ApproxMessageBytes(const Message& m) {
  size_t bytes = 64;
  for (const Entry& e : m.entries) bytes += EntryBytes(e);
  return bytes;
}

class Transport {
 public:
  // Called with every inbound batch (all from one peer). It runs on a
  // transport thread and must not block: enqueue and return.
  using Handler = std::function<void(NodeId from, std::vector<GroupMessage> messages)>;

  virtual ~Transport() = default;

  // Installs the inbound handler. Call before messages can arrive (before
  // the implementation starts listening); not thread-safe against delivery.
  virtual void SetHandler(Handler handler) = 0;
  // Queues `messages` (all addressed to `to`) for sending and returns at
  // once. Messages beyond the peer's queue bound, or for an unknown peer,
  // are dropped and counted. Thread-safe.
  virtual void Send(NodeId to, std::vector<GroupMessage> messages) = 0;
};

}  // namespace herald::replication
