#pragma once
// The Produce stream: one reactor per call (gRPC callback API).
//
// Each request is parsed by hand (produce_codec.h) and handed to
// Broker::Produce; its result becomes one ProduceResponse (none for a
// successful ACKS_NONE batch). Responses wait in a bounded queue and are
// written one at a time.
//
// Backpressure: the next read is started only while the stream's
// unacknowledged request bytes are below max_stream_inflight_bytes and its
// queued + pending responses are below max_queued_responses; acks that
// drain either bound resume reading. So one stream holds at most
// ~max_stream_inflight_bytes + one request of produce data.
//
// Lifetime: the reactor deletes itself in OnDone. Finish is called only when
// no write is in flight, no broker callback is pending and no thread is
// running reactor code outside the lock (busy_), so nothing touches the
// reactor after OnDone.
#include <cstdint>
#include <deque>
#include <mutex>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "server/edge.h"
#include "server/produce_codec.h"

namespace herald::server {

class ProduceReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                             public StreamHandle {
 public:
  ProduceReactor(Edge* edge, grpc::CallbackServerContext* context);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  void EndStream(absl::Status status) override;

 private:
  struct Pending;
  void HandleRequest(const std::string& bytes);
  void Respond(const v1::ProduceResponse& response, bool is_error);
  void OnProduced(const Pending& pending, absl::StatusOr<broker::ProduceResult> result);
  void PumpLocked();
  bool CanReadLocked() const;

  Edge* const edge_;
  // Sent by another node's ProduceForwarder: never forwarded again.
  const bool forwarded_;
  std::mutex mu_;
  grpc::ByteBuffer read_buffer_;
  grpc::ByteBuffer write_buffer_;
  std::deque<grpc::ByteBuffer> queue_;
  bool read_in_flight_ = false;
  bool reads_done_ = false;
  bool write_in_flight_ = false;
  bool broken_ = false;  // cancelled or a write failed: nothing more is sent
  bool ending_ = false;  // EndStream: stop reading, flush, Finish(end_status_)
  bool finished_ = false;
  absl::Status end_status_;
  int64_t inflight_bytes_ = 0;
  int32_t outstanding_ = 0;  // broker Produce calls without a result yet
  int32_t busy_ = 0;         // threads inside reactor code without mu_
};

}  // namespace herald::server
