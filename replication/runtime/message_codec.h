#pragma once
// Conversion between Raft messages (replication/types.h) and the wire format
// (proto/herald/internal/v1/raft.proto).
//
// Inbound messages come from the network and are untrusted: FromProto checks
// everything the core does not check itself (known enum values, non-zero
// node ids) and returns INVALID_ARGUMENT instead of guessing. The core's own
// Step validates the structure of appends (dense indexes, ordered terms).
#include "absl/status/statusor.h"
#include "herald/internal/v1/raft.pb.h"
#include "replication/runtime/transport.h"

namespace herald::replication {

void ToProto(const GroupMessage& in, herald::internal::v1::RaftMessage* out);
absl::StatusOr<GroupMessage> FromProto(const herald::internal::v1::RaftMessage& in);

}  // namespace herald::replication
