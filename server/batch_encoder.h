#pragma once
// Zero-copy encoding of consumed batches.
//
// A stored batch is header || payload where payload is the producer's
// serialized RecordBatch, i.e. a run of field-1 Record entries. ConsumedBatch
// also keeps its records in field 1, so a ConsumedBatch is encoded as
//   [field-1 tag][length][metadata fields 2..8][payload bytes as stored]
// and the payload is handed to gRPC as a slice that owns the std::string the
// broker read: no record is parsed, re-encoded or copied.
#include <vector>

#include "broker/broker.h"
#include "grpcpp/support/byte_buffer.h"

namespace herald::server {

// SubscribeResponse{batches: RecordBatches{batches: ...}}. Consumes `batches`.
grpc::ByteBuffer EncodeSubscribeBatches(std::vector<broker::FetchedBatch> batches);

// FetchResponse{batches, log_start_offset, high_watermark}. Consumes `result`.
grpc::ByteBuffer EncodeFetchResponse(broker::FetchResult result);

// Bytes of the payloads (records) in `batches`, for metrics.
int64_t PayloadBytes(const std::vector<broker::FetchedBatch>& batches);

}  // namespace herald::server
