#pragma once
// Finishing unary RPCs: status mapping, duration and error metrics in one
// place, so every handler reports the same way.
#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "server/metrics.h"
#include "server/relay.h"
#include "server/status_map.h"

namespace herald::server {

class UnaryCall {
 public:
  UnaryCall(Metrics* metrics, const char* method, grpc::CallbackServerContext* context)
      : metrics_(metrics),
        method_(method),
        context_(context),
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

  // Cluster mode: if `status` refuses the call naming the node that serves
  // it (relay.h), relays the call there and finishes with its answer;
  // otherwise Finish(status). `full_method`: "/herald.v1.Admin/CreateTopic".
  grpc::ServerUnaryReactor* FinishOrRelay(const absl::Status& status, const char* full_method,
                                          const google::protobuf::Message& request,
                                          google::protobuf::Message* response) const {
    auto target = RelayTarget(status, context_);
    if (!target.has_value()) return Finish(status);
    response->Clear();
    RelayUnary(
        *target, full_method, request, response, kRelayTimeoutMs,
        [metrics = metrics_, method = method_, reactor = reactor_, start = start_](grpc::Status g) {
          const double seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          metrics->ObserveUnary(method, seconds, static_cast<int>(g.error_code()));
          reactor->Finish(g);
        });
    return reactor_;
  }

 private:
  Metrics* metrics_;
  static constexpr int64_t kRelayTimeoutMs = 30'000;
  const char* method_;
  grpc::CallbackServerContext* context_;
  grpc::ServerUnaryReactor* reactor_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace herald::server
