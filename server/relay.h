#pragma once
// Cluster mode: relaying a request to the node that must serve it (the
// controller for topic admin and consumer groups). A node that refuses work
// with UNAVAILABLE carrying storage::kLeaderAddressPayload names that node;
// the edge then sends the same request there, marked with metadata
// "herald-forwarded: 1" so the receiver never relays it again, and answers
// the client with the result. Plain generated stubs work through any node.
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"

namespace herald::server {

inline constexpr char kForwardedMetadata[] = "herald-forwarded";

// The request was relayed here by another node.
bool IsRelayed(const grpc::ServerContextBase* context);

// Where to relay a call refused with `status`, or nullopt (not a refusal
// naming another node, or the call was itself relayed).
std::optional<std::string> RelayTarget(const absl::Status& status, bool relayed);
inline std::optional<std::string> RelayTarget(const absl::Status& status,
                                              const grpc::ServerContextBase* context) {
  return RelayTarget(status, IsRelayed(context));
}

// Sends `request` to `full_method` (e.g. "/herald.v1.Admin/CreateTopic") on
// `address`, parses the answer into `response` and calls `done` with the
// remote status (UNAVAILABLE if the node cannot be reached in `timeout_ms`).
// `response` must stay valid until `done` runs.
void RelayUnary(const std::string& address, const std::string& full_method,
                const google::protobuf::Message& request, google::protobuf::Message* response,
                int64_t timeout_ms, std::function<void(grpc::Status)> done);

}  // namespace herald::server
