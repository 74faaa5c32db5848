#include "server/broker_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "server/batch_encoder.h"
#include "server/convert.h"
#include "server/produce_codec.h"
#include "server/produce_reactor.h"
#include "server/subscribe_reactor.h"
#include "server/unary.h"

namespace herald::server {
namespace {

constexpr int32_t kMaxFetchBytes = 32 << 20;

absl::StatusOr<broker::FetchRequest> ToFetchRequest(const v1::FetchRequest& r,
                                                    const EdgeOptions& options) {
  if (auto s = ValidateTopic(r.topic()); !s.ok()) return s;
  if (auto s = ValidatePartition(r.partition()); !s.ok()) return s;
  if (r.offset() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("offset: must be >= 0, got ", r.offset()));
  }
  if (r.max_bytes() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("max_bytes: must be >= 0, got ", r.max_bytes()));
  }
  if (r.max_wait_ms() < 0 || r.max_wait_ms() > options.max_fetch_wait_ms) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_wait_ms: must be in [0, ", options.max_fetch_wait_ms, "], got ", r.max_wait_ms()));
  }
  broker::FetchRequest out;
  out.topic = r.topic();
  out.partition = r.partition();
  out.offset = r.offset();
  // Clamped so one Fetch cannot make the server buffer gigabytes (the broker
  // still returns at least one whole batch).
  out.max_bytes = r.max_bytes() == 0 ? (1 << 20) : std::min(r.max_bytes(), kMaxFetchBytes);
  out.max_wait_ms = r.max_wait_ms();
  return out;
}

absl::Status ValidateGroup(const std::string& group) {
  absl::Status s = ValidateGroupName(group);
  if (s.ok()) return s;
  return absl::InvalidArgumentError(absl::StrCat("group: ", s.message()));
}

absl::StatusOr<std::vector<broker::CommittedOffset>> ToCommits(const v1::CommitOffsetsRequest& r) {
  if (auto s = ValidateGroup(r.group()); !s.ok()) return s;
  if (r.generation() < 0) return absl::InvalidArgumentError("generation: must be >= 0");
  if (r.offsets().empty()) return absl::InvalidArgumentError("offsets: must not be empty");
  std::vector<broker::CommittedOffset> out;
  for (const v1::PartitionOffset& o : r.offsets()) {
    if (auto s = ValidateTopic(o.topic(), "offsets.topic"); !s.ok()) return s;
    if (auto s = ValidatePartition(o.partition(), "offsets.partition"); !s.ok()) return s;
    if (o.offset() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("offsets.offset: must be >= 0, got ", o.offset()));
    }
    out.push_back({o.topic(), o.partition(), o.offset(), o.metadata()});
  }
  return out;
}

}  // namespace

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* BrokerService::Produce(
    grpc::CallbackServerContext* context) {
  return new ProduceReactor(edge_, context);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* BrokerService::Subscribe(
    grpc::CallbackServerContext* context) {
  return new SubscribeReactor(edge_, context);
}

grpc::ServerUnaryReactor* BrokerService::Fetch(grpc::CallbackServerContext* context,
                                               const grpc::ByteBuffer* request,
                                               grpc::ByteBuffer* response) {
  UnaryCall call(edge_->metrics, "Fetch", context);
  v1::FetchRequest parsed;
  if (!parsed.ParseFromString(ByteBufferToString(*request))) {
    return call.Finish(absl::InvalidArgumentError("malformed FetchRequest"));
  }
  auto fetch = ToFetchRequest(parsed, edge_->options);
  if (!fetch.ok()) return call.Finish(fetch.status());
  Metrics* metrics = edge_->metrics;
  // The reactor and `response` stay valid until Finish, however long the
  // broker's long poll takes (bounded by max_wait_ms).
  edge_->broker->Fetch(*fetch, [call, response, metrics, topic = fetch->topic](
                                   absl::StatusOr<broker::FetchResult> result) mutable {
    if (!result.ok()) {
      call.Finish(result.status());
      return;
    }
    int64_t records = 0;
    for (const auto& b : result->batches) records += b.header.record_count;
    metrics->OnConsumed(topic, records, PayloadBytes(result->batches));
    *response = EncodeFetchResponse(std::move(*result));
    call.Finish(absl::OkStatus());
  });
  return call.reactor();
}

grpc::ServerUnaryReactor* BrokerService::ListOffsets(grpc::CallbackServerContext* context,
                                                     const v1::ListOffsetsRequest* request,
                                                     v1::ListOffsetsResponse* response) {
  UnaryCall call(edge_->metrics, "ListOffsets", context);
  if (auto s = ValidateTopic(request->topic()); !s.ok()) return call.Finish(s);
  std::vector<int32_t> partitions;
  for (int32_t p : request->partitions()) {
    if (auto s = ValidatePartition(p, "partitions"); !s.ok()) return call.Finish(s);
    partitions.push_back(p);
  }
  auto position =
      FromProto(request->position(), broker::StartPosition::Latest(), false, "position");
  if (!position.ok()) return call.Finish(position.status());
  auto listed = edge_->broker->ListOffsets(request->topic(), partitions, *position);
  if (!listed.ok()) return call.Finish(listed.status());
  for (const broker::ListedOffset& l : *listed) {
    auto* out = response->add_partitions();
    out->set_partition(l.partition);
    out->set_offset(l.offset);
    out->set_timestamp_ms(l.timestamp_ms);
    out->set_log_start_offset(l.log_start_offset);
    out->set_high_watermark(l.high_watermark);
  }
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* BrokerService::CommitOffsets(grpc::CallbackServerContext* context,
                                                       const v1::CommitOffsetsRequest* request,
                                                       v1::CommitOffsetsResponse* response) {
  UnaryCall call(edge_->metrics, "CommitOffsets", context);
  auto commits = ToCommits(*request);
  if (!commits.ok()) return call.Finish(commits.status());
  const std::vector<absl::Status> results = edge_->broker->CommitGroupOffsets(
      request->group(), request->member_id(), request->generation(), *commits);
  // Cluster mode: commits run on the controller (every result says so).
  if (!results.empty() && RelayTarget(results[0], context).has_value()) {
    return call.FinishOrRelay(results[0], "/herald.v1.Broker/CommitOffsets", *request, response);
  }
  for (size_t i = 0; i < commits->size(); ++i) {
    auto* r = response->add_results();
    r->set_topic((*commits)[i].topic);
    r->set_partition((*commits)[i].partition);
    const absl::Status status =
        i < results.size() ? results[i] : absl::InternalError("broker returned no result");
    if (!status.ok()) FillError(status, r->mutable_error());
  }
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* BrokerService::FetchCommittedOffsets(
    grpc::CallbackServerContext* context, const v1::FetchCommittedOffsetsRequest* request,
    v1::FetchCommittedOffsetsResponse* response) {
  UnaryCall call(edge_->metrics, "FetchCommittedOffsets", context);
  if (auto s = ValidateGroup(request->group()); !s.ok()) return call.Finish(s);
  std::vector<std::pair<std::string, int32_t>> partitions;
  for (const v1::TopicPartition& tp : request->partitions()) {
    if (auto s = ValidateTopic(tp.topic(), "partitions.topic"); !s.ok()) return call.Finish(s);
    if (auto s = ValidatePartition(tp.partition(), "partitions.partition"); !s.ok()) {
      return call.Finish(s);
    }
    partitions.emplace_back(tp.topic(), tp.partition());
  }
  auto committed = edge_->broker->FetchCommittedOffsets(request->group(), partitions);
  if (!committed.ok()) return call.Finish(committed.status());
  for (const broker::CommittedOffset& c : *committed) {
    auto* out = response->add_offsets();
    out->set_topic(c.topic);
    out->set_partition(c.partition);
    out->set_offset(c.offset);
    out->set_metadata(c.metadata);
  }
  return call.Finish(absl::OkStatus());
}

grpc::ServerUnaryReactor* BrokerService::InitProducer(grpc::CallbackServerContext* context,
                                                      const v1::InitProducerRequest* request,
                                                      v1::InitProducerResponse* response) {
  UnaryCall call(edge_->metrics, "InitProducer", context);
  auto id = edge_->broker->InitProducer(request->transactional_id());
  if (!id.ok()) return call.Finish(id.status());
  response->set_producer_id(id->producer_id);
  response->set_producer_epoch(id->epoch);
  return call.Finish(absl::OkStatus());
}

}  // namespace herald::server
