#pragma once
// Finishing unary RPCs: status mapping, duration and error metrics in one
// place, so every handler reports the same way.
#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "server/metrics.h"
#include "server/status_map.h"

namespace herald::server {

class UnaryCall {
 public:
  UnaryCall(Metrics* metrics, const char* method, grpc::CallbackServerContext* context)
      : metrics_(metrics),
        method_(method),
        reactor_(context->DefaultReactor()),
        start_(std::chrono::steady_clock::now()) {}

  // Finishes the RPC; returns the reactor for the handler to return.
  grpc::ServerUnaryReactor* Finish(const absl::Status& status) const {
    const grpc::Status g = ToGrpcStatus(status);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    metrics_->ObserveUnary(method_, seconds, static_cast<int>(g.error_code()));
    reactor_->Finish(g);
    return reactor_;
  }
  grpc::ServerUnaryReactor* reactor() const { return reactor_; }

 private:
  Metrics* metrics_;
  const char* method_;
  grpc::ServerUnaryReactor* reactor_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace herald::server
