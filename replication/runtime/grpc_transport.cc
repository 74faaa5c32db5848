#include "replication/runtime/grpc_transport.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "herald/internal/v1/raft.grpc.pb.h"
#include "replication/runtime/message_codec.h"

namespace herald::replication {

namespace pb = herald::internal::v1;

namespace {

// One inbound stream: read a batch, deliver it, read the next. Delivery only
// enqueues (Transport::Handler contract), so the reaction never blocks.
class InboundStream final : public grpc::ServerReadReactor<pb::RaftBatch> {
 public:
  explicit InboundStream(GrpcTransport* transport) : transport_(transport) { StartRead(&batch_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the sender closed the stream, or it was cancelled
      Finish(grpc::Status::OK);
      return;
    }
    transport_->Deliver(batch_);
    batch_.Clear();
    StartRead(&batch_);
  }
  void OnDone() override { delete this; }

 private:
  GrpcTransport* const transport_;
  pb::RaftBatch batch_;
};

}  // namespace

class RaftTransportService final : public pb::RaftTransport::CallbackService {
 public:
  explicit RaftTransportService(GrpcTransport* transport) : transport_(transport) {}

  grpc::ServerReadReactor<pb::RaftBatch>* Send(grpc::CallbackServerContext* context,
                                               pb::RaftStreamSummary* summary) override {
    return new InboundStream(transport_);
  }

 private:
  GrpcTransport* const transport_;
};

GrpcTransport::GrpcTransport(GrpcTransportOptions options)
    : options_(std::move(options)), service_(std::make_unique<RaftTransportService>(this)) {
  absl::MutexLock lock(&mu_);
  addresses_ = options_.peers;
}

GrpcTransport::~GrpcTransport() { Stop(); }

void GrpcTransport::SetHandler(Handler handler) { handler_ = std::move(handler); }

absl::Status GrpcTransport::Start() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen_address, grpc::InsecureServerCredentials(), &port_);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  // Peers keep their streams alive with pings (peer_sender.cc); allow them.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             options_.keepalive_time_ms / 2);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.RegisterService(service_.get());
  for (grpc::Service* extra : options_.extra_services) builder.RegisterService(extra);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("raft transport cannot listen on ", options_.listen_address));
  }
  absl::MutexLock lock(&mu_);
  started_ = true;
  for (const auto& [node, address] : addresses_) {
    auto sender = std::make_unique<PeerSender>(node, address, options_);
    sender->Start();
    senders_[node] = std::move(sender);
  }
  return absl::OkStatus();
}

void GrpcTransport::SetPeer(NodeId node, std::string address) {
  std::unique_ptr<PeerSender> old;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_ || node == options_.node_id) return;
    auto known = addresses_.find(node);
    if (known != addresses_.end() && known->second == address) return;  // keep the stream
    addresses_[node] = address;
    if (!started_) return;
    old = std::move(senders_[node]);
    senders_[node] = std::make_unique<PeerSender>(node, std::move(address), options_);
    senders_[node]->Start();
  }
  // Joined outside mu_: Stop may wait for a blocked write to be cancelled.
  if (old != nullptr) old->Stop();
}

void GrpcTransport::Send(NodeId to, std::vector<GroupMessage> messages) {
  absl::MutexLock lock(&mu_);
  auto it = senders_.find(to);
  if (it == senders_.end()) {
    inbound_.unknown_peer_msgs += messages.size();
    return;
  }
  it->second->Enqueue(messages);
}

void GrpcTransport::Stop() {
  std::map<NodeId, std::unique_ptr<PeerSender>> senders;
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    senders.swap(senders_);
  }
  for (auto& [node, sender] : senders) sender->Stop();
  // Cancels every inbound stream now and waits for their reactors, so the
  // handler is not called after this.
  if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
}

PeerSenderStats GrpcTransport::peer_stats(NodeId node) const {
  absl::MutexLock lock(&mu_);
  auto it = senders_.find(node);
  return it == senders_.end() ? PeerSenderStats{} : it->second->stats();
}

TransportInboundStats GrpcTransport::inbound_stats() const {
  absl::MutexLock lock(&mu_);
  return inbound_;
}

void GrpcTransport::Deliver(const pb::RaftBatch& batch) {
  std::vector<GroupMessage> messages;
  messages.reserve(static_cast<size_t>(batch.messages_size()));
  uint64_t malformed = 0;
  uint64_t misrouted = 0;
  const NodeId from = batch.from_node();
  for (const pb::RaftMessage& proto : batch.messages()) {
    absl::StatusOr<GroupMessage> m = FromProto(proto);
    if (!m.ok() || from == kNoNode || m->msg.from != from) {
      ++malformed;
    } else if (m->msg.to != options_.node_id || batch.to_node() != options_.node_id) {
      ++misrouted;
    } else {
      messages.push_back(*std::move(m));
    }
  }
  {
    absl::MutexLock lock(&mu_);
    ++inbound_.batches;
    inbound_.malformed_msgs += malformed;
    inbound_.misrouted_msgs += misrouted;
    inbound_.messages += messages.size();
  }
  if (!messages.empty() && handler_) handler_(from, std::move(messages));
}

}  // namespace herald::replication
