#include "server/convert.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/names.h"

namespace herald::server {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::StatusOr<broker::StartPosition> FromNamed(int32_t named, broker::StartPosition when_unset,
                                                bool allow_committed, absl::string_view field) {
  switch (named) {
    case v1::StartPosition::NAMED_UNSPECIFIED:
      return when_unset;
    case v1::StartPosition::NAMED_EARLIEST:
      return broker::StartPosition::Earliest();
    case v1::StartPosition::NAMED_LATEST:
      return broker::StartPosition::Latest();
    case v1::StartPosition::NAMED_COMMITTED:
      if (!allow_committed) return Invalid(field, "NAMED_COMMITTED is not valid here");
      return broker::StartPosition{broker::StartPosition::Kind::kCommitted, 0};
    default:
      return Invalid(field, absl::StrCat("unknown named position ", named));
  }
}

}  // namespace

absl::Status ValidatePartition(int32_t partition, absl::string_view field) {
  if (partition < 0) return Invalid(field, absl::StrCat("must be >= 0, got ", partition));
  return absl::OkStatus();
}

absl::Status ValidateTopic(absl::string_view topic, absl::string_view field) {
  absl::Status s = ValidateTopicName(topic);
  if (s.ok()) return s;
  return Invalid(field, s.message());
}

absl::StatusOr<broker::StartPosition> FromProto(const v1::StartPosition& position,
                                                broker::StartPosition when_unset,
                                                bool allow_committed, absl::string_view field) {
  switch (position.position_case()) {
    case v1::StartPosition::POSITION_NOT_SET:
      return when_unset;
    case v1::StartPosition::kNamed:
      return FromNamed(position.named(), when_unset, allow_committed, field);
    case v1::StartPosition::kOffset:
      if (position.offset() < 0) {
        return Invalid(field, absl::StrCat("offset must be >= 0, got ", position.offset()));
      }
      return broker::StartPosition::AtOffset(position.offset());
    case v1::StartPosition::kTimestampMs:
      if (position.timestamp_ms() < 0) {
        return Invalid(field,
                       absl::StrCat("timestamp_ms must be >= 0, got ", position.timestamp_ms()));
      }
      return broker::StartPosition::AtTime(position.timestamp_ms());
  }
  return Invalid(field, "unknown position kind");
}

absl::StatusOr<broker::Acks> AcksFromProto(int32_t acks) {
  switch (acks) {
    case v1::ACKS_UNSPECIFIED:
    case v1::ACKS_ALL:
      return broker::Acks::kAll;
    case v1::ACKS_LEADER:
      return broker::Acks::kLeader;
    case v1::ACKS_NONE:
      return broker::Acks::kNone;
    default:
      return Invalid("acks", absl::StrCat("unknown value ", acks));
  }
}

absl::StatusOr<broker::TopicConfigUpdate> FromProto(const v1::TopicConfig& config) {
  broker::TopicConfigUpdate u;
  if (config.has_retention_ms()) {
    if (config.retention_ms() < -1) return Invalid("config.retention_ms", "must be -1 or >= 0");
    u.retention_ms = config.retention_ms();
  }
  if (config.has_retention_bytes()) {
    if (config.retention_bytes() < -1) {
      return Invalid("config.retention_bytes", "must be -1 or >= 0");
    }
    u.retention_bytes = config.retention_bytes();
  }
  if (config.has_max_message_bytes()) {
    if (config.max_message_bytes() <= 0) return Invalid("config.max_message_bytes", "must be > 0");
    u.max_message_bytes = config.max_message_bytes();
  }
  if (config.has_timestamp_type()) {
    switch (config.timestamp_type()) {
      case v1::TIMESTAMP_TYPE_UNSPECIFIED:
      case v1::TIMESTAMP_TYPE_CREATE_TIME:
        u.timestamp_type = TimestampType::kCreateTime;
        break;
      case v1::TIMESTAMP_TYPE_LOG_APPEND_TIME:
        u.timestamp_type = TimestampType::kLogAppendTime;
        break;
      default:
        return Invalid("config.timestamp_type",
                       absl::StrCat("unknown value ", config.timestamp_type()));
    }
  }
  return u;
}

void ToProto(const broker::TopicConfig& config, v1::TopicConfig* out) {
  out->set_retention_ms(config.retention_ms);
  out->set_retention_bytes(config.retention_bytes);
  out->set_max_message_bytes(config.max_message_bytes);
  out->set_timestamp_type(config.timestamp_type == TimestampType::kLogAppendTime
                              ? v1::TIMESTAMP_TYPE_LOG_APPEND_TIME
                              : v1::TIMESTAMP_TYPE_CREATE_TIME);
}

void ToProto(const broker::TopicInfo& info, v1::TopicDescription* out) {
  out->set_name(info.name);
  out->set_topic_id(std::to_string(info.topic_id));
  out->set_replication_factor(info.replication_factor);
  ToProto(info.config, out->mutable_config());
  for (const broker::PartitionInfo& p : info.partitions) {
    v1::PartitionDescription* d = out->add_partitions();
    d->set_partition(p.partition);
    d->set_log_start_offset(p.log_start_offset);
    d->set_high_watermark(p.high_watermark);
    d->set_size_bytes(p.size_bytes);
    d->set_leader(p.leader);
    for (int32_t r : p.replicas) d->add_replicas(r);
    for (int32_t r : p.in_sync_replicas) d->add_in_sync_replicas(r);
    d->set_leader_epoch(p.leader_epoch);
  }
}

absl::StatusOr<broker::SubscribeOptions> FromProto(const v1::SubscribeStart& start) {
  const bool group = !start.group().empty();
  if (!group && !start.topic_pattern().empty()) {
    return Invalid("start.topic_pattern", "needs a group");
  }
  if (group && !start.partitions().empty()) {
    return Invalid("start.partitions", "a group assigns partitions; name topics or a pattern");
  }
  if (start.partitions().empty() && start.topics().empty() && start.topic_pattern().empty()) {
    return Invalid("start", "name at least one of partitions or topics");
  }
  broker::SubscribeOptions options;
  if (group) {
    options.group = start.group();
    options.instance_id = start.instance_id();
    options.client_id = start.client_id();
    options.topic_pattern = start.topic_pattern();
    options.session_timeout_ms = start.session_timeout_ms();
    if (start.session_timeout_ms() < 0) return Invalid("start.session_timeout_ms", "must be >= 0");
    switch (start.strategy()) {
      case v1::ASSIGNMENT_STRATEGY_STICKY:
        options.strategy = broker::GroupStrategy::kSticky;
        break;
      case v1::ASSIGNMENT_STRATEGY_RANGE:
        options.strategy = broker::GroupStrategy::kRange;
        break;
      case v1::ASSIGNMENT_STRATEGY_ROUND_ROBIN:
        options.strategy = broker::GroupStrategy::kRoundRobin;
        break;
      default:
        break;
    }
    options.reset = start.reset() == v1::StartPosition::NAMED_EARLIEST
                        ? broker::StartPosition::Earliest()
                        : broker::StartPosition::Latest();
    if (start.reset() == v1::StartPosition::NAMED_COMMITTED) {
      return Invalid("start.reset", "must be EARLIEST or LATEST");
    }
  }
  auto def = FromProto(start.start(), broker::StartPosition::Latest(), false, "start.start");
  if (!def.ok()) return def.status();
  options.start = *def;
  for (const auto& p : start.partitions()) {
    if (auto s = ValidateTopic(p.topic(), "start.partitions.topic"); !s.ok()) return s;
    if (auto s = ValidatePartition(p.partition(), "start.partitions.partition"); !s.ok()) return s;
    broker::SubscribeOptions::PartitionStart ps{p.topic(), p.partition(), std::nullopt};
    if (p.has_position()) {
      auto pos = FromProto(p.position(), options.start, false, "start.partitions.position");
      if (!pos.ok()) return pos.status();
      ps.position = *pos;
    }
    options.partitions.push_back(std::move(ps));
  }
  for (const std::string& t : start.topics()) {
    if (auto s = ValidateTopic(t, "start.topics"); !s.ok()) return s;
    options.topics.push_back(t);
  }
  if (start.credit().records() < 0 || start.credit().bytes() < 0) {
    return Invalid("start.credit", "records and bytes must be >= 0");
  }
  if (start.max_response_bytes() < 0) return Invalid("start.max_response_bytes", "must be >= 0");
  options.max_delivery_bytes = start.max_response_bytes();
  options.initial_credit_records = start.credit().records();
  options.initial_credit_bytes = start.credit().bytes();
  return options;
}

}  // namespace herald::server
