#pragma once
// Request validation and protobuf <-> broker-core conversions. Every error
// is INVALID_ARGUMENT with a message naming the field and the bad value.
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "broker/broker.h"
#include "herald/v1/admin.pb.h"
#include "herald/v1/broker.pb.h"

namespace herald::server {

absl::Status ValidatePartition(int32_t partition, absl::string_view field = "partition");
absl::Status ValidateTopic(absl::string_view topic, absl::string_view field = "topic");

// `when_unset` is used when no oneof case is set. kCommitted is accepted only
// with allow_committed (subscriptions), not for ListOffsets.
absl::StatusOr<broker::StartPosition> FromProto(const v1::StartPosition& position,
                                                broker::StartPosition when_unset,
                                                bool allow_committed, absl::string_view field);

absl::StatusOr<broker::Acks> AcksFromProto(int32_t acks);

absl::StatusOr<broker::TopicConfigUpdate> FromProto(const v1::TopicConfig& config);

void ToProto(const broker::TopicConfig& config, v1::TopicConfig* out);
void ToProto(const broker::TopicInfo& info, v1::TopicDescription* out);

// SubscribeStart -> SubscribeOptions (validated).
absl::StatusOr<broker::SubscribeOptions> FromProto(const v1::SubscribeStart& start);

}  // namespace herald::server
