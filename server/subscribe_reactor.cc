#include "server/subscribe_reactor.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "server/batch_encoder.h"
#include "server/convert.h"
#include "server/logging.h"
#include "server/produce_codec.h"
#include "server/relay.h"
#include "server/status_map.h"

namespace herald::server {
SubscribeReactor::SubscribeReactor(Edge* edge, grpc::CallbackServerContext* context)
    : edge_(edge), peer_(context->peer()), forwarded_(IsRelayed(context)) {
  edge_->metrics->StreamOpened("Subscribe");
  std::lock_guard<std::mutex> lock(mu_);
  if (!edge_->streams->Add(this)) EndLocked(absl::UnavailableError("server shutting down"));
  PumpLocked();
}

void SubscribeReactor::OnReadDone(bool ok) {
  v1::SubscribeRequest request;
  {
    std::lock_guard<std::mutex> lock(mu_);
    read_in_flight_ = false;
    if (!ok) {
      reads_done_ = true;
      // Half-close only means "no more requests": a started subscription
      // keeps delivering within its credit (so one-shot clients such as
      // grpcurl work) until the client cancels. Before `start` there is
      // nothing to do.
      if (!started_) EndLocked(absl::OkStatus());
      PumpLocked();
      return;
    }
    if (ending_ || broken_) return PumpLocked();
    if (proxy_ != nullptr) {
      if (!proxy_->Send(ByteBufferToString(read_buffer_))) {
        EndLocked(absl::ResourceExhaustedError("too many requests queued for the controller"));
      }
      read_buffer_.Clear();
      return PumpLocked();
    }
    if (!request.ParseFromString(ByteBufferToString(read_buffer_))) {
      EndLocked(absl::InvalidArgumentError("malformed SubscribeRequest"));
      return PumpLocked();
    }
    read_buffer_.Clear();
    ++busy_;
  }
  // Broker calls run without mu_: they may call the sink synchronously.
  HandleRequest(request);
  std::lock_guard<std::mutex> lock(mu_);
  --busy_;
  PumpLocked();
}

void SubscribeReactor::HandleRequest(const v1::SubscribeRequest& request) {
  const bool is_start = request.request_case() == v1::SubscribeRequest::kStart;
  bool started;
  {
    std::lock_guard<std::mutex> lock(mu_);
    started = started_;
    if (!started && !is_start) {
      return EndLocked(absl::InvalidArgumentError("the first SubscribeRequest must be `start`"));
    }
    if (started && is_start) {
      return EndLocked(absl::InvalidArgumentError("`start` may be sent only once"));
    }
    started_ = true;
  }
  switch (request.request_case()) {
    case v1::SubscribeRequest::kStart:
      return HandleStart(request.start());
    case v1::SubscribeRequest::kCredit: {
      const v1::Credit& c = request.credit();
      if (c.records() < 0 || c.bytes() < 0) {
        std::lock_guard<std::mutex> lock(mu_);
        return EndLocked(absl::InvalidArgumentError("credit: records and bytes must be >= 0"));
      }
      if (auto* sub = subscription()) sub->AddCredit(c.records(), c.bytes());
      return;
    }
    case v1::SubscribeRequest::kSeek:
      return HandleSeek(request.seek());
    case v1::SubscribeRequest::kHeartbeat:
      if (auto* sub = subscription()) sub->Heartbeat().IgnoreError();  // fenced: OnError follows
      return;
    case v1::SubscribeRequest::kCommit:
      return HandleCommit(request.commit());
    case v1::SubscribeRequest::kRevokeDone:
      return HandleRevokeDone(request.revoke_done());
    default: {
      std::lock_guard<std::mutex> lock(mu_);
      return EndLocked(absl::InvalidArgumentError("empty SubscribeRequest"));
    }
  }
}

void SubscribeReactor::HandleStart(const v1::SubscribeStart& start) {
  auto options = FromProto(start);
  if (options.ok()) options->host = peer_;
  absl::StatusOr<std::unique_ptr<broker::Subscription>> sub =
      options.ok() ? edge_->broker->Subscribe(*options, this) : options.status();
  if (!sub.ok() && MaybeRelay(sub.status(), start)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!sub.ok()) return EndLocked(sub.status());
    subscription_ = std::move(*sub);
    if (!delivery_done_owed_) return;
    delivery_done_owed_ = false;
  }
  subscription_->DeliveryDone();  // subscription_ is only reset in OnDone
}

bool SubscribeReactor::MaybeRelay(const absl::Status& refused, const v1::SubscribeStart& start) {
  const std::optional<std::string> address = RelayTarget(refused, forwarded_);
  if (!address.has_value()) return false;
  v1::SubscribeRequest first;
  *first.mutable_start() = start;
  auto proxy =
      StreamProxy::Start(*address, "/herald.v1.Broker/Subscribe", first.SerializeAsString(), this);
  std::lock_guard<std::mutex> lock(mu_);
  proxy_ = std::move(proxy);
  return true;
}

void SubscribeReactor::OnProxyResponse(grpc::ByteBuffer response) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ending_ && !broken_) queue_.push_back(Outgoing{std::move(response), false});
  PumpLocked();
}

void SubscribeReactor::OnProxyDone(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  EndLocked(std::move(status));
  PumpLocked();
}

void SubscribeReactor::HandleSeek(const v1::Seek& seek) {
  v1::SubscribeResponse response;
  v1::SeekResult* result = response.mutable_seek_result();
  result->set_topic(seek.topic());
  result->set_partition(seek.partition());
  absl::Status status = ValidateTopic(seek.topic(), "seek.topic");
  if (status.ok()) status = ValidatePartition(seek.partition(), "seek.partition");
  auto position =
      FromProto(seek.position(), broker::StartPosition::Latest(), true, "seek.position");
  if (status.ok()) status = position.status();
  // mu_ is held across Seek so that the SeekResult is queued before any batch
  // read from the new position: clients drop a partition's batches until its
  // SeekResult arrives. Safe: the broker delivers on its read pool, never
  // synchronously from Seek, and calls OnBatches without its own lock.
  std::lock_guard<std::mutex> lock(mu_);
  if (status.ok() && subscription_ == nullptr) {
    status = absl::FailedPreconditionError("seek before the subscription started");
  }
  if (status.ok()) {
    absl::StatusOr<int64_t> offset = subscription_->Seek(seek.topic(), seek.partition(), *position);
    if (offset.ok()) result->set_offset(*offset);
    status = offset.status();
  }
  if (!status.ok()) FillError(status, result->mutable_error());
  if (ending_ || broken_) return;
  queue_.push_back({MessageToByteBuffer(response), false});
  PumpLocked();  // nothing else may write soon (e.g. no credit): send the answer now
}

void SubscribeReactor::HandleCommit(const v1::CommitRequest& commit) {
  v1::SubscribeResponse response;
  v1::CommitResult* result = response.mutable_commit_result();
  result->set_request_id(commit.request_id());
  std::vector<broker::CommittedOffset> offsets;
  absl::Status invalid;
  for (const v1::PartitionOffset& o : commit.offsets()) {
    absl::Status s = ValidateTopic(o.topic(), "commit.offsets.topic");
    if (s.ok()) s = ValidatePartition(o.partition(), "commit.offsets.partition");
    if (s.ok() && o.offset() < 0) s = absl::InvalidArgumentError("commit.offsets.offset: < 0");
    if (!s.ok() && invalid.ok()) invalid = s;
    offsets.push_back({o.topic(), o.partition(), o.offset(), o.metadata()});
  }
  broker::Subscription* sub = subscription();
  std::vector<absl::Status> statuses(offsets.size(), invalid);
  if (invalid.ok()) {
    statuses = sub != nullptr
                   ? sub->Commit(offsets)
                   : std::vector<absl::Status>(
                         offsets.size(), absl::FailedPreconditionError("commit before start"));
  }
  for (size_t i = 0; i < offsets.size(); ++i) {
    v1::PartitionResult* r = result->add_results();
    r->set_topic(offsets[i].topic);
    r->set_partition(offsets[i].partition);
    if (i < statuses.size() && !statuses[i].ok()) FillError(statuses[i], r->mutable_error());
  }
  QueueResponse(response);
}

void SubscribeReactor::HandleRevokeDone(const v1::RevokeDone& done) {
  std::vector<broker::GroupPartition> partitions;
  for (const v1::TopicPartition& tp : done.partitions()) {
    partitions.push_back({tp.topic(), tp.partition()});
  }
  broker::Subscription* sub = subscription();
  if (sub == nullptr) return;
  const absl::Status s = sub->RevokeDone(done.generation(), partitions);
  // A member the group no longer knows, or a generation from the future:
  // the client is confused; end the stream so it rejoins.
  if (absl::IsAborted(s) || absl::IsInvalidArgument(s) || absl::IsFailedPrecondition(s)) {
    std::lock_guard<std::mutex> lock(mu_);
    EndLocked(s);
  }
}

void SubscribeReactor::QueueResponse(const v1::SubscribeResponse& response) {
  grpc::ByteBuffer bytes = MessageToByteBuffer(response);
  std::lock_guard<std::mutex> lock(mu_);
  if (ending_ || broken_ || finished_) return;
  queue_.push_back({std::move(bytes), false});
  PumpLocked();
}

void SubscribeReactor::OnAssignment(const broker::GroupAssignment& assignment) {
  v1::SubscribeResponse response;
  v1::Assignment* a = response.mutable_assignment();
  a->set_generation(assignment.generation);
  a->set_member_id(assignment.member_id);
  for (const broker::GroupPartition& p : assignment.partitions) {
    v1::TopicPartition* tp = a->add_partitions();
    tp->set_topic(p.topic);
    tp->set_partition(p.partition);
  }
  QueueResponse(response);
}

void SubscribeReactor::OnRevoke(const broker::GroupRevoke& revoke) {
  v1::SubscribeResponse response;
  v1::Revoke* r = response.mutable_revoke();
  r->set_generation(revoke.generation);
  r->set_deadline_ms(static_cast<int32_t>(std::min<int64_t>(revoke.deadline_ms, INT32_MAX)));
  for (const broker::GroupPartition& p : revoke.partitions) {
    v1::TopicPartition* tp = r->add_partitions();
    tp->set_topic(p.topic);
    tp->set_partition(p.partition);
  }
  QueueResponse(response);
}

broker::Subscription* SubscribeReactor::subscription() {
  std::lock_guard<std::mutex> lock(mu_);
  return subscription_.get();
}

void SubscribeReactor::OnBatches(std::vector<broker::FetchedBatch> batches) {
  absl::flat_hash_map<std::string, std::pair<int64_t, int64_t>> per_topic;
  for (const auto& b : batches) {
    auto& [records, bytes] = per_topic[b.topic];
    records += b.header.record_count;
    bytes += static_cast<int64_t>(b.stored.size() - std::min(b.stored.size(), kBatchHeaderBytes));
  }
  for (const auto& [topic, counts] : per_topic) {
    edge_->metrics->OnConsumed(topic, counts.first, counts.second);
  }
  grpc::ByteBuffer bytes = EncodeSubscribeBatches(std::move(batches));
  std::lock_guard<std::mutex> lock(mu_);
  // Ending: the delivery is dropped; Close follows, so no DeliveryDone is due.
  if (ending_ || broken_ || finished_) return;
  queue_.push_back({std::move(bytes), true});
  PumpLocked();
}

void SubscribeReactor::OnError(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  EndLocked(std::move(status));
  PumpLocked();
}

void SubscribeReactor::OnWriteDone(bool ok) {
  broker::Subscription* sub = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    write_in_flight_ = false;
    if (!ok) broken_ = true;
    if (ok && write_.delivery && !ending_) {
      sub = subscription_.get();
      if (sub == nullptr) delivery_done_owed_ = true;  // Subscribe has not returned yet
    }
    write_.bytes.Clear();
    if (ok && proxy_ != nullptr && !ending_) proxy_->RequestNext();
    if (sub == nullptr) return PumpLocked();
    ++busy_;
  }
  // Without mu_: DeliveryDone may deliver the next batches synchronously.
  sub->DeliveryDone();
  std::lock_guard<std::mutex> lock(mu_);
  --busy_;
  PumpLocked();
}

void SubscribeReactor::OnCancel() {
  LogEvent(spdlog::level::debug, "stream_cancelled", {{"rpc", "Subscribe"}});
  std::lock_guard<std::mutex> lock(mu_);
  broken_ = true;
  if (proxy_ != nullptr) proxy_->Cancel();
  PumpLocked();
}

void SubscribeReactor::EndStream(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  EndLocked(std::move(status));
  PumpLocked();
}

void SubscribeReactor::EndLocked(absl::Status status) {
  if (ending_) return;  // the first reason wins
  ending_ = true;
  end_status_ = std::move(status);
  if (proxy_ != nullptr) proxy_->Cancel();
  if (!end_status_.ok()) {
    edge_->metrics->CountError("Subscribe", static_cast<int>(end_status_.code()));
    // Shutdown ends every stream with UNAVAILABLE: keep that burst at debug.
    const bool routine = end_status_.code() == absl::StatusCode::kUnavailable;
    LogEvent(routine ? spdlog::level::debug : spdlog::level::info, "stream_error",
             {{"rpc", "Subscribe"},
              {"code", GrpcCodeName(ToGrpcStatus(end_status_).error_code())},
              {"message", std::string(end_status_.message())}});
  }
}

// Starts the next write or read, or Finish once nothing is outstanding.
// gRPC never runs reactions inline in StartRead/StartWrite/Finish, so
// calling them under mu_ is safe.
void SubscribeReactor::PumpLocked() {
  if (finished_) return;
  if (broken_ || ending_) queue_.clear();  // ending: pending output is dropped
  if (!write_in_flight_ && !queue_.empty()) {
    write_ = std::move(queue_.front());
    queue_.pop_front();
    write_in_flight_ = true;
    StartWrite(&write_.bytes);
  }
  // busy_ == 0: requests are handled one at a time, in stream order (a
  // commit must not overtake the start it belongs to).
  const bool can_read = !read_in_flight_ && busy_ == 0 && !reads_done_ && !ending_ && !broken_ &&
                        static_cast<int64_t>(queue_.size()) < edge_->options.max_queued_responses;
  if (can_read) {
    read_in_flight_ = true;
    StartRead(&read_buffer_);
  }
  if (write_in_flight_ || busy_ > 0 || !(ending_ || broken_)) return;
  finished_ = true;
  if (ending_) {
    Finish(ToGrpcStatus(end_status_));
  } else {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
  }
}

void SubscribeReactor::OnDone() {
  std::unique_ptr<broker::Subscription> sub;
  {
    std::lock_guard<std::mutex> lock(mu_);  // the thread that called Finish has left
    sub = std::move(subscription_);
  }
  // Close outside mu_: it waits for a sink call in progress, which takes mu_.
  if (sub != nullptr) sub->Close();
  if (proxy_ != nullptr) proxy_->Detach();  // likewise: waits for a proxy callback
  sub.reset();
  LogEvent(spdlog::level::debug, "stream_done", {{"rpc", "Subscribe"}});
  edge_->streams->Remove(this);
  edge_->metrics->StreamClosed("Subscribe");
  delete this;
}

}  // namespace herald::server
