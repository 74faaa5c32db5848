#pragma once
// The Subscribe stream: one reactor per call, also the broker's
// SubscriptionSink for it.
//
// Protocol: the first request must be `start` (else INVALID_ARGUMENT); then
// `credit` (added to the subscription), `seek` (answered in-band with a
// SeekResult) and `heartbeat` (ignored). Group requests end the stream with
// UNIMPLEMENTED until consumer groups land. A half-close after `start` does
// not end the stream (deliveries continue until the client cancels).
//
// Output: each OnBatches delivery becomes ONE SubscribeResponse, encoded
// without copying the stored records (batch_encoder.h). The broker does not
// deliver again until DeliveryDone, which is called when that write
// completes, so at most one delivery (<= max_delivery_bytes) is buffered per
// stream, plus at most max_queued_responses small seek results.
//
// Lifetime: deleted in OnDone, after Subscription::Close (so no sink call
// can follow). Finish waits for the write in flight and for every thread
// running reactor code outside the lock (busy_).
#include <deque>
#include <memory>
#include <mutex>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "herald/v1/broker.pb.h"
#include "server/edge.h"
#include "server/stream_proxy.h"

namespace herald::server {

class SubscribeReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                               public StreamHandle,
                               public broker::SubscriptionSink,
                               private StreamProxySink {
 public:
  SubscribeReactor(Edge* edge, grpc::CallbackServerContext* context);

  // grpc reactions
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  // StreamHandle
  void EndStream(absl::Status status) override;
  // broker::SubscriptionSink
  void OnBatches(std::vector<broker::FetchedBatch> batches) override;
  void OnError(absl::Status status) override;
  void OnAssignment(const broker::GroupAssignment& assignment) override;
  void OnRevoke(const broker::GroupRevoke& revoke) override;

 private:
  // StreamProxySink: cluster mode, a group stream relayed to the controller.
  void OnProxyResponse(grpc::ByteBuffer response) override;
  void OnProxyDone(absl::Status status) override;
  // True if `refused` names the controller and this stream was relayed there.
  bool MaybeRelay(const absl::Status& refused, const v1::SubscribeStart& start);
  struct Outgoing {
    grpc::ByteBuffer bytes;
    bool delivery = false;  // DeliveryDone is due once it is written
  };
  void HandleRequest(const v1::SubscribeRequest& request);
  void HandleStart(const v1::SubscribeStart& start);
  void HandleSeek(const v1::Seek& seek);
  void HandleCommit(const v1::CommitRequest& commit);
  void HandleRevokeDone(const v1::RevokeDone& done);
  // Queues a small (non-batch) response; dropped once the stream ends.
  void QueueResponse(const v1::SubscribeResponse& response);
  broker::Subscription* subscription();
  void PumpLocked();
  void EndLocked(absl::Status status);

  Edge* const edge_;
  const std::string peer_;              // the member's host, for DescribeGroup
  const bool forwarded_;                // relayed here by another node: never relayed again
  std::shared_ptr<StreamProxy> proxy_;  // set once when relaying; then every request goes there
  std::mutex mu_;
  grpc::ByteBuffer read_buffer_;
  Outgoing write_;
  std::deque<Outgoing> queue_;
  std::unique_ptr<broker::Subscription> subscription_;
  bool started_ = false;
  bool delivery_done_owed_ = false;  // a delivery was written before Subscribe returned
  bool read_in_flight_ = false;
  bool reads_done_ = false;
  bool write_in_flight_ = false;
  bool broken_ = false;
  bool ending_ = false;
  bool finished_ = false;
  absl::Status end_status_;
  int32_t busy_ = 0;
};

}  // namespace herald::server
