#include "replication/runtime/peer_sender.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/time/time.h"
#include "replication/raft_log.h"
#include "replication/runtime/message_codec.h"

namespace herald::replication {
namespace {

namespace pb = herald::internal::v1;

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const GrpcTransportOptions& options) {
  grpc::ChannelArguments args;
  // Our own subchannel, so this peer's connection state and backoff are not
  // shared with other channels to the same address (other nodes in tests).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, options.reconnect_backoff_initial_ms);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, options.reconnect_backoff_initial_ms);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, options.reconnect_backoff_max_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, options.keepalive_time_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, options.keepalive_timeout_ms);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetMaxSendMessageSize(-1);  // bounded by max_batch_bytes instead
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

}  // namespace

PeerSender::PeerSender(NodeId peer, std::string address, const GrpcTransportOptions& options)
    : peer_(peer),
      address_(std::move(address)),
      options_(options),
      stub_(pb::RaftTransport::NewStub(MakeChannel(address_, options_))) {}

PeerSender::~PeerSender() { Stop(); }

void PeerSender::Start() {
  thread_ = std::thread([this] { Run(); });
}

void PeerSender::Enqueue(std::vector<GroupMessage>& messages) {
  absl::MutexLock lock(&mu_);
  for (GroupMessage& m : messages) {
    const size_t bytes = ApproxMessageBytes(m.msg);
    if (stopping_ || queue_.size() >= options_.max_queue_msgs_per_peer ||
        (!queue_.empty() && queued_bytes_ + bytes > options_.max_queue_bytes_per_peer)) {
      ++stats_.dropped_msgs;
      continue;
    }
    queued_bytes_ += bytes;
    queue_.push_back(std::move(m));
  }
  stats_.max_queued_msgs = std::max(stats_.max_queued_msgs, queue_.size());
}

void PeerSender::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    if (active_ != nullptr) active_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

PeerSenderStats PeerSender::stats() const {
  absl::MutexLock lock(&mu_);
  PeerSenderStats stats = stats_;
  stats.queued_msgs = queue_.size();
  stats.queued_bytes = queued_bytes_;
  return stats;
}

void PeerSender::Run() {
  int backoff_ms = options_.reconnect_backoff_initial_ms;
  while (true) {
    bool carried = RunStream();
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    ++stats_.stream_failures;
    if (carried) backoff_ms = options_.reconnect_backoff_initial_ms;
    // Sleep, but wake up at once for Stop().
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Milliseconds(backoff_ms));
    if (stopping_) return;
    backoff_ms = std::min(backoff_ms * 2, options_.reconnect_backoff_max_ms);
  }
}

bool PeerSender::RunStream() {
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    // Cancelling a context whose call has not started yet cancels the call
    // as soon as it starts, so Stop() can never miss this stream.
    active_ = &context;
  }
  pb::RaftStreamSummary summary;
  std::unique_ptr<grpc::ClientWriter<pb::RaftBatch>> writer = stub_->Send(&context, &summary);
  bool carried = false;
  pb::RaftBatch batch;
  while (NextBatch(&batch)) {
    if (!writer->Write(batch)) break;  // stream broken: the batch is lost
    carried = true;
    absl::MutexLock lock(&mu_);
    ++stats_.sent_batches;
    stats_.sent_msgs += static_cast<uint64_t>(batch.messages_size());
  }
  writer->WritesDone();
  writer->Finish().IgnoreError();  // the reason does not change what we do: reconnect
  absl::MutexLock lock(&mu_);
  active_ = nullptr;
  return carried;
}

bool PeerSender::NextBatch(pb::RaftBatch* batch) {
  std::vector<GroupMessage> taken;
  {
    absl::MutexLock lock(&mu_);
    auto ready = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !queue_.empty(); };
    mu_.Await(absl::Condition(&ready));
    if (stopping_) return false;
    size_t bytes = 0;
    while (!queue_.empty() && taken.size() < options_.max_batch_msgs &&
           (taken.empty() ||
            bytes + ApproxMessageBytes(queue_.front().msg) <= options_.max_batch_bytes)) {
      bytes += ApproxMessageBytes(queue_.front().msg);
      queued_bytes_ -= ApproxMessageBytes(queue_.front().msg);
      taken.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  batch->Clear();
  batch->set_from_node(options_.node_id);
  batch->set_to_node(peer_);
  batch->mutable_messages()->Reserve(static_cast<int>(taken.size()));
  for (const GroupMessage& m : taken) ToProto(m, batch->add_messages());
  return true;
}

}  // namespace herald::replication
