#include "herald/client/admin.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "herald/v1/admin.grpc.pb.h"
#include "herald/v1/broker.grpc.pb.h"
#include "src/grpc_util.h"

namespace herald::client {
namespace {

using internal::FromGrpc;

absl::Status ParseInt(const std::string& key, const std::string& value, int64_t* out) {
  if (!absl::SimpleAtoi(value, out)) {
    return absl::InvalidArgumentError(
        absl::StrCat("config ", key, ": \"", value, "\" is not an integer"));
  }
  return absl::OkStatus();
}

absl::Status ApplyConfigEntry(const std::string& key, const std::string& value,
                              v1::TopicConfig* config) {
  int64_t number = 0;
  if (key == "retention_ms" || key == "retention.ms") {
    if (auto s = ParseInt(key, value, &number); !s.ok()) return s;
    config->set_retention_ms(number);
  } else if (key == "retention_bytes" || key == "retention.bytes") {
    if (auto s = ParseInt(key, value, &number); !s.ok()) return s;
    config->set_retention_bytes(number);
  } else if (key == "max_message_bytes" || key == "max.message.bytes") {
    if (auto s = ParseInt(key, value, &number); !s.ok()) return s;
    if (number < 0 || number > INT32_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("config ", key, ": out of range"));
    }
    config->set_max_message_bytes(static_cast<int32_t>(number));
  } else if (key == "timestamp_type" || key == "message.timestamp.type") {
    const std::string lower = absl::AsciiStrToLower(value);
    if (lower == "create_time" || lower == "createtime") {
      config->set_timestamp_type(v1::TIMESTAMP_TYPE_CREATE_TIME);
    } else if (lower == "log_append_time" || lower == "logappendtime") {
      config->set_timestamp_type(v1::TIMESTAMP_TYPE_LOG_APPEND_TIME);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("config timestamp_type: \"", value,
                                                     "\" is not create_time or log_append_time"));
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown config key \"", key,
        "\" (known: retention_ms, retention_bytes, max_message_bytes, timestamp_type)"));
  }
  return absl::OkStatus();
}

class AdminImpl final : public Admin {
 public:
  explicit AdminImpl(AdminOptions options)
      : options_(std::move(options)),
        channel_(internal::MakeChannel(options_.connection)),
        admin_(v1::Admin::NewStub(channel_)),
        broker_(v1::Broker::NewStub(channel_)) {}

  absl::StatusOr<v1::TopicDescription> CreateTopic(const std::string& name, int32_t partitions,
                                                   int32_t replication_factor,
                                                   const v1::TopicConfig& config) override {
    v1::CreateTopicRequest request;
    request.set_name(name);
    request.set_partitions(partitions);
    request.set_replication_factor(replication_factor);
    *request.mutable_config() = config;
    v1::CreateTopicResponse response;
    auto context = NewContext();
    if (auto s = FromGrpc(admin_->CreateTopic(context.get(), request, &response)); !s.ok()) {
      return s;
    }
    return response.topic();
  }

  absl::Status DeleteTopic(const std::string& name) override {
    v1::DeleteTopicRequest request;
    request.set_name(name);
    v1::DeleteTopicResponse response;
    auto context = NewContext();
    return FromGrpc(admin_->DeleteTopic(context.get(), request, &response));
  }

  absl::StatusOr<std::vector<v1::ListTopicsResponse::Topic>> ListTopics() override {
    v1::ListTopicsResponse response;
    auto context = NewContext();
    if (auto s = FromGrpc(admin_->ListTopics(context.get(), {}, &response)); !s.ok()) return s;
    return std::vector<v1::ListTopicsResponse::Topic>(response.topics().begin(),
                                                      response.topics().end());
  }

  absl::StatusOr<v1::TopicDescription> DescribeTopic(const std::string& name) override {
    v1::DescribeTopicRequest request;
    request.set_name(name);
    v1::DescribeTopicResponse response;
    auto context = NewContext();
    if (auto s = FromGrpc(admin_->DescribeTopic(context.get(), request, &response)); !s.ok()) {
      return s;
    }
    return response.topic();
  }

  absl::StatusOr<v1::TopicConfig> AlterTopicConfig(const std::string& name,
                                                   const v1::TopicConfig& config) override {
    v1::AlterTopicConfigRequest request;
    request.set_name(name);
    *request.mutable_config() = config;
    v1::AlterTopicConfigResponse response;
    auto context = NewContext();
    if (auto s = FromGrpc(admin_->AlterTopicConfig(context.get(), request, &response)); !s.ok()) {
      return s;
    }
    return response.config();
  }

  absl::StatusOr<v1::TopicDescription> CreatePartitions(const std::string& name,
                                                        int32_t total_partitions) override {
    v1::CreatePartitionsRequest request;
    request.set_name(name);
    request.set_total_partitions(total_partitions);
    v1::CreatePartitionsResponse response;
    auto context = NewContext();
    if (auto s = FromGrpc(admin_->CreatePartitions(context.get(), request, &response)); !s.ok()) {
      return s;
    }
    return response.topic();
  }

  absl::StatusOr<std::vector<PartitionOffsets>> ListOffsets(const std::string& topic,
                                                            const std::vector<int32_t>& partitions,
                                                            const StartPosition& position) override;
  absl::Status CommitOffsets(const std::string& group,
                             const std::vector<PartitionOffset>& offsets) override;
  absl::StatusOr<std::vector<PartitionOffset>> FetchCommittedOffsets(
      const std::string& group, const std::vector<TopicPartition>& partitions) override;

  absl::StatusOr<v1::DescribeClusterResponse> DescribeCluster() override {
    v1::DescribeClusterResponse response;
    auto context = NewContext();
    if (auto s = FromGrpc(admin_->DescribeCluster(context.get(), {}, &response)); !s.ok()) {
      return s;
    }
    return response;
  }

  absl::StatusOr<v1::ListGroupsResponse> ListGroups() override {
    return Call(&v1::Admin::Stub::ListGroups, v1::ListGroupsRequest{});
  }
  absl::StatusOr<v1::DescribeGroupResponse> DescribeGroup(const std::string& group) override {
    v1::DescribeGroupRequest request;
    request.set_group(group);
    return Call(&v1::Admin::Stub::DescribeGroup, request);
  }
  absl::Status DeleteGroup(const std::string& group) override {
    v1::DeleteGroupRequest request;
    request.set_group(group);
    return Call(&v1::Admin::Stub::DeleteGroup, request).status();
  }
  absl::StatusOr<v1::ResetGroupOffsetsResponse> ResetGroupOffsets(
      const v1::ResetGroupOffsetsRequest& request) override {
    return Call(&v1::Admin::Stub::ResetGroupOffsets, request);
  }

 private:
  // One unary Admin call with the configured deadline.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(grpc::Status (v1::Admin::Stub::*method)(grpc::ClientContext*,
                                                                        const Request&, Response*),
                                const Request& request) {
    Response response;
    auto context = NewContext();
    if (auto s = FromGrpc((admin_.get()->*method)(context.get(), request, &response)); !s.ok()) {
      return s;
    }
    return response;
  }

  std::unique_ptr<grpc::ClientContext> NewContext() const {
    auto context = std::make_unique<grpc::ClientContext>();
    internal::SetDeadline(context.get(), options_.connection.rpc_timeout_ms);
    return context;
  }

  const AdminOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Broker::Stub> broker_;
};

absl::StatusOr<std::vector<PartitionOffsets>> AdminImpl::ListOffsets(
    const std::string& topic, const std::vector<int32_t>& partitions,
    const StartPosition& position) {
  v1::ListOffsetsRequest request;
  request.set_topic(topic);
  for (int32_t p : partitions) request.add_partitions(p);
  *request.mutable_position() = internal::ToProto(position);
  v1::ListOffsetsResponse response;
  auto context = NewContext();
  if (auto s = FromGrpc(broker_->ListOffsets(context.get(), request, &response)); !s.ok()) {
    return s;
  }
  std::vector<PartitionOffsets> out;
  for (const auto& p : response.partitions()) {
    out.push_back(
        {p.partition(), p.offset(), p.timestamp_ms(), p.log_start_offset(), p.high_watermark()});
  }
  return out;
}

absl::Status AdminImpl::CommitOffsets(const std::string& group,
                                      const std::vector<PartitionOffset>& offsets) {
  v1::CommitOffsetsRequest request;
  request.set_group(group);
  for (const PartitionOffset& o : offsets) {
    v1::PartitionOffset* out = request.add_offsets();
    out->set_topic(o.topic);
    out->set_partition(o.partition);
    out->set_offset(o.offset);
    out->set_metadata(o.metadata);
  }
  v1::CommitOffsetsResponse response;
  auto context = NewContext();
  if (auto s = FromGrpc(broker_->CommitOffsets(context.get(), request, &response)); !s.ok()) {
    return s;
  }
  for (const auto& result : response.results()) {
    if (result.has_error() && result.error().code() != 0) {
      return absl::Status(
          static_cast<absl::StatusCode>(result.error().code()),
          absl::StrCat(result.topic(), "/", result.partition(), ": ", result.error().message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<PartitionOffset>> AdminImpl::FetchCommittedOffsets(
    const std::string& group, const std::vector<TopicPartition>& partitions) {
  v1::FetchCommittedOffsetsRequest request;
  request.set_group(group);
  for (const TopicPartition& tp : partitions) {
    v1::TopicPartition* out = request.add_partitions();
    out->set_topic(tp.topic);
    out->set_partition(tp.partition);
  }
  v1::FetchCommittedOffsetsResponse response;
  auto context = NewContext();
  if (auto s = FromGrpc(broker_->FetchCommittedOffsets(context.get(), request, &response));
      !s.ok()) {
    return s;
  }
  std::vector<PartitionOffset> out;
  for (const auto& c : response.offsets()) {
    out.push_back({c.topic(), c.partition(), c.offset(), c.metadata()});
  }
  return out;
}

}  // namespace

absl::StatusOr<v1::TopicConfig> ParseTopicConfig(
    const std::map<std::string, std::string>& entries) {
  v1::TopicConfig config;
  for (const auto& [key, value] : entries) {
    if (auto s = ApplyConfigEntry(key, value, &config); !s.ok()) return s;
  }
  return config;
}

absl::StatusOr<std::unique_ptr<Admin>> Admin::Create(AdminOptions options) {
  if (options.connection.brokers.empty()) {
    return absl::InvalidArgumentError("no brokers given");
  }
  return std::unique_ptr<Admin>(new AdminImpl(std::move(options)));
}

}  // namespace herald::client
