#pragma once
// Internal glue between gRPC/protobuf and the client's plain types.
#include <chrono>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "herald/client/options.h"
#include "herald/client/types.h"
#include "herald/v1/records.pb.h"

namespace herald::client::internal {

// Channel to the first broker of options.brokers, with keepalive.
std::shared_ptr<grpc::Channel> MakeChannel(const ConnectionOptions& options);

// gRPC and absl codes are numerically identical; the message is kept.
absl::Status FromGrpc(const grpc::Status& status);
absl::Status FromError(const v1::Error& error);

inline void SetDeadline(grpc::ClientContext* context, int64_t timeout_ms) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
}

v1::StartPosition ToProto(const StartPosition& position);
v1::Acks ToProto(Acks acks);
void ToProto(const Record& record, v1::Record* out);

}  // namespace herald::client::internal
