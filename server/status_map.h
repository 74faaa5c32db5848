#pragma once
// The one place where absl::Status becomes a gRPC status (codes map 1:1,
// the message is kept), plus the in-band herald.v1.Error form of the same.
#include "absl/status/status.h"
#include "grpcpp/support/status.h"
#include "herald/v1/records.pb.h"

namespace herald::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

// Fills an in-band Error (code = gRPC code number, message kept).
void FillError(const absl::Status& status, v1::Error* error);

// The short upper-case name of a gRPC code ("NOT_FOUND"), for metric labels
// and logs.
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace herald::server
