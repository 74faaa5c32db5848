#include "server/stream_proxy.h"

#include "absl/strings/str_cat.h"
#include "server/relay.h"

namespace herald::server {
namespace {

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

std::shared_ptr<StreamProxy> StreamProxy::Start(const std::string& address,
                                                const std::string& method,
                                                const std::string& first_request,
                                                StreamProxySink* sink) {
  std::shared_ptr<StreamProxy> proxy(new StreamProxy(sink));
  proxy->self_ = proxy;  // released in OnDone
  proxy->stub_ = std::make_unique<grpc::GenericStub>(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  proxy->context_.AddMetadata(kForwardedMetadata, "1");
  proxy->stub_->PrepareBidiStreamingCall(&proxy->context_, method, grpc::StubOptions(),
                                         proxy.get());
  proxy->Send(first_request);
  proxy->StartRead(&proxy->read_buffer_);
  proxy->StartCall();
  return proxy;
}

bool StreamProxy::Send(const std::string& request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_) return true;  // OnDone reports the end
  if (queue_.size() >= kMaxQueuedRequests) return false;
  queue_.push_back(request);
  if (!writing_) WriteNextLocked();
  return true;
}

void StreamProxy::WriteNextLocked() {
  write_buffer_ = ToByteBuffer(queue_.front());
  queue_.pop_front();
  writing_ = true;
  StartWrite(&write_buffer_);
}

void StreamProxy::OnWriteDone(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
  if (ok && !queue_.empty()) WriteNextLocked();
}

void StreamProxy::RequestNext() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!ended_) StartRead(&read_buffer_);
}

void StreamProxy::OnReadDone(bool ok) {
  if (!ok) return;  // OnDone follows
  grpc::ByteBuffer response;
  response.Swap(&read_buffer_);
  std::lock_guard<std::mutex> lock(sink_mu_);
  if (sink_ != nullptr) sink_->OnProxyResponse(std::move(response));
}

void StreamProxy::OnDone(const grpc::Status& status) {
  std::shared_ptr<StreamProxy> keep = std::move(self_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended_ = true;
    queue_.clear();
  }
  absl::Status s(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    s = absl::UnavailableError(absl::StrCat(
        "the controller this stream was relayed to is unreachable: ", status.error_message(),
        "; reconnect"));
  }
  std::lock_guard<std::mutex> lock(sink_mu_);
  if (sink_ != nullptr) sink_->OnProxyDone(s);
}

void StreamProxy::Detach() {
  Cancel();
  std::lock_guard<std::mutex> lock(sink_mu_);
  sink_ = nullptr;
}

}  // namespace herald::server
