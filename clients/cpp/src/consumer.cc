#include "herald/client/consumer.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "herald/v1/admin.grpc.pb.h"
#include "herald/v1/broker.grpc.pb.h"
#include "src/decode.h"
#include "src/grpc_util.h"

namespace herald::client {
namespace {

using Stream = grpc::ClientReaderWriter<v1::SubscribeRequest, v1::SubscribeResponse>;

struct PartitionState {
  StartPosition start;  // where a (re)connect begins when nothing was read yet
  internal::ReadCursor cursor;
  bool seeking = false;   // batches are dropped until the SeekResult arrives
  int64_t position = -1;  // next offset Poll will return
};

class ConsumerImpl final : public Consumer {
 public:
  explicit ConsumerImpl(ConsumerOptions options)
      : options_(std::move(options)),
        channel_(internal::MakeChannel(options_.connection)),
        broker_(v1::Broker::NewStub(channel_)),
        admin_(v1::Admin::NewStub(channel_)) {}
  ~ConsumerImpl() override { Close(); }

  absl::Status Assign(
      const std::vector<std::pair<TopicPartition, StartPosition>>& partitions) override;
  absl::Status SubscribeTopics(const std::vector<std::string>& topics,
                               StartPosition start) override;
  absl::Status SubscribeGroup(const std::vector<std::string>& topics, StartPosition reset,
                              RebalanceListener listener) override;
  absl::StatusOr<std::vector<ConsumedRecord>> Poll(int64_t timeout_ms, size_t max_records) override;
  absl::Status Seek(const TopicPartition& partition, StartPosition position) override;
  int64_t Position(const TopicPartition& partition) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = partitions_.find(partition);
    return it == partitions_.end() ? -1 : it->second.position;
  }
  absl::Status Commit(const std::vector<PartitionOffset>& offsets) override;
  absl::Status CommitPositions() override;
  void Close() override;

 private:
  void SetStart(const TopicPartition& tp, StartPosition start);
  absl::Status StartLocked();
  void ReaderLoop();
  absl::StatusOr<v1::SubscribeRequest> BuildStart();
  absl::Status ExpandTopics();
  absl::Status RunOneStream();
  void HandleBatches(const v1::RecordBatches& batches);
  void HandleSeekResult(const v1::SeekResult& result);
  void BuildGroupStartLocked(v1::SubscribeStart* start);
  void HandleAssignment(const v1::Assignment& assignment);
  void HandleRevoke(const v1::Revoke& revoke);
  void DropBufferedLocked(const TopicPartition& tp);
  void MaybeHeartbeat();
  void MaybeGrantCredit();
  bool WriteLocked(const v1::SubscribeRequest& request);

  const ConsumerOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Broker::Stub> broker_;
  std::unique_ptr<v1::Admin::Stub> admin_;

  // Lock order: write_mu_ before mu_.
  std::mutex write_mu_;
  std::unique_ptr<grpc::ClientContext> context_;  // GUARDED_BY(write_mu_)
  std::unique_ptr<Stream> stream_;                // GUARDED_BY(write_mu_)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool subscribed_ = false;
  bool closing_ = false;
  std::vector<std::string> topics_;  // whole-topic subscription
  StartPosition default_start_;
  std::map<TopicPartition, PartitionState> partitions_;
  std::deque<ConsumedRecord> buffer_;
  std::deque<int64_t> buffer_costs_;  // credit bytes charged to each buffered record
  int64_t buffered_bytes_ = 0;
  // Credit the server still holds for this stream (may go negative: the
  // server overshoots by up to one batch).
  int64_t outstanding_records_ = 0;
  int64_t outstanding_bytes_ = 0;
  // Group membership (SubscribeGroup).
  bool group_mode_ = false;
  RebalanceListener listener_;
  int64_t generation_ = 0;
  std::string member_id_;
  int64_t last_write_ms_ = 0;  // GUARDED_BY(write_mu_)
  absl::Status error_;         // terminal
  absl::Status soft_error_;    // reported once by the next Poll (e.g. failed seek)
  std::thread reader_;
};

absl::Status ConsumerImpl::Assign(
    const std::vector<std::pair<TopicPartition, StartPosition>>& partitions) {
  std::lock_guard<std::mutex> lock(mu_);
  if (subscribed_) return absl::FailedPreconditionError("consumer is already subscribed");
  if (partitions.empty()) return absl::InvalidArgumentError("no partitions to assign");
  for (const auto& [tp, start] : partitions) SetStart(tp, start);
  return StartLocked();
}

absl::Status ConsumerImpl::SubscribeTopics(const std::vector<std::string>& topics,
                                           StartPosition start) {
  std::lock_guard<std::mutex> lock(mu_);
  if (subscribed_) return absl::FailedPreconditionError("consumer is already subscribed");
  if (topics.empty()) return absl::InvalidArgumentError("no topics to subscribe to");
  topics_ = topics;
  default_start_ = start;
  return StartLocked();
}

absl::Status ConsumerImpl::SubscribeGroup(const std::vector<std::string>& topics,
                                          StartPosition reset, RebalanceListener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  if (subscribed_) return absl::FailedPreconditionError("consumer is already subscribed");
  if (options_.group.empty()) return absl::InvalidArgumentError("ConsumerOptions::group is empty");
  if (topics.empty()) return absl::InvalidArgumentError("no topics to subscribe to");
  if (reset.kind != StartPosition::Kind::kEarliest && reset.kind != StartPosition::Kind::kLatest) {
    return absl::InvalidArgumentError("a group's reset position is earliest or latest");
  }
  group_mode_ = true;
  listener_ = std::move(listener);
  topics_ = topics;
  default_start_ = reset;
  return StartLocked();
}

void ConsumerImpl::SetStart(const TopicPartition& tp, StartPosition start) {
  PartitionState& state = partitions_[tp];
  state.start = start;
  state.cursor = internal::ReadCursor{};
  state.seeking = false;
  if (start.kind == StartPosition::Kind::kOffset) state.cursor.next_offset = start.value;
  if (start.kind == StartPosition::Kind::kTimestamp) state.cursor.min_timestamp_ms = start.value;
  state.position = state.cursor.next_offset;
}

absl::Status ConsumerImpl::StartLocked() {
  if (closing_) return absl::FailedPreconditionError("consumer is closed");
  subscribed_ = true;
  reader_ = std::thread([this] { ReaderLoop(); });
  return absl::OkStatus();
}

// Turns a whole-topic subscription into explicit partitions so a reconnect
// can resume each one at its own offset.
absl::Status ConsumerImpl::ExpandTopics() {
  for (const std::string& topic : topics_) {
    grpc::ClientContext context;
    internal::SetDeadline(&context, options_.connection.rpc_timeout_ms);
    v1::DescribeTopicRequest request;
    request.set_name(topic);
    v1::DescribeTopicResponse response;
    absl::Status s = internal::FromGrpc(admin_->DescribeTopic(&context, request, &response));
    if (!s.ok()) return s;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& p : response.topic().partitions()) {
      TopicPartition tp{topic, p.partition()};
      if (partitions_.count(tp) == 0) SetStart(tp, default_start_);
    }
  }
  return absl::OkStatus();
}

void ConsumerImpl::BuildGroupStartLocked(v1::SubscribeStart* start) {
  start->set_group(options_.group);
  start->set_instance_id(options_.instance_id);
  start->set_session_timeout_ms(options_.session_timeout_ms);
  start->set_reset(default_start_.kind == StartPosition::Kind::kEarliest
                       ? v1::StartPosition::NAMED_EARLIEST
                       : v1::StartPosition::NAMED_LATEST);
  for (const std::string& topic : topics_) start->add_topics(topic);
}

absl::StatusOr<v1::SubscribeRequest> ConsumerImpl::BuildStart() {
  if (!topics_.empty() && !group_mode_) {
    if (auto s = ExpandTopics(); !s.ok()) return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  v1::SubscribeRequest request;
  v1::SubscribeStart* start = request.mutable_start();
  if (group_mode_) BuildGroupStartLocked(start);
  for (auto& [tp, state] : partitions_) {
    if (group_mode_) break;  // the group assigns partitions
    auto* p = start->add_partitions();
    p->set_topic(tp.topic);
    p->set_partition(tp.partition);
    state.seeking = false;
    *p->mutable_position() =
        state.cursor.next_offset >= 0
            ? internal::ToProto(StartPosition::Offset(state.cursor.next_offset))
            : internal::ToProto(state.start);
  }
  if (options_.max_response_bytes > 0) start->set_max_response_bytes(options_.max_response_bytes);
  // A new stream starts with no credit: grant what the buffer has room for.
  outstanding_records_ = std::max<int64_t>(options_.max_buffered_records - buffer_.size(), 1);
  outstanding_bytes_ = std::max<int64_t>(options_.max_buffered_bytes - buffered_bytes_, 1);
  start->mutable_credit()->set_records(outstanding_records_);
  start->mutable_credit()->set_bytes(outstanding_bytes_);
  return request;
}

void ConsumerImpl::ReaderLoop() {
  int attempts = 0;
  int64_t backoff_ms = options_.reconnect_backoff_ms;
  while (true) {
    const absl::Status status = RunOneStream();
    std::unique_lock<std::mutex> lock(mu_);
    if (closing_) return;
    // A fenced group member (ABORTED) rejoins as a new member.
    const bool retriable = status.code() == absl::StatusCode::kUnavailable ||
                           status.code() == absl::StatusCode::kDeadlineExceeded ||
                           (group_mode_ && status.code() == absl::StatusCode::kAborted);
    if (status.ok()) {
      attempts = 0;  // a stream that delivered data resets the budget
      backoff_ms = options_.reconnect_backoff_ms;
    } else if (!retriable || ++attempts > options_.max_reconnect_attempts) {
      error_ = status;
      cv_.notify_all();
      return;
    }
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [this] { return closing_; });
    if (closing_) return;
    backoff_ms = std::min(backoff_ms * 2, options_.reconnect_backoff_max_ms);
  }
}

// Runs one Subscribe stream to its end. OK if it delivered anything before
// ending (so the reconnect budget restarts), else the stream's status.
absl::Status ConsumerImpl::RunOneStream() {
  absl::StatusOr<v1::SubscribeRequest> start = BuildStart();
  if (!start.ok()) return start.status();
  Stream* stream = nullptr;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    if (closing_) return absl::CancelledError("closed");
    context_ = std::make_unique<grpc::ClientContext>();
    stream_ = broker_->Subscribe(context_.get());
    stream = stream_.get();
    stream->Write(*start);  // a failure shows up as the first Read failing
  }
  bool delivered = false;
  v1::SubscribeResponse response;
  while (stream->Read(&response)) {
    delivered = true;
    if (response.has_batches()) HandleBatches(response.batches());
    if (response.has_seek_result()) HandleSeekResult(response.seek_result());
    if (response.has_assignment()) HandleAssignment(response.assignment());
    if (response.has_revoke()) HandleRevoke(response.revoke());
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  const absl::Status status = internal::FromGrpc(stream_->Finish());
  stream_.reset();
  context_.reset();
  if (delivered && status.code() == absl::StatusCode::kUnavailable) return absl::OkStatus();
  return status.ok() ? absl::UnavailableError("subscription stream ended") : status;
}

void ConsumerImpl::HandleBatches(const v1::RecordBatches& batches) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const v1::ConsumedBatch& batch : batches.batches()) {
    // Charged at least as much as any server-side measure of the batch
    // (payload, stored bytes incl. the 64-byte header, or encoded size), so
    // the client never believes the server holds more credit than it does.
    const int64_t cost = static_cast<int64_t>(batch.ByteSizeLong()) + 64;
    outstanding_records_ -= batch.records_size();
    outstanding_bytes_ -= cost;
    auto it = partitions_.find({batch.topic(), batch.partition()});
    if (it == partitions_.end()) {
      it = partitions_.emplace(TopicPartition{batch.topic(), batch.partition()}, PartitionState{})
               .first;
    }
    if (it->second.seeking) continue;
    const int64_t added = internal::AppendNewRecords(batch, &it->second.cursor, &buffer_);
    for (int64_t i = 0; i < added; ++i) {
      buffer_costs_.push_back(i == 0 ? cost - (cost / added) * (added - 1) : cost / added);
    }
    if (added > 0) buffered_bytes_ += cost;
  }
  cv_.notify_all();
}

void ConsumerImpl::HandleSeekResult(const v1::SeekResult& result) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = partitions_.find({result.topic(), result.partition()});
  if (it == partitions_.end()) return;
  it->second.seeking = false;
  if (result.has_error() && result.error().code() != 0) {
    soft_error_ = internal::FromError(result.error());
  } else {
    it->second.cursor.next_offset = result.offset();
    it->second.position = result.offset();
  }
  cv_.notify_all();
}

absl::StatusOr<std::vector<ConsumedRecord>> ConsumerImpl::Poll(int64_t timeout_ms,
                                                               size_t max_records) {
  std::vector<ConsumedRecord> out;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!subscribed_) return absl::FailedPreconditionError("not subscribed");
    cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0)), [this] {
      return !buffer_.empty() || !error_.ok() || !soft_error_.ok() || closing_;
    });
    if (!soft_error_.ok()) return std::exchange(soft_error_, absl::OkStatus());
    while (!buffer_.empty() && out.size() < max_records) {
      ConsumedRecord& r = buffer_.front();
      partitions_[{r.topic, r.partition}].position = r.offset + 1;
      buffered_bytes_ -= buffer_costs_.front();
      buffer_costs_.pop_front();
      out.push_back(std::move(r));
      buffer_.pop_front();
    }
    if (out.empty() && !error_.ok()) return error_;
    if (out.empty() && closing_) return absl::CancelledError("consumer is closed");
  }
  MaybeGrantCredit();
  MaybeHeartbeat();
  return out;
}

// Tops credit up once half the buffer's room is free, so credit messages
// stay rare while the server always has enough to keep the buffer fed.
void ConsumerImpl::MaybeGrantCredit() {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  std::lock_guard<std::mutex> lock(mu_);
  if (stream_ == nullptr) return;
  const int64_t room_records =
      options_.max_buffered_records - static_cast<int64_t>(buffer_.size()) - outstanding_records_;
  const int64_t room_bytes = options_.max_buffered_bytes - buffered_bytes_ - outstanding_bytes_;
  if (room_records < options_.max_buffered_records / 2 &&
      room_bytes < options_.max_buffered_bytes / 2) {
    return;
  }
  v1::SubscribeRequest request;
  request.mutable_credit()->set_records(std::max<int64_t>(room_records, 0));
  request.mutable_credit()->set_bytes(std::max<int64_t>(room_bytes, 0));
  outstanding_records_ += request.credit().records();
  outstanding_bytes_ += request.credit().bytes();
  WriteLocked(request);
}

// The assignment is the complete set: partitions not in it are dropped,
// new ones start wherever the broker starts them (the committed offset).
void ConsumerImpl::HandleAssignment(const v1::Assignment& assignment) {
  std::vector<TopicPartition> owned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_ = assignment.generation();
    member_id_ = assignment.member_id();
    std::map<TopicPartition, PartitionState> kept;
    for (const auto& p : assignment.partitions()) {
      TopicPartition tp{p.topic(), p.partition()};
      owned.push_back(tp);
      auto it = partitions_.find(tp);
      kept[tp] = it != partitions_.end() ? std::move(it->second) : PartitionState{};
    }
    for (const auto& [tp, state] : partitions_) {
      if (kept.count(tp) == 0) DropBufferedLocked(tp);
    }
    partitions_.swap(kept);
  }
  if (listener_.on_assigned) listener_.on_assigned(owned);
}

// Stops the partitions, commits what Poll returned for them, confirms.
void ConsumerImpl::HandleRevoke(const v1::Revoke& revoke) {
  std::vector<TopicPartition> revoked;
  std::vector<PartitionOffset> positions;
  for (const auto& p : revoke.partitions()) revoked.push_back({p.topic(), p.partition()});
  if (listener_.on_revoked) listener_.on_revoked(revoked);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const TopicPartition& tp : revoked) {
      auto it = partitions_.find(tp);
      if (it == partitions_.end()) continue;
      if (it->second.position >= 0)
        positions.push_back({tp.topic, tp.partition, it->second.position, ""});
      DropBufferedLocked(tp);
      partitions_.erase(it);
    }
  }
  // A failed commit is not fatal: the next owner re-reads the uncommitted tail.
  if (!positions.empty()) Commit(positions).IgnoreError();
  v1::SubscribeRequest done;
  done.mutable_revoke_done()->set_generation(revoke.generation());
  *done.mutable_revoke_done()->mutable_partitions() = revoke.partitions();
  std::lock_guard<std::mutex> write_lock(write_mu_);
  WriteLocked(done);
}

void ConsumerImpl::DropBufferedLocked(const TopicPartition& tp) {
  std::deque<ConsumedRecord> kept;
  std::deque<int64_t> kept_costs;
  for (size_t i = 0; i < buffer_.size(); ++i) {
    if (buffer_[i].topic == tp.topic && buffer_[i].partition == tp.partition) {
      buffered_bytes_ -= buffer_costs_[i];
      continue;
    }
    kept.push_back(std::move(buffer_[i]));
    kept_costs.push_back(buffer_costs_[i]);
  }
  buffer_.swap(kept);
  buffer_costs_.swap(kept_costs);
}

// Group members that receive nothing still tell the broker they are alive.
void ConsumerImpl::MaybeHeartbeat() {
  if (!group_mode_) return;
  constexpr int64_t kHeartbeatIntervalMs = 3'000;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  std::lock_guard<std::mutex> write_lock(write_mu_);
  if (now_ms - last_write_ms_ < kHeartbeatIntervalMs) return;
  v1::SubscribeRequest heartbeat;
  heartbeat.mutable_heartbeat();
  WriteLocked(heartbeat);
}

bool ConsumerImpl::WriteLocked(const v1::SubscribeRequest& request) {
  last_write_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  // A failed write means the stream is broken; the reader thread sees the
  // same failure on Read and reconnects, so the error needs no handling here.
  return stream_ != nullptr && stream_->Write(request);
}

absl::Status ConsumerImpl::Seek(const TopicPartition& tp, StartPosition position) {
  std::lock_guard<std::mutex> write_lock(write_mu_);
  std::lock_guard<std::mutex> lock(mu_);
  if (partitions_.count(tp) == 0) {
    return absl::NotFoundError(
        absl::StrCat("partition ", tp.topic, "/", tp.partition, " is not subscribed"));
  }
  // Drop what was buffered for the partition; its credit returns to the pool.
  DropBufferedLocked(tp);
  SetStart(tp, position);
  if (stream_ == nullptr) return absl::OkStatus();  // the reconnect starts there
  partitions_[tp].seeking = true;
  v1::SubscribeRequest request;
  request.mutable_seek()->set_topic(tp.topic);
  request.mutable_seek()->set_partition(tp.partition);
  *request.mutable_seek()->mutable_position() = internal::ToProto(position);
  WriteLocked(request);
  return absl::OkStatus();
}

absl::Status ConsumerImpl::Commit(const std::vector<PartitionOffset>& offsets) {
  if (options_.group.empty()) {
    return absl::FailedPreconditionError("ConsumerOptions::group is not set");
  }
  v1::CommitOffsetsRequest request;
  request.set_group(options_.group);
  if (group_mode_) {
    std::lock_guard<std::mutex> lock(mu_);
    request.set_generation(generation_);
    request.set_member_id(member_id_);
  }
  for (const PartitionOffset& o : offsets) {
    auto* out = request.add_offsets();
    out->set_topic(o.topic);
    out->set_partition(o.partition);
    out->set_offset(o.offset);
    out->set_metadata(o.metadata);
  }
  grpc::ClientContext context;
  internal::SetDeadline(&context, options_.connection.rpc_timeout_ms);
  v1::CommitOffsetsResponse response;
  absl::Status s = internal::FromGrpc(broker_->CommitOffsets(&context, request, &response));
  if (!s.ok()) return s;
  for (const auto& r : response.results()) {
    if (r.has_error() && r.error().code() != 0) {
      return absl::Status(static_cast<absl::StatusCode>(r.error().code()),
                          absl::StrCat(r.topic(), "/", r.partition(), ": ", r.error().message()));
    }
  }
  return absl::OkStatus();
}

absl::Status ConsumerImpl::CommitPositions() {
  std::vector<PartitionOffset> offsets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [tp, state] : partitions_) {
      if (state.position >= 0) offsets.push_back({tp.topic, tp.partition, state.position, ""});
    }
  }
  if (offsets.empty()) return absl::OkStatus();
  return Commit(offsets);
}

void ConsumerImpl::Close() {
  {
    std::lock_guard<std::mutex> write_lock(write_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return;
    closing_ = true;
    // Cancelling ends the blocked Read in the reader thread.
    if (context_ != nullptr) context_->TryCancel();
    cv_.notify_all();
  }
  if (reader_.joinable()) reader_.join();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(ConsumerOptions options) {
  if (options.connection.brokers.empty()) return absl::InvalidArgumentError("no brokers given");
  if (options.max_buffered_records <= 0 || options.max_buffered_bytes <= 0) {
    return absl::InvalidArgumentError("max_buffered_records and max_buffered_bytes must be > 0");
  }
  return std::unique_ptr<Consumer>(new ConsumerImpl(std::move(options)));
}

}  // namespace herald::client
