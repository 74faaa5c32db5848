#include "server/admin_service.h"

#include "absl/strings/str_cat.h"
#include "server/convert.h"
#include "server/logging.h"
#include "server/unary.h"

namespace herald::server {
namespace {

void LogAdmin(const char* action, const std::string& topic, const absl::Status& status,
              LogFields extra = {}) {
  LogFields fields{{"action", action},
                   {"topic", topic},
                   {"code", GrpcCodeName(ToGrpcStatus(status).error_code())}};
  if (!status.ok()) fields.emplace_back("message", std::string(status.message()));
  for (auto& f : extra) fields.push_back(std::move(f));
  LogEvent(status.ok() ? spdlog::level::info : spdlog::level::warn, "topic_admin", fields);
}

// CreateTopic/CreatePartitions return TopicInfo without per-partition state
// (the broker fills it in DescribeTopic only); describe once more for it.
void DescribeInto(broker::Broker* broker, const broker::TopicInfo& info,
                  v1::TopicDescription* out) {
  auto described = broker->DescribeTopic(info.name);
  ToProto(described.ok() ? *described : info, out);
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::CreateTopic(grpc::CallbackServerContext* context,
                                                    const v1::CreateTopicRequest* request,
                                                    v1::CreateTopicResponse* response) {
  UnaryCall call(edge_->metrics, "CreateTopic", context);
  if (auto s = ValidateTopic(request->name(), "name"); !s.ok()) return call.Finish(s);
  if (request->partitions() < 0) {
    return call.Finish(absl::InvalidArgumentError(
        absl::StrCat("partitions: must be >= 0 (0: default), got ", request->partitions())));
  }
  if (request->replication_factor() < 0) {
    return call.Finish(absl::InvalidArgumentError(absl::StrCat(
        "replication_factor: must be >= 0 (0: default), got ", request->replication_factor())));
  }
  auto config = FromProto(request->config());
  if (!config.ok()) return call.Finish(config.status());
  const int32_t partitions =
      request->partitions() == 0 ? edge_->options.default_partitions : request->partitions();
  // 0: the broker's default (in a cluster: every node).
  const int32_t replication = request->replication_factor();
  auto info = edge_->broker->CreateTopic(request->name(), partitions, replication, *config);
  LogAdmin("create", request->name(), info.status(), {{"partitions", std::to_string(partitions)}});
  if (!info.ok())
    return call.FinishOrRelay(info.status(), "/herald.v1.Admin/CreateTopic", *request, response);
  DescribeInto(edge_->broker, *info, response->mutable_topic());
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::DeleteTopic(grpc::CallbackServerContext* context,
                                                    const v1::DeleteTopicRequest* request,
                                                    v1::DeleteTopicResponse* response) {
  UnaryCall call(edge_->metrics, "DeleteTopic", context);
  if (auto s = ValidateTopic(request->name(), "name"); !s.ok()) return call.Finish(s);
  absl::Status s = edge_->broker->DeleteTopic(request->name());
  LogAdmin("delete", request->name(), s);
  if (s.ok()) edge_->metrics->ForgetTopic(request->name());
  return call.FinishOrRelay(s, "/herald.v1.Admin/DeleteTopic", *request, response);
}

grpc::ServerUnaryReactor* AdminService::ListTopics(grpc::CallbackServerContext* context,
                                                   const v1::ListTopicsRequest* request,
                                                   v1::ListTopicsResponse* response) {
  UnaryCall call(edge_->metrics, "ListTopics", context);
  for (const broker::TopicInfo& t : edge_->broker->ListTopics()) {
    auto* out = response->add_topics();
    out->set_name(t.name);
    out->set_partitions(t.partition_count);
    out->set_replication_factor(t.replication_factor);
  }
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::DescribeTopic(grpc::CallbackServerContext* context,
                                                      const v1::DescribeTopicRequest* request,
                                                      v1::DescribeTopicResponse* response) {
  UnaryCall call(edge_->metrics, "DescribeTopic", context);
  if (auto s = ValidateTopic(request->name(), "name"); !s.ok()) return call.Finish(s);
  auto info = edge_->broker->DescribeTopic(request->name());
  if (!info.ok()) return call.Finish(info.status());
  ToProto(*info, response->mutable_topic());
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::AlterTopicConfig(grpc::CallbackServerContext* context,
                                                         const v1::AlterTopicConfigRequest* request,
                                                         v1::AlterTopicConfigResponse* response) {
  UnaryCall call(edge_->metrics, "AlterTopicConfig", context);
  if (auto s = ValidateTopic(request->name(), "name"); !s.ok()) return call.Finish(s);
  auto update = FromProto(request->config());
  if (!update.ok()) return call.Finish(update.status());
  auto config = edge_->broker->AlterTopicConfig(request->name(), *update);
  LogAdmin("alter_config", request->name(), config.status());
  if (!config.ok())
    return call.FinishOrRelay(config.status(), "/herald.v1.Admin/AlterTopicConfig", *request,
                              response);
  ToProto(*config, response->mutable_config());
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::CreatePartitions(grpc::CallbackServerContext* context,
                                                         const v1::CreatePartitionsRequest* request,
                                                         v1::CreatePartitionsResponse* response) {
  UnaryCall call(edge_->metrics, "CreatePartitions", context);
  if (auto s = ValidateTopic(request->name(), "name"); !s.ok()) return call.Finish(s);
  if (request->total_partitions() <= 0) {
    return call.Finish(absl::InvalidArgumentError(
        absl::StrCat("total_partitions: must be > 0, got ", request->total_partitions())));
  }
  auto info = edge_->broker->CreatePartitions(request->name(), request->total_partitions());
  LogAdmin("create_partitions", request->name(), info.status(),
           {{"total_partitions", std::to_string(request->total_partitions())}});
  if (!info.ok())
    return call.FinishOrRelay(info.status(), "/herald.v1.Admin/CreatePartitions", *request,
                              response);
  DescribeInto(edge_->broker, *info, response->mutable_topic());
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::DescribeCluster(grpc::CallbackServerContext* context,
                                                        const v1::DescribeClusterRequest* request,
                                                        v1::DescribeClusterResponse* response) {
  UnaryCall call(edge_->metrics, "DescribeCluster", context);
  const broker::ClusterInfo info = edge_->broker->DescribeCluster();
  response->set_cluster_id(info.cluster_id);
  response->set_controller_id(info.controller_id);
  for (const broker::NodeInfo& n : info.nodes) {
    auto* b = response->add_brokers();
    b->set_id(n.id);
    b->set_address(n.address);
    b->set_rack(n.rack);
  }
  response->set_version(version_);
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::GroupsDisabled(grpc::CallbackServerContext* context,
                                                       const char* method) {
  UnaryCall call(edge_->metrics, method, context);
  return call.Finish(absl::UnimplementedError("consumer groups are not enabled yet"));
}

grpc::ServerUnaryReactor* AdminService::ListGroups(grpc::CallbackServerContext* context,
                                                   const v1::ListGroupsRequest*,
                                                   v1::ListGroupsResponse* response) {
  UnaryCall call(edge_->metrics, "ListGroups", context);
  for (const broker::GroupListing& g : edge_->broker->ListGroups()) {
    auto* out = response->add_groups();
    out->set_group(g.group);
    out->set_state(g.state);
    out->set_members(g.members);
  }
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::DescribeGroup(grpc::CallbackServerContext* context,
                                                      const v1::DescribeGroupRequest* request,
                                                      v1::DescribeGroupResponse* response) {
  UnaryCall call(edge_->metrics, "DescribeGroup", context);
  auto d = edge_->broker->DescribeGroup(request->group());
  if (!d.ok())
    return call.FinishOrRelay(d.status(), "/herald.v1.Admin/DescribeGroup", *request, response);
  response->set_group(d->group);
  response->set_state(d->state);
  response->set_generation(d->generation);
  response->set_strategy(d->strategy);
  for (const auto& m : d->members) {
    auto* out = response->add_members();
    out->set_member_id(m.member_id);
    out->set_instance_id(m.instance_id);
    out->set_client_id(m.client_id);
    out->set_host(m.host);
    for (const auto& p : m.assignment) {
      auto* tp = out->add_assignment();
      tp->set_topic(p.topic);
      tp->set_partition(p.partition);
    }
  }
  for (const auto& p : d->partitions) {
    auto* out = response->add_partitions();
    out->set_topic(p.topic);
    out->set_partition(p.partition);
    out->set_committed_offset(p.committed_offset);
    out->set_high_watermark(p.high_watermark);
    out->set_lag(p.lag);
    out->set_owner_member_id(p.owner_member_id);
  }
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* AdminService::DeleteGroup(grpc::CallbackServerContext* context,
                                                    const v1::DeleteGroupRequest* request,
                                                    v1::DeleteGroupResponse* response) {
  UnaryCall call(edge_->metrics, "DeleteGroup", context);
  return call.FinishOrRelay(edge_->broker->DeleteGroup(request->group()),
                            "/herald.v1.Admin/DeleteGroup", *request, response);
}

grpc::ServerUnaryReactor* AdminService::ResetGroupOffsets(
    grpc::CallbackServerContext* context, const v1::ResetGroupOffsetsRequest* request,
    v1::ResetGroupOffsetsResponse* response) {
  UnaryCall call(edge_->metrics, "ResetGroupOffsets", context);
  if (auto s = ValidateTopic(request->topic(), "topic"); !s.ok()) return call.Finish(s);
  broker::ResetOffsetsRequest r;
  r.group = request->group();
  r.topic = request->topic();
  r.dry_run = request->dry_run();
  for (int32_t p : request->partitions()) {
    if (auto s = ValidatePartition(p, "partitions"); !s.ok()) return call.Finish(s);
    r.partitions.push_back(p);
  }
  if (request->to_case() == v1::ResetGroupOffsetsRequest::kShiftBy) {
    r.shift_by = request->shift_by();
  } else if (request->to_case() == v1::ResetGroupOffsetsRequest::kPosition) {
    auto pos = FromProto(request->position(), broker::StartPosition::Latest(), false, "position");
    if (!pos.ok()) return call.Finish(pos.status());
    r.position = *pos;
  } else {
    return call.Finish(absl::InvalidArgumentError("set one of position or shift_by"));
  }
  auto reset = edge_->broker->ResetGroupOffsets(r);
  if (!reset.ok())
    return call.FinishOrRelay(reset.status(), "/herald.v1.Admin/ResetGroupOffsets", *request,
                              response);
  for (const broker::OffsetReset& o : *reset) {
    auto* out = response->add_offsets();
    out->set_topic(o.topic);
    out->set_partition(o.partition);
    out->set_previous_offset(o.previous_offset);
    out->set_new_offset(o.new_offset);
  }
  return call.Finish(absl::OkStatus());
}

}  // namespace herald::server
