#pragma once
// StreamProxy: relays one bidi stream to another node (cluster mode), raw
// bytes both ways. Used when a consumer-group Subscribe reaches a node that
// is not the controller: the node opens the same stream on the controller
// (metadata "herald-forwarded: 1", so it is never relayed twice) and passes
// requests and responses through, so plain clients work through any node.
//
// Flow control: one response is read from the controller at a time, the
// next only after the owner called RequestNext (once it has written the
// previous one to its client). Requests wait in a queue of at most
// kMaxQueuedRequests; beyond it Send returns false and the owner ends the
// stream.
//
// Lifetime: Start keeps the proxy alive until its stream is done. The owner
// calls Detach before it goes away: no sink call runs after Detach returns.
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace herald::server {

class StreamProxySink {
 public:
  virtual ~StreamProxySink() = default;
  virtual void OnProxyResponse(grpc::ByteBuffer response) = 0;
  // The relayed stream ended with this status (the owner ends its own).
  virtual void OnProxyDone(absl::Status status) = 0;
};

class StreamProxy final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  static constexpr size_t kMaxQueuedRequests = 1024;

  // Opens `method` on `address` and sends `first_request`.
  static std::shared_ptr<StreamProxy> Start(const std::string& address, const std::string& method,
                                            const std::string& first_request,
                                            StreamProxySink* sink);

  bool Send(const std::string& request);
  void RequestNext();
  void Cancel() { context_.TryCancel(); }
  void Detach();

  void OnWriteDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  StreamProxy(StreamProxySink* sink) : sink_(sink) {}
  void WriteNextLocked();

  std::shared_ptr<StreamProxy> self_;
  std::unique_ptr<grpc::GenericStub> stub_;
  grpc::ClientContext context_;
  grpc::ByteBuffer read_buffer_;
  grpc::ByteBuffer write_buffer_;

  std::mutex mu_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool ended_ = false;

  std::mutex sink_mu_;  // held while calling the sink; Detach takes it
  StreamProxySink* sink_;
};

}  // namespace herald::server
