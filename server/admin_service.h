#pragma once
// herald.v1.Admin: topic administration through the broker core. Consumer
// group RPCs answer UNIMPLEMENTED until groups land.
#include "grpcpp/grpcpp.h"
#include "herald/v1/admin.grpc.pb.h"
#include "server/edge.h"

namespace herald::server {

class AdminService final : public v1::Admin::CallbackService {
 public:
  AdminService(Edge* edge, std::string version) : edge_(edge), version_(std::move(version)) {}

  grpc::ServerUnaryReactor* CreateTopic(grpc::CallbackServerContext* context,
                                        const v1::CreateTopicRequest* request,
                                        v1::CreateTopicResponse* response) override;
  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* context,
                                        const v1::DeleteTopicRequest* request,
                                        v1::DeleteTopicResponse* response) override;
  grpc::ServerUnaryReactor* ListTopics(grpc::CallbackServerContext* context,
                                       const v1::ListTopicsRequest* request,
                                       v1::ListTopicsResponse* response) override;
  grpc::ServerUnaryReactor* DescribeTopic(grpc::CallbackServerContext* context,
                                          const v1::DescribeTopicRequest* request,
                                          v1::DescribeTopicResponse* response) override;
  grpc::ServerUnaryReactor* AlterTopicConfig(grpc::CallbackServerContext* context,
                                             const v1::AlterTopicConfigRequest* request,
                                             v1::AlterTopicConfigResponse* response) override;
  grpc::ServerUnaryReactor* CreatePartitions(grpc::CallbackServerContext* context,
                                             const v1::CreatePartitionsRequest* request,
                                             v1::CreatePartitionsResponse* response) override;
  grpc::ServerUnaryReactor* DescribeCluster(grpc::CallbackServerContext* context,
                                            const v1::DescribeClusterRequest* request,
                                            v1::DescribeClusterResponse* response) override;
  grpc::ServerUnaryReactor* ListGroups(grpc::CallbackServerContext* context,
                                       const v1::ListGroupsRequest* request,
                                       v1::ListGroupsResponse* response) override;
  grpc::ServerUnaryReactor* DescribeGroup(grpc::CallbackServerContext* context,
                                          const v1::DescribeGroupRequest* request,
                                          v1::DescribeGroupResponse* response) override;
  grpc::ServerUnaryReactor* DeleteGroup(grpc::CallbackServerContext* context,
                                        const v1::DeleteGroupRequest* request,
                                        v1::DeleteGroupResponse* response) override;
  grpc::ServerUnaryReactor* ResetGroupOffsets(grpc::CallbackServerContext* context,
                                              const v1::ResetGroupOffsetsRequest* request,
                                              v1::ResetGroupOffsetsResponse* response) override;

 private:
  grpc::ServerUnaryReactor* GroupsDisabled(grpc::CallbackServerContext* context,
                                           const char* method);

  Edge* const edge_;
  const std::string version_;
};

}  // namespace herald::server
