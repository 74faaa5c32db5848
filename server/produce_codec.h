#pragma once
// Hand-written decoding of herald.v1.ProduceRequest from the raw gRPC bytes.
//
// Why not protobuf: the request's `batch` (field 4) is stored exactly as
// sent. Parsing it into Record messages and serializing it again would cost
// an allocation per record and a full re-encode for nothing; the wire walker
// below keeps field 4 as raw bytes (the broker validates them with
// ValidateRecordBatchPayload anyway). See README.md for the trade-off.
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/support/byte_buffer.h"
#include "herald/v1/broker.pb.h"

namespace herald::server {

struct ParsedProduceRequest {
  uint64_t request_id = 0;
  std::string topic;
  std::optional<int32_t> partition;
  // Serialized RecordBatch (repeated occurrences of field 4 concatenated,
  // which is protobuf's merge semantics for a message of repeated fields).
  std::string batch;
  int32_t acks = 0;  // herald.v1.Acks, unchecked
  int64_t producer_id = 0;
  int32_t producer_epoch = 0;
  int32_t base_sequence = 0;
};

// INVALID_ARGUMENT for malformed bytes or wrong wire types of known fields.
// Unknown fields are skipped (forward compatibility).
absl::StatusOr<ParsedProduceRequest> ParseProduceRequest(absl::string_view bytes);

// The whole ByteBuffer as one contiguous string.
std::string ByteBufferToString(const grpc::ByteBuffer& buffer);

// Serializes a (small) protobuf message into a ByteBuffer.
grpc::ByteBuffer MessageToByteBuffer(const google::protobuf::MessageLite& message);

}  // namespace herald::server
