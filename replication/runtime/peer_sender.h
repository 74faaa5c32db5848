#pragma once
// PeerSender: the outbound half of the gRPC transport for one peer.
//
// Owns one thread, one channel and (while connected) one client stream.
// Producers (the runtime's event loop) append to a bounded queue and never
// block; the thread drains everything queued, up to the batch limits, into
// one RaftBatch per request. A broken stream loses its in-flight batch (Raft
// retries) and is reopened after a backoff.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "herald/internal/v1/raft.grpc.pb.h"
#include "replication/runtime/grpc_transport_options.h"
#include "replication/runtime/transport.h"

namespace grpc {
class ClientContext;
}

namespace herald::replication {

class PeerSender {
 public:
  PeerSender(NodeId peer, std::string address, const GrpcTransportOptions& options);
  ~PeerSender();  // Stop()
  PeerSender(const PeerSender&) = delete;
  PeerSender& operator=(const PeerSender&) = delete;

  void Start();
  // Moves as many of `messages` into the queue as fit; drops the rest.
  void Enqueue(std::vector<GroupMessage>& messages);
  // Cancels the stream, drops the queue, joins the thread. Idempotent.
  void Stop();
  PeerSenderStats stats() const;

 private:
  void Run();
  // One stream's life; true if it carried at least one batch.
  bool RunStream();
  // Blocks until something is queued (or Stop); false on Stop.
  bool NextBatch(herald::internal::v1::RaftBatch* batch);

  const NodeId peer_;
  const std::string address_;
  const GrpcTransportOptions options_;
  std::unique_ptr<herald::internal::v1::RaftTransport::Stub> stub_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  std::deque<GroupMessage> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // ApproxMessageBytes of queue_
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
  PeerSenderStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace herald::replication
