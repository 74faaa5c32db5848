#include "herald/client/producer.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "herald/v1/admin.grpc.pb.h"
#include "herald/v1/broker.grpc.pb.h"
#include "src/grpc_util.h"
#include "src/partitioner.h"

namespace herald::client {

std::future<DeliveryResult> Producer::Send(const std::string& topic, Record record,
                                           std::optional<int32_t> partition) {
  auto promise = std::make_shared<std::promise<DeliveryResult>>();
  std::future<DeliveryResult> future = promise->get_future();
  Send(topic, std::move(record), partition,
       [promise](const DeliveryResult& result) { promise->set_value(result); });
  return future;
}

namespace {

using Stream = grpc::ClientReaderWriter<v1::ProduceRequest, v1::ProduceResponse>;
using Clock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Batch {
  std::string topic;
  int32_t partition = 0;
  v1::RecordBatch records;
  std::vector<DeliveryCallback> callbacks;
  int64_t bytes = 0;
  int64_t created_ms = 0;
  int64_t sealed_ms = 0;
  uint64_t request_id = 0;
  int32_t base_sequence = -1;  // idempotence: fixed at the first send
};

struct TopicMeta {
  int32_t partitions = 0;
  int64_t fetched_ms = 0;
};

// Callbacks collected under the lock and run after it is released.
using Completions = std::vector<std::pair<DeliveryCallback, DeliveryResult>>;

void RunCompletions(Completions* completions) {
  for (auto& [callback, result] : *completions) callback(result);
  completions->clear();
}

class ProducerImpl final : public Producer {
 public:
  explicit ProducerImpl(ProducerOptions options)
      : options_(std::move(options)),
        channel_(internal::MakeChannel(options_.connection)),
        broker_(v1::Broker::NewStub(channel_)),
        admin_(v1::Admin::NewStub(channel_)) {
    sender_ = std::thread([this] { SenderLoop(); });
  }
  ~ProducerImpl() override { Close(30'000); }

  using Producer::Send;
  void Send(const std::string& topic, Record record, std::optional<int32_t> partition,
            DeliveryCallback callback) override;
  absl::Status Flush(int64_t timeout_ms) override;
  void Close(int64_t timeout_ms) override;

 private:
  absl::StatusOr<int32_t> PartitionCount(const std::string& topic);
  absl::Status WaitForRoom(std::unique_lock<std::mutex>& lock, int64_t bytes);
  void SealLocked(std::map<TopicPartition, std::unique_ptr<Batch>>::iterator it);
  void SealExpiredLocked(int64_t now_ms, bool all);
  void FailBatchLocked(Batch& batch, const absl::Status& status, Completions* out);
  void ResolveBatchLocked(Batch& batch, const v1::ProduceResponse& response, Completions* out);
  void ExpireLocked(int64_t now_ms, Completions* out);
  bool CanSendLocked() const;
  int32_t InFlightForLocked(const std::string& topic, int32_t partition) const;
  void FailUnknownOutcomeLocked(Completions* out);

  void SenderLoop();
  bool Connect();
  void Disconnect(Completions* out);
  void SendBatch(std::unique_ptr<Batch> batch, Completions* out);
  void ReaderLoop(Stream* stream);
  void HandleResponse(const v1::ProduceResponse& response, Completions* out);
  bool ShouldRequeueLocked(const absl::Status& status) const;
  void RequeueLocked(std::unique_ptr<Batch> batch);
  void RestoreRequeuedLocked();
  absl::Status InitProducer();
  void AssignSequenceLocked(Batch& batch);

  const ProducerOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Broker::Stub> broker_;
  std::unique_ptr<v1::Admin::Stub> admin_;

  std::mutex mu_;
  std::condition_variable cv_;  // state changes: sender work, room, resolution
  bool closing_ = false;
  bool stopped_ = false;
  std::map<std::string, TopicMeta> metadata_;
  internal::Partitioner partitioner_;
  std::map<TopicPartition, std::unique_ptr<Batch>> open_;
  std::deque<std::unique_ptr<Batch>> ready_;
  std::map<uint64_t, std::unique_ptr<Batch>> in_flight_;
  int64_t in_flight_bytes_ = 0;
  int64_t buffered_bytes_ = 0;   // every unresolved record
  int64_t pending_records_ = 0;  // records accepted and not yet resolved
  uint64_t next_request_id_ = 1;
  bool broken_ = false;         // the reader saw the stream end
  int64_t pause_until_ms_ = 0;  // backoff after an in-band UNAVAILABLE
  // Batches to re-send, keyed by their last request id (= send order); they
  // go back to the front of ready_ once nothing is in flight, so a
  // partition's batches are never reordered.
  std::map<uint64_t, std::unique_ptr<Batch>> requeued_;
  // Idempotence: identity from InitProducer (-1: none yet) and the next
  // sequence per partition. needs_new_identity_ after a batch failed for
  // good: its sequence is a gap the broker would refuse later batches for.
  int64_t producer_id_ = -1;
  int32_t producer_epoch_ = 0;
  std::map<TopicPartition, int32_t> next_sequence_;
  bool needs_new_identity_ = false;

  // Owned by the sender thread.
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<Stream> stream_;
  std::thread reader_;
  std::thread sender_;
};

absl::StatusOr<int32_t> ProducerImpl::PartitionCount(const std::string& topic) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = metadata_.find(topic);
    if (it != metadata_.end() && NowMs() - it->second.fetched_ms < options_.metadata_max_age_ms) {
      return it->second.partitions;
    }
  }
  grpc::ClientContext context;
  internal::SetDeadline(&context, options_.connection.rpc_timeout_ms);
  // Ride out a broker restart within the deadline instead of failing the
  // record at once while the channel reconnects (as the other clients do).
  context.set_wait_for_ready(true);
  v1::DescribeTopicRequest request;
  request.set_name(topic);
  v1::DescribeTopicResponse response;
  absl::Status s = internal::FromGrpc(admin_->DescribeTopic(&context, request, &response));
  if (!s.ok()) return s;
  const int32_t count = response.topic().partitions_size();
  if (count <= 0)
    return absl::UnavailableError(absl::StrCat("topic ", topic, " has no partitions"));
  std::lock_guard<std::mutex> lock(mu_);
  metadata_[topic] = TopicMeta{count, NowMs()};
  return count;
}

void ProducerImpl::Send(const std::string& topic, Record record, std::optional<int32_t> partition,
                        DeliveryCallback callback) {
  v1::Record proto;
  internal::ToProto(record, &proto);
  const int64_t bytes = static_cast<int64_t>(proto.ByteSizeLong()) + 8;  // + field overhead
  if (bytes > options_.buffer_max_bytes) {
    callback(absl::InvalidArgumentError(absl::StrCat(
        "record of ", bytes, " bytes exceeds buffer_max_bytes ", options_.buffer_max_bytes)));
    return;
  }
  absl::StatusOr<int32_t> count = PartitionCount(topic);
  if (!count.ok()) {
    callback(count.status());
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (absl::Status s = WaitForRoom(lock, bytes); !s.ok()) {
    lock.unlock();
    callback(s);
    return;
  }
  const int32_t p =
      partition.has_value() ? *partition : partitioner_.Choose(topic, record.key, *count);
  auto it = open_.find({topic, p});
  if (it != open_.end() && it->second->bytes + bytes > options_.batch_max_bytes) {
    SealLocked(it);
    it = open_.end();
  }
  if (it == open_.end()) {
    auto batch = std::make_unique<Batch>();
    batch->topic = topic;
    batch->partition = p;
    batch->created_ms = NowMs();
    it = open_.emplace(TopicPartition{topic, p}, std::move(batch)).first;
  }
  *it->second->records.add_records() = std::move(proto);
  it->second->callbacks.push_back(std::move(callback));
  it->second->bytes += bytes;
  buffered_bytes_ += bytes;
  ++pending_records_;
  if (it->second->bytes >= options_.batch_max_bytes || options_.linger_ms <= 0) SealLocked(it);
  cv_.notify_all();
}

absl::Status ProducerImpl::WaitForRoom(std::unique_lock<std::mutex>& lock, int64_t bytes) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.max_block_ms);
  while (!closing_ && buffered_bytes_ + bytes > options_.buffer_max_bytes) {
    if (options_.max_block_ms <= 0 || cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      if (buffered_bytes_ + bytes <= options_.buffer_max_bytes) break;
      return absl::ResourceExhaustedError(absl::StrCat(
          "producer buffer full (", buffered_bytes_, " of ", options_.buffer_max_bytes, " bytes)"));
    }
  }
  if (closing_) return absl::FailedPreconditionError("producer is closed");
  return absl::OkStatus();
}

void ProducerImpl::SealLocked(std::map<TopicPartition, std::unique_ptr<Batch>>::iterator it) {
  std::unique_ptr<Batch> batch = std::move(it->second);
  open_.erase(it);
  batch->sealed_ms = NowMs();
  auto meta = metadata_.find(batch->topic);
  partitioner_.OnBatchSealed(batch->topic, batch->partition,
                             meta == metadata_.end() ? 0 : meta->second.partitions);
  ready_.push_back(std::move(batch));
}

void ProducerImpl::SealExpiredLocked(int64_t now_ms, bool all) {
  for (auto it = open_.begin(); it != open_.end();) {
    auto next = std::next(it);
    if (all || now_ms - it->second->created_ms >= options_.linger_ms) SealLocked(it);
    it = next;
  }
}

void ProducerImpl::FailBatchLocked(Batch& batch, const absl::Status& status, Completions* out) {
  if (batch.base_sequence >= 0) needs_new_identity_ = true;
  for (DeliveryCallback& callback : batch.callbacks) out->emplace_back(std::move(callback), status);
  pending_records_ -= static_cast<int64_t>(batch.callbacks.size());
  buffered_bytes_ -= batch.bytes;
  batch.callbacks.clear();
  cv_.notify_all();
}

void ProducerImpl::ResolveBatchLocked(Batch& batch, const v1::ProduceResponse& response,
                                      Completions* out) {
  for (size_t i = 0; i < batch.callbacks.size(); ++i) {
    RecordMetadata metadata{
        batch.topic, response.partition(),
        response.base_offset() >= 0 ? response.base_offset() + static_cast<int64_t>(i) : -1};
    out->emplace_back(std::move(batch.callbacks[i]), std::move(metadata));
  }
  pending_records_ -= static_cast<int64_t>(batch.callbacks.size());
  buffered_bytes_ -= batch.bytes;
  batch.callbacks.clear();
  cv_.notify_all();
}

// Fails queued batches that have waited longer than delivery_timeout_ms.
void ProducerImpl::ExpireLocked(int64_t now_ms, Completions* out) {
  while (!ready_.empty() && now_ms - ready_.front()->sealed_ms > options_.delivery_timeout_ms) {
    FailBatchLocked(*ready_.front(),
                    absl::DeadlineExceededError(absl::StrCat(
                        "batch for ", ready_.front()->topic, "/", ready_.front()->partition,
                        " not acknowledged within ", options_.delivery_timeout_ms, " ms")),
                    out);
    ready_.pop_front();
  }
}

// The broker remembers the last 5 batches of each producer and partition
// (coordination/producer_state.h): only a retry of one of those can be
// recognised as a duplicate. So an idempotent producer never has more than
// that many batches of one partition unacknowledged (Kafka's limit too).
constexpr int32_t kMaxIdempotentInFlightPerPartition = 5;

bool ProducerImpl::CanSendLocked() const {
  if (!requeued_.empty() || needs_new_identity_) return false;  // wait for in_flight_ to drain
  if (ready_.empty() || static_cast<int32_t>(in_flight_.size()) >= options_.max_in_flight_batches ||
      (!in_flight_.empty() &&
       in_flight_bytes_ + ready_.front()->bytes > options_.max_in_flight_bytes)) {
    return false;
  }
  const Batch& next = *ready_.front();
  return !options_.enable_idempotence ||
         InFlightForLocked(next.topic, next.partition) < kMaxIdempotentInFlightPerPartition;
}

int32_t ProducerImpl::InFlightForLocked(const std::string& topic, int32_t partition) const {
  int32_t n = 0;
  for (const auto& [id, batch] : in_flight_) {
    if (batch->partition == partition && batch->topic == topic) ++n;
  }
  return n;
}

// Before a new producer identity: a batch already sent under the old one
// (it has a sequence) but never acknowledged may be in the log. Re-sending
// it under the new identity could write it twice, so it fails instead,
// saying that its outcome is unknown.
void ProducerImpl::FailUnknownOutcomeLocked(Completions* out) {
  std::deque<std::unique_ptr<Batch>> kept;
  for (auto& batch : ready_) {
    if (batch->base_sequence < 0) {
      kept.push_back(std::move(batch));
      continue;
    }
    FailBatchLocked(*batch,
                    absl::AbortedError(absl::StrCat(
                        "outcome unknown: batch for ", batch->topic, "/", batch->partition,
                        " was sent but not acknowledged before the producer had to take a new "
                        "identity; it may have been written")),
                    out);
  }
  ready_.swap(kept);
}

absl::Status ProducerImpl::Flush(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  SealExpiredLocked(NowMs(), /*all=*/true);
  cv_.notify_all();
  const bool done = cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 0)),
                                 [this] { return pending_records_ == 0 || stopped_; });
  if (!done) {
    return absl::DeadlineExceededError(absl::StrCat(
        "flush: ", pending_records_, " records still pending after ", timeout_ms, " ms"));
  }
  return absl::OkStatus();
}

void ProducerImpl::Close(int64_t timeout_ms) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return;
  }
  // A flush failure is not an error of Close: what remains fails below.
  (void)Flush(timeout_ms);
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    cv_.notify_all();
  }
  if (sender_.joinable()) sender_.join();
}

void ProducerImpl::SenderLoop() {
  Completions done;
  int64_t backoff_ms = options_.retry_backoff_ms;
  std::unique_lock<std::mutex> lock(mu_);
  while (!closing_) {
    const int64_t now_ms = NowMs();
    SealExpiredLocked(now_ms, /*all=*/false);
    ExpireLocked(now_ms, &done);
    if (!done.empty()) {
      lock.unlock();
      RunCompletions(&done);
      lock.lock();
      continue;
    }
    if (broken_) {
      lock.unlock();
      Disconnect(&done);
      RunCompletions(&done);
      lock.lock();
      // Backoff before reconnecting; Close interrupts it.
      cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [this] { return closing_; });
      backoff_ms = std::min(backoff_ms * 2, options_.retry_backoff_max_ms);
      continue;
    }
    if (in_flight_.empty() && (!requeued_.empty() || needs_new_identity_)) {
      RestoreRequeuedLocked();
      if (needs_new_identity_) {
        FailUnknownOutcomeLocked(&done);
        lock.unlock();
        RunCompletions(&done);
        const absl::Status s = InitProducer();
        lock.lock();
        if (!s.ok()) {
          cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [this] { return closing_; });
          backoff_ms = std::min(backoff_ms * 2, options_.retry_backoff_max_ms);
        }
      }
      continue;
    }
    if (CanSendLocked() && now_ms >= pause_until_ms_) {
      std::unique_ptr<Batch> batch = std::move(ready_.front());
      ready_.pop_front();
      lock.unlock();
      if (stream_ == nullptr && !Connect()) {
        lock.lock();
        ready_.push_front(std::move(batch));
        broken_ = true;
        continue;
      }
      SendBatch(std::move(batch), &done);
      RunCompletions(&done);
      lock.lock();
      if (!broken_) backoff_ms = options_.retry_backoff_ms;
      continue;
    }
    // Sleep until the earliest linger expiry or the end of a pause.
    int64_t wake_ms = now_ms + 1000;
    for (const auto& [tp, batch] : open_) {
      wake_ms = std::min(wake_ms, batch->created_ms + options_.linger_ms);
    }
    if (!ready_.empty()) wake_ms = std::min(wake_ms, std::max(pause_until_ms_, now_ms + 1));
    cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wake_ms - now_ms, 1)));
  }
  // Closing: whatever Flush could not deliver fails.
  SealExpiredLocked(NowMs(), /*all=*/true);
  for (auto& batch : ready_)
    FailBatchLocked(*batch, absl::CancelledError("producer closed"), &done);
  ready_.clear();
  for (auto& [id, batch] : in_flight_) {
    FailBatchLocked(*batch, absl::CancelledError("producer closed before acknowledgement"), &done);
  }
  in_flight_.clear();
  stopped_ = true;
  cv_.notify_all();
  lock.unlock();
  if (context_ != nullptr) context_->TryCancel();
  if (reader_.joinable()) reader_.join();
  if (stream_ != nullptr) (void)stream_->Finish();  // cancelled by us: status is moot
  RunCompletions(&done);
}

// InitProducer for a first or a fresh identity; every batch not yet sent
// for good starts a new sequence.
absl::Status ProducerImpl::InitProducer() {
  grpc::ClientContext context;
  internal::SetDeadline(&context, options_.connection.rpc_timeout_ms);
  context.set_wait_for_ready(true);
  v1::InitProducerRequest request;
  request.set_transactional_id(options_.transactional_id);
  v1::InitProducerResponse response;
  absl::Status s = internal::FromGrpc(broker_->InitProducer(&context, request, &response));
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  producer_id_ = response.producer_id();
  producer_epoch_ = response.producer_epoch();
  next_sequence_.clear();
  for (auto& batch : ready_) batch->base_sequence = -1;
  needs_new_identity_ = false;
  return absl::OkStatus();
}

void ProducerImpl::AssignSequenceLocked(Batch& batch) {
  if (producer_id_ < 0 || batch.base_sequence >= 0) return;
  int32_t& next = next_sequence_[{batch.topic, batch.partition}];
  batch.base_sequence = next;
  next += batch.records.records_size();
}

bool ProducerImpl::Connect() {
  if (options_.enable_idempotence && producer_id_ < 0 && !InitProducer().ok()) return false;
  context_ = std::make_unique<grpc::ClientContext>();
  stream_ = broker_->Produce(context_.get());
  if (stream_ == nullptr) {
    context_.reset();
    return false;
  }
  reader_ = std::thread([this, stream = stream_.get()] { ReaderLoop(stream); });
  return true;
}

// Ends a broken stream and puts its unacknowledged batches back in front of
// the queue in their original order, so they are re-sent first.
void ProducerImpl::Disconnect(Completions* out) {
  if (reader_.joinable()) reader_.join();
  absl::Status status = absl::UnavailableError("stream not connected");
  if (stream_ != nullptr) status = internal::FromGrpc(stream_->Finish());
  stream_.reset();
  context_.reset();
  const bool retriable = status.code() == absl::StatusCode::kUnavailable ||
                         status.code() == absl::StatusCode::kCancelled ||
                         status.code() == absl::StatusCode::kAborted ||
                         status.code() == absl::StatusCode::kResourceExhausted || status.ok();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, batch] : in_flight_) {
    if (retriable) {
      requeued_.emplace(id, std::move(batch));
    } else {
      FailBatchLocked(*batch, status, out);
    }
  }
  in_flight_.clear();
  in_flight_bytes_ = 0;
  RestoreRequeuedLocked();
  broken_ = false;
}

// Puts requeued batches back in front of ready_, in their send order.
void ProducerImpl::RestoreRequeuedLocked() {
  for (auto it = requeued_.rbegin(); it != requeued_.rend(); ++it) {
    ready_.push_front(std::move(it->second));
  }
  requeued_.clear();
}

void ProducerImpl::RequeueLocked(std::unique_ptr<Batch> batch) {
  const uint64_t id = batch->request_id;
  requeued_.emplace(id, std::move(batch));
}

void ProducerImpl::SendBatch(std::unique_ptr<Batch> batch, Completions* out) {
  v1::ProduceRequest request;
  request.set_topic(batch->topic);
  request.set_partition(batch->partition);
  request.set_acks(internal::ToProto(options_.acks));
  *request.mutable_batch() = batch->records;
  const bool acks_none = options_.acks == Acks::kNone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch->request_id = next_request_id_++;
    request.set_request_id(batch->request_id);
    AssignSequenceLocked(*batch);
    if (batch->base_sequence >= 0) {
      request.set_producer_id(producer_id_);
      request.set_producer_epoch(producer_epoch_);
      request.set_base_sequence(batch->base_sequence);
    }
    if (!acks_none) {
      in_flight_bytes_ += batch->bytes;
      in_flight_.emplace(batch->request_id, std::move(batch));
    }
  }
  // After the hand-off above the reader may resolve the batch at any time:
  // only `request` is used from here on.
  const bool written = stream_->Write(request);
  std::lock_guard<std::mutex> lock(mu_);
  if (!written) {
    // The reader sees the same failure; for acks NONE the batch is retried.
    if (acks_none) ready_.push_front(std::move(batch));
    broken_ = true;
    return;
  }
  if (acks_none) {
    // No acknowledgement will come: the record is "delivered" once written.
    v1::ProduceResponse response;
    response.set_partition(batch->partition);
    response.set_base_offset(-1);
    ResolveBatchLocked(*batch, response, out);
  }
}

void ProducerImpl::ReaderLoop(Stream* stream) {
  v1::ProduceResponse response;
  Completions done;
  while (stream->Read(&response)) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      HandleResponse(response, &done);
    }
    RunCompletions(&done);
  }
  std::lock_guard<std::mutex> lock(mu_);
  broken_ = true;
  cv_.notify_all();
}

void ProducerImpl::HandleResponse(const v1::ProduceResponse& response, Completions* out) {
  auto it = in_flight_.find(response.request_id());
  // Unknown ids: errors for acks-NONE batches already resolved, or a
  // response from before a reconnect. Nothing is waiting for them.
  if (it == in_flight_.end()) return;
  std::unique_ptr<Batch> batch = std::move(it->second);
  in_flight_.erase(it);
  in_flight_bytes_ -= batch->bytes;
  cv_.notify_all();
  if (!response.has_error() || response.error().code() == 0) {
    ResolveBatchLocked(*batch, response, out);
    return;
  }
  const absl::Status status = internal::FromError(response.error());
  if (ShouldRequeueLocked(status)) {
    pause_until_ms_ = NowMs() + options_.retry_backoff_ms;
    RequeueLocked(std::move(batch));
    return;
  }
  // The topic may be gone or its partitions changed: describe it again.
  if (status.code() == absl::StatusCode::kNotFound ||
      status.code() == absl::StatusCode::kInvalidArgument) {
    metadata_.erase(batch->topic);
  }
  FailBatchLocked(*batch, status, out);
}

// UNAVAILABLE is retried. So is an idempotent batch refused as out of
// order (OUT_OF_RANGE) while an earlier batch waits to be re-sent or a new
// identity is pending: the gap is of our own making and closes on resend.
bool ProducerImpl::ShouldRequeueLocked(const absl::Status& status) const {
  if (status.code() == absl::StatusCode::kUnavailable) return true;
  return status.code() == absl::StatusCode::kOutOfRange && producer_id_ >= 0 &&
         (!requeued_.empty() || needs_new_identity_);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(ProducerOptions options) {
  if (options.connection.brokers.empty()) return absl::InvalidArgumentError("no brokers given");
  if (options.batch_max_bytes <= 0 || options.buffer_max_bytes <= 0 ||
      options.max_in_flight_batches <= 0 || options.max_in_flight_bytes <= 0) {
    return absl::InvalidArgumentError("producer sizes and windows must be > 0");
  }
  return std::unique_ptr<Producer>(new ProducerImpl(std::move(options)));
}

}  // namespace herald::client
