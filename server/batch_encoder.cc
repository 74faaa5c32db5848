#include "server/batch_encoder.h"

#include <string>
#include <utility>

#include "common/wire.h"

namespace herald::server {
namespace {

using wire::AppendTag;
using wire::AppendVarint;

// ConsumedBatch fields 2..8 (everything but the records).
std::string EncodeBatchMetadata(const broker::FetchedBatch& batch) {
  const BatchHeader& h = batch.header;
  std::string out;
  out.reserve(batch.topic.size() + 48);
  AppendTag(&out, 2, wire::kLengthDelimited);
  AppendVarint(&out, batch.topic.size());
  out.append(batch.topic);
  AppendTag(&out, 3, wire::kVarint);
  // int32/int64 negatives are sign-extended to 64 bits on the wire.
  AppendVarint(&out, static_cast<uint64_t>(static_cast<int64_t>(batch.partition)));
  AppendTag(&out, 4, wire::kVarint);
  AppendVarint(&out, static_cast<uint64_t>(h.base_offset));
  AppendTag(&out, 5, wire::kVarint);
  AppendVarint(&out, static_cast<uint64_t>(h.append_time_ms));
  AppendTag(&out, 6, wire::kVarint);
  // herald::TimestampType and herald.v1.TimestampType share values (1, 2).
  AppendVarint(&out, static_cast<uint64_t>(h.timestamp_type));
  AppendTag(&out, 7, wire::kVarint);
  AppendVarint(&out, static_cast<uint64_t>(h.leader_epoch));
  AppendTag(&out, 8, wire::kVarint);
  AppendVarint(&out, static_cast<uint64_t>(h.producer_id));
  return out;
}

void DeleteString(void* user_data) { delete static_cast<std::string*>(user_data); }

// A slice over the payload part of `stored` that owns the string.
grpc::Slice PayloadSlice(std::string stored) {
  auto* owned = new std::string(std::move(stored));
  const size_t skip = owned->size() >= kBatchHeaderBytes ? kBatchHeaderBytes : owned->size();
  return grpc::Slice(owned->data() + skip, owned->size() - skip, &DeleteString, owned);
}

size_t PayloadSize(const broker::FetchedBatch& batch) {
  return batch.stored.size() >= kBatchHeaderBytes ? batch.stored.size() - kBatchHeaderBytes : 0;
}

// Appends ConsumedBatch entries (as field 1 of the enclosing message) to
// `slices`, returning the number of bytes they take.
size_t AppendConsumedBatches(std::vector<broker::FetchedBatch>* batches,
                             std::vector<grpc::Slice>* slices) {
  size_t total = 0;
  for (broker::FetchedBatch& batch : *batches) {
    std::string prefix;
    const std::string metadata = EncodeBatchMetadata(batch);
    const size_t body = metadata.size() + PayloadSize(batch);
    AppendTag(&prefix, 1, wire::kLengthDelimited);
    AppendVarint(&prefix, body);
    prefix.append(metadata);
    total += prefix.size() + PayloadSize(batch);
    slices->emplace_back(prefix);  // small: copied
    slices->push_back(PayloadSlice(std::move(batch.stored)));
  }
  return total;
}

}  // namespace

grpc::ByteBuffer EncodeSubscribeBatches(std::vector<broker::FetchedBatch> batches) {
  std::vector<grpc::Slice> slices;
  slices.reserve(2 * batches.size() + 1);
  slices.emplace_back();  // placeholder for the two outer prefixes
  const size_t record_batches_bytes = AppendConsumedBatches(&batches, &slices);
  std::string outer;
  AppendTag(&outer, 1, wire::kLengthDelimited);  // SubscribeResponse.batches
  AppendVarint(&outer, record_batches_bytes);
  slices[0] = grpc::Slice(outer);
  return grpc::ByteBuffer(slices.data(), slices.size());
}

grpc::ByteBuffer EncodeFetchResponse(broker::FetchResult result) {
  std::vector<grpc::Slice> slices;
  slices.reserve(2 * result.batches.size() + 1);
  AppendConsumedBatches(&result.batches, &slices);
  std::string tail;
  AppendTag(&tail, 2, wire::kVarint);
  AppendVarint(&tail, static_cast<uint64_t>(result.log_start_offset));
  AppendTag(&tail, 3, wire::kVarint);
  AppendVarint(&tail, static_cast<uint64_t>(result.high_watermark));
  slices.emplace_back(tail);
  return grpc::ByteBuffer(slices.data(), slices.size());
}

int64_t PayloadBytes(const std::vector<broker::FetchedBatch>& batches) {
  int64_t total = 0;
  for (const auto& b : batches) total += static_cast<int64_t>(PayloadSize(b));
  return total;
}

}  // namespace herald::server
