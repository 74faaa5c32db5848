#include "server/produce_forwarder.h"

#include <condition_variable>
#include <deque>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "herald/v1/broker.grpc.pb.h"
#include "server/relay.h"

namespace herald::server {
namespace {

absl::StatusOr<v1::ProduceRequest> ToRequest(uint64_t id, broker::ProduceBatch& batch) {
  v1::ProduceRequest r;
  r.set_request_id(id);
  r.set_topic(batch.topic);
  if (batch.partition.has_value()) r.set_partition(*batch.partition);
  if (!r.mutable_batch()->ParseFromString(batch.payload)) {
    return absl::InternalError("cannot re-encode the batch for forwarding");
  }
  // ACKS_NONE gets no response when it succeeds; the forwarder needs one.
  const broker::Acks acks = batch.acks == broker::Acks::kNone ? broker::Acks::kLeader : batch.acks;
  r.set_acks(acks == broker::Acks::kAll ? v1::ACKS_ALL : v1::ACKS_LEADER);
  if (batch.producer_id >= 0) {
    r.set_producer_id(batch.producer_id);
    r.set_producer_epoch(batch.producer_epoch);
    r.set_base_sequence(batch.base_sequence);
  }
  return r;
}

absl::StatusOr<broker::ProduceResult> FromResponse(const v1::ProduceResponse& r,
                                                   const std::string& leader) {
  if (r.has_error() && r.error().code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(r.error().code()),
                        absl::StrCat(r.error().message(), " (via leader ", leader, ")"));
  }
  broker::ProduceResult result;
  result.partition = r.partition();
  result.base_offset = r.base_offset();
  result.append_time_ms = r.log_append_time_ms();
  result.record_count = r.record_count();
  result.duplicate = r.duplicate();
  return result;
}

}  // namespace

class ProduceForwarderImpl::LeaderStream final
    : public grpc::ClientBidiReactor<v1::ProduceRequest, v1::ProduceResponse> {
 public:
  explicit LeaderStream(std::string address) : address_(std::move(address)) {}

  void Start(std::shared_ptr<LeaderStream> self) {
    self_ = std::move(self);  // released in OnDone: the stream owns itself until then
    stub_ = v1::Broker::NewStub(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    context_.AddMetadata(kForwardedMetadata, "1");
    stub_->async()->Produce(&context_, this);
    StartRead(&response_);
    StartCall();
  }

  // False once the stream broke: the caller makes a new one and sends the
  // same batch there (so it is taken by reference, never moved from here).
  bool Send(broker::ProduceBatch& batch, broker::ProduceCallback& done) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return false;
    if (pending_.size() >= kMaxPendingPerLeader || pending_bytes_ >= kMaxPendingBytesPerLeader) {
      done(absl::ResourceExhaustedError(absl::StrCat(
          "too many batches waiting to be forwarded to the leader at ", address_, "; retry")));
      return true;
    }
    const uint64_t id = next_id_++;
    auto request = ToRequest(id, batch);
    if (!request.ok()) {
      done(request.status());
      return true;
    }
    const int64_t bytes = static_cast<int64_t>(batch.payload.size());
    pending_bytes_ += bytes;
    pending_.emplace(id, Pending{bytes, std::move(done)});
    queue_.push_back(*std::move(request));
    if (!writing_) WriteNextLocked();
    return true;
  }

  void Cancel() { context_.TryCancel(); }

  void WaitDone() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return done_; });
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) return;  // the stream is broken: OnDone follows
    if (!queue_.empty()) WriteNextLocked();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    broker::ProduceCallback done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = pending_.find(response_.request_id());
      if (it != pending_.end()) {
        done = std::move(it->second.done);
        pending_bytes_ -= it->second.bytes;
        pending_.erase(it);
      }
    }
    if (done) done(FromResponse(response_, address_));
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    std::shared_ptr<LeaderStream> keep = std::move(self_);
    std::map<uint64_t, Pending> failed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      failed.swap(pending_);
      queue_.clear();
    }
    const absl::Status error = absl::UnavailableError(
        absl::StrCat("the forwarding stream to the leader at ", address_, " broke (",
                     status.error_message(), "); the batch's outcome is unknown, retry it"));
    for (auto& [id, pending] : failed) pending.done(error);
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    done_cv_.notify_all();
  }

 private:
  struct Pending {
    int64_t bytes = 0;
    broker::ProduceCallback done;
  };

  void WriteNextLocked() {
    write_request_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&write_request_);
  }

  const std::string address_;
  std::shared_ptr<LeaderStream> self_;
  std::unique_ptr<v1::Broker::Stub> stub_;
  grpc::ClientContext context_;
  v1::ProduceResponse response_;
  v1::ProduceRequest write_request_;

  std::mutex mu_;
  std::condition_variable done_cv_;
  std::deque<v1::ProduceRequest> queue_;
  std::map<uint64_t, Pending> pending_;
  int64_t pending_bytes_ = 0;
  uint64_t next_id_ = 1;
  bool writing_ = false;
  bool ended_ = false;
  bool done_ = false;
};

ProduceForwarderImpl::ProduceForwarderImpl() = default;

ProduceForwarderImpl::~ProduceForwarderImpl() { Shutdown(); }

void ProduceForwarderImpl::Forward(const std::string& leader_address, broker::ProduceBatch batch,
                                   broker::ProduceCallback done) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::shared_ptr<LeaderStream> stream;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shut_down_) break;
      std::shared_ptr<LeaderStream>& slot = streams_[leader_address];
      if (slot == nullptr || attempt > 0) {
        slot = std::make_shared<LeaderStream>(leader_address);
        slot->Start(slot);
      }
      stream = slot;
    }
    if (stream->Send(batch, done)) return;
  }
  done(absl::UnavailableError("this node is shutting down; retry on another node"));
}

void ProduceForwarderImpl::Shutdown() {
  std::map<std::string, std::shared_ptr<LeaderStream>> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shut_down_ = true;
    streams.swap(streams_);
  }
  for (auto& [address, stream] : streams) stream->Cancel();
  for (auto& [address, stream] : streams) stream->WaitDone();
}

}  // namespace herald::server
