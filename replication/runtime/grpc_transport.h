#pragma once
// GrpcTransport: the Transport between Herald nodes over gRPC, on its own
// listen address (never the client-facing port).
//
// Outbound: one PeerSender per peer (peer_sender.h): a bounded queue, one
// thread, one long-lived client stream; everything queued for the peer --
// all groups' appends, votes and heartbeats -- goes out as one RaftBatch per
// request. Inbound: a callback-API service; each batch is checked
// (message_codec.h, sender and receiver ids) and handed to the Handler on
// the gRPC thread that read it. Malformed or misrouted messages are dropped
// and counted, never delivered.
//
// Lifecycle: construct, SetHandler, Start (binds), SetPeer as addresses
// become known, Send from any thread, Stop (idempotent; the destructor calls
// it). After Stop returns, the handler is never called again.
// Security: plaintext, no peer authentication yet (see ../README.md).
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "replication/runtime/grpc_transport_options.h"
#include "replication/runtime/peer_sender.h"
#include "replication/runtime/transport.h"

namespace grpc {
class Server;
}

namespace herald::replication {

class RaftTransportService;

class GrpcTransport final : public Transport {
 public:
  explicit GrpcTransport(GrpcTransportOptions options);
  ~GrpcTransport() override;
  GrpcTransport(const GrpcTransport&) = delete;
  GrpcTransport& operator=(const GrpcTransport&) = delete;

  void SetHandler(Handler handler) override;
  // Binds listen_address and starts serving and sending. UNAVAILABLE if the
  // address cannot be bound.
  absl::Status Start();
  // The bound port (after Start).
  int port() const { return port_; }
  // Adds a peer or points it at a new address (its queue is dropped); the
  // same address again is a no-op.
  void SetPeer(NodeId node, std::string address);
  void Send(NodeId to, std::vector<GroupMessage> messages) override;
  void Stop();

  // Counters (zero for an unknown peer).
  PeerSenderStats peer_stats(NodeId node) const;
  TransportInboundStats inbound_stats() const;

  // Checks and delivers one inbound batch (called by the service; public
  // so tests can feed it malformed input without a socket).
  void Deliver(const herald::internal::v1::RaftBatch& batch);

 private:
  const GrpcTransportOptions options_;
  Handler handler_;
  std::unique_ptr<RaftTransportService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::map<NodeId, std::string> addresses_ ABSL_GUARDED_BY(mu_);
  std::map<NodeId, std::unique_ptr<PeerSender>> senders_ ABSL_GUARDED_BY(mu_);
  TransportInboundStats inbound_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::replication
