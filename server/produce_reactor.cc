#include "server/produce_reactor.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/convert.h"
#include "server/relay.h"
#include "server/status_map.h"
#include "spdlog/spdlog.h"

namespace herald::server {

struct ProduceReactor::Pending {
  uint64_t request_id = 0;
  std::string topic;
  broker::Acks acks = broker::Acks::kAll;
  int64_t bytes = 0;
  std::chrono::steady_clock::time_point received;
};

namespace {

absl::StatusOr<broker::ProduceBatch> ToBatch(ParsedProduceRequest request) {
  if (auto s = ValidateTopic(request.topic); !s.ok()) return s;
  if (request.partition.has_value()) {
    if (auto s = ValidatePartition(*request.partition); !s.ok()) return s;
  }
  auto acks = AcksFromProto(request.acks);
  if (!acks.ok()) return acks.status();
  if (request.batch.empty()) {
    return absl::InvalidArgumentError("batch: must hold at least one record");
  }
  if (request.producer_id < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("producer_id: must be >= 0, got ", request.producer_id));
  }
  broker::ProduceBatch batch;
  batch.topic = std::move(request.topic);
  batch.partition = request.partition;
  batch.payload = std::move(request.batch);
  batch.acks = *acks;
  // proto3 cannot tell 0 from unset: producer id 0 means "not idempotent".
  if (request.producer_id > 0) {
    batch.producer_id = request.producer_id;
    batch.producer_epoch = static_cast<int16_t>(request.producer_epoch);
    batch.base_sequence = request.base_sequence;
  }
  return batch;
}

}  // namespace

ProduceReactor::ProduceReactor(Edge* edge, grpc::CallbackServerContext* context)
    : edge_(edge), forwarded_(IsRelayed(context)) {
  edge_->metrics->StreamOpened("Produce");
  std::lock_guard<std::mutex> lock(mu_);
  if (!edge_->streams->Add(this)) {
    ending_ = true;
    end_status_ = absl::UnavailableError("server shutting down");
  }
  PumpLocked();
}

void ProduceReactor::OnReadDone(bool ok) {
  std::string bytes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    read_in_flight_ = false;
    if (!ok || ending_ || broken_) {
      if (!ok) reads_done_ = true;
      PumpLocked();
      return;
    }
    bytes = ByteBufferToString(read_buffer_);
    read_buffer_.Clear();
    ++busy_;
  }
  HandleRequest(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  --busy_;
  PumpLocked();
}

void ProduceReactor::HandleRequest(const std::string& bytes) {
  auto parsed = ParseProduceRequest(bytes);
  v1::ProduceResponse error;
  if (!parsed.ok()) {
    FillError(parsed.status(), error.mutable_error());
    return Respond(error, true);
  }
  error.set_request_id(parsed->request_id);
  auto batch = ToBatch(std::move(*parsed));
  if (!batch.ok()) {
    FillError(batch.status(), error.mutable_error());
    return Respond(error, true);
  }
  batch->forwarded = forwarded_;
  Pending pending{error.request_id(), batch->topic, batch->acks,
                  static_cast<int64_t>(batch->payload.size()), std::chrono::steady_clock::now()};
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++outstanding_;
    inflight_bytes_ += pending.bytes;
    edge_->produce_inflight_bytes.fetch_add(pending.bytes);
  }
  // The callback may run inline (validation failures) or on a storage
  // thread; outstanding_ keeps the reactor alive until it has run.
  edge_->broker->Produce(
      std::move(*batch),
      [this, pending = std::move(pending)](absl::StatusOr<broker::ProduceResult> result) mutable {
        OnProduced(pending, std::move(result));
      });
}

void ProduceReactor::OnProduced(const Pending& pending,
                                absl::StatusOr<broker::ProduceResult> result) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - pending.received).count();
  v1::ProduceResponse response;
  response.set_request_id(pending.request_id);
  bool send = true;
  if (result.ok()) {
    edge_->metrics->ObserveAckLatency(pending.acks, seconds);
    edge_->metrics->OnProduced(pending.topic, result->record_count, pending.bytes);
    response.set_partition(result->partition);
    response.set_base_offset(result->base_offset);
    response.set_log_append_time_ms(result->append_time_ms);
    response.set_record_count(result->record_count);
    response.set_duplicate(result->duplicate);
    send = pending.acks != broker::Acks::kNone;
  } else {
    edge_->metrics->CountError("Produce", static_cast<int>(result.status().code()));
    FillError(result.status(), response.mutable_error());
  }
  std::lock_guard<std::mutex> lock(mu_);
  --outstanding_;
  inflight_bytes_ -= pending.bytes;
  edge_->produce_inflight_bytes.fetch_sub(pending.bytes);
  if (send && !broken_) queue_.push_back(MessageToByteBuffer(response));
  PumpLocked();
}

void ProduceReactor::Respond(const v1::ProduceResponse& response, bool is_error) {
  if (is_error) {
    edge_->metrics->CountError("Produce", response.error().code());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!broken_) queue_.push_back(MessageToByteBuffer(response));
}

void ProduceReactor::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  write_in_flight_ = false;
  if (!ok) broken_ = true;  // the client is gone; acks have nowhere to go
  PumpLocked();
}

void ProduceReactor::OnCancel() {
  std::lock_guard<std::mutex> lock(mu_);
  broken_ = true;
  PumpLocked();
}

void ProduceReactor::EndStream(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ending_) return;
  ending_ = true;
  end_status_ = std::move(status);
  PumpLocked();
}

// busy_ == 0: a request still being handed to the broker on another thread
// must reach it before the next one is read, or two requests for one
// partition could be appended out of stream order.
bool ProduceReactor::CanReadLocked() const {
  return !read_in_flight_ && busy_ == 0 && !reads_done_ && !ending_ && !broken_ && !finished_ &&
         inflight_bytes_ < edge_->options.max_stream_inflight_bytes &&
         (outstanding_ == 0 ||
          edge_->produce_inflight_bytes.load() < edge_->options.max_total_inflight_bytes) &&
         static_cast<int64_t>(queue_.size()) + outstanding_ < edge_->options.max_queued_responses;
}

// Starts whatever the state allows: the next write, the next read, Finish.
// gRPC runs reactions on its own threads (never inline in StartRead/
// StartWrite/Finish), so calling them under mu_ cannot deadlock.
void ProduceReactor::PumpLocked() {
  if (finished_) return;
  if (broken_) queue_.clear();
  if (!write_in_flight_ && !queue_.empty()) {
    write_buffer_ = std::move(queue_.front());
    queue_.pop_front();
    write_in_flight_ = true;
    StartWrite(&write_buffer_);
  }
  if (CanReadLocked()) {
    read_in_flight_ = true;
    StartRead(&read_buffer_);
  }
  const bool drained = outstanding_ == 0 && busy_ == 0 && !write_in_flight_ && queue_.empty();
  if (!drained || !(reads_done_ || ending_ || broken_)) return;
  finished_ = true;
  if (ending_) {
    Finish(ToGrpcStatus(end_status_));
  } else if (broken_) {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
  } else {
    Finish(grpc::Status::OK);
  }
}

void ProduceReactor::OnDone() {
  { std::lock_guard<std::mutex> lock(mu_); }  // the thread that called Finish has left
  edge_->streams->Remove(this);
  edge_->metrics->StreamClosed("Produce");
  delete this;
}

}  // namespace herald::server
