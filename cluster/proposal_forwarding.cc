#include "cluster/proposal_forwarding.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "herald/internal/v1/cluster.grpc.pb.h"

namespace herald::cluster {
namespace {

namespace pb = herald::internal::v1;

grpc::Status ToGrpc(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

class ClusterServiceImpl final : public pb::ClusterService::Service {
 public:
  ClusterServiceImpl(ProposeFn propose, std::chrono::milliseconds timeout)
      : propose_(std::move(propose)), timeout_(timeout) {}

  grpc::Status ForwardProposal(grpc::ServerContext* /*context*/,
                               const pb::ForwardProposalRequest* request,
                               pb::ForwardProposalResponse* response) override {
    auto future = propose_(request->group_id(), request->data());
    if (future.wait_for(timeout_) != std::future_status::ready) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the proposal did not commit in time; its outcome is unknown");
    }
    absl::StatusOr<uint64_t> index = future.get();
    if (!index.ok()) {
      const replication::NodeId hint = replication::LeaderHint(index.status());
      return ToGrpc(
          hint == replication::kNoNode
              ? index.status()
              : absl::Status(index.status().code(),
                             absl::StrCat(index.status().message(), " (leader ", hint, ")")));
    }
    response->set_index(*index);
    return grpc::Status::OK;
  }

 private:
  const ProposeFn propose_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewClusterService(ProposeFn propose,
                                                 std::chrono::milliseconds timeout) {
  return std::make_unique<ClusterServiceImpl>(std::move(propose), timeout);
}

struct ProposalForwarder::Peer {
  std::unique_ptr<pb::ClusterService::Stub> stub;
};

ProposalForwarder::ProposalForwarder(replication::NodeId self,
                                     std::map<replication::NodeId, std::string> peers)
    : self_(self), addresses_(std::move(peers)) {}

ProposalForwarder::~ProposalForwarder() = default;

ProposalForwarder::Peer* ProposalForwarder::PeerFor(replication::NodeId node) {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(node);
  if (it != peers_.end()) return it->second.get();
  auto address = addresses_.find(node);
  if (address == addresses_.end()) return nullptr;
  auto peer = std::make_unique<Peer>();
  peer->stub = pb::ClusterService::NewStub(
      grpc::CreateChannel(address->second, grpc::InsecureChannelCredentials()));
  return peers_.emplace(node, std::move(peer)).first->second.get();
}

absl::StatusOr<uint64_t> ProposalForwarder::Forward(replication::NodeId leader,
                                                    replication::GroupId group,
                                                    const std::string& data,
                                                    std::chrono::milliseconds timeout) {
  Peer* peer = PeerFor(leader);
  if (peer == nullptr) return absl::UnavailableError(absl::StrCat("unknown node ", leader));
  pb::ForwardProposalRequest request;
  request.set_from_node(self_);
  request.set_group_id(group);
  request.set_data(data);
  pb::ForwardProposalResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  context.set_wait_for_ready(true);
  grpc::Status s = peer->stub->ForwardProposal(&context, request, &response);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat("node ", leader, ": ", s.error_message()));
  }
  return response.index();
}

}  // namespace herald::cluster
