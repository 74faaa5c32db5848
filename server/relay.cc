#include "server/relay.h"

#include <map>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "grpcpp/generic/generic_stub.h"
#include "storage/log_store.h"

namespace herald::server {
namespace {

// One channel per node address, for the life of the process (a cluster has
// a handful of nodes).
std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address) {
  static std::mutex mu;
  static auto* channels = new std::map<std::string, std::shared_ptr<grpc::Channel>>();
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<grpc::Channel>& channel = (*channels)[address];
  if (channel == nullptr) {
    channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }
  return channel;
}

struct RelayCall {
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  std::unique_ptr<grpc::GenericStub> stub;
};

}  // namespace

bool IsRelayed(const grpc::ServerContextBase* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(kForwardedMetadata);
  return it != metadata.end() && it->second == "1";
}

std::optional<std::string> RelayTarget(const absl::Status& status, bool relayed) {
  if (!absl::IsUnavailable(status) || relayed) return std::nullopt;
  auto address = status.GetPayload(storage::kLeaderAddressPayload);
  if (!address.has_value()) return std::nullopt;
  return std::string(*address);
}

void RelayUnary(const std::string& address, const std::string& full_method,
                const google::protobuf::Message& request, google::protobuf::Message* response,
                int64_t timeout_ms, std::function<void(grpc::Status)> done) {
  auto call = std::make_shared<RelayCall>();
  call->stub = std::make_unique<grpc::GenericStub>(ChannelTo(address));
  call->context.AddMetadata(kForwardedMetadata, "1");
  call->context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(timeout_ms));
  const std::string bytes = request.SerializeAsString();
  grpc::Slice slice(bytes);
  call->request = grpc::ByteBuffer(&slice, 1);
  call->stub->UnaryCall(
      &call->context, full_method, grpc::StubOptions(), &call->request, &call->response,
      [call, response, address, done = std::move(done)](grpc::Status status) {
        if (status.ok()) {
          std::vector<grpc::Slice> slices;
          std::string out;
          if (call->response.Dump(&slices).ok()) {
            for (const grpc::Slice& s : slices) {
              out.append(reinterpret_cast<const char*>(s.begin()), s.size());
            }
          }
          if (!response->ParseFromString(out)) {
            status = grpc::Status(grpc::StatusCode::INTERNAL,
                                  absl::StrCat("malformed answer relayed from ", address));
          }
        } else {
          status = grpc::Status(status.error_code(), absl::StrCat(status.error_message(),
                                                                  " (relayed to ", address, ")"));
        }
        done(status);
      });
}

}  // namespace herald::server
