#include "server/produce_codec.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/wire.h"

namespace herald::server {
namespace {

absl::Status WrongType(const wire::Field& f) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed ProduceRequest: field ", f.number, " has wire type ", f.type));
}

absl::Status ApplyField(const wire::Field& f, ParsedProduceRequest* out) {
  const bool is_varint = f.type == wire::kVarint;
  const bool is_bytes = f.type == wire::kLengthDelimited;
  switch (f.number) {
    case 1:
      if (!is_varint) return WrongType(f);
      out->request_id = f.varint;
      return absl::OkStatus();
    case 2:
      if (!is_bytes) return WrongType(f);
      out->topic.assign(f.body.data(), f.body.size());
      return absl::OkStatus();
    case 3:
      if (!is_varint) return WrongType(f);
      out->partition = static_cast<int32_t>(f.varint);  // int32 truncation, as protobuf does
      return absl::OkStatus();
    case 4:
      if (!is_bytes) return WrongType(f);
      out->batch.append(f.body.data(), f.body.size());
      return absl::OkStatus();
    case 5:
    case 7:
    case 8:
      if (!is_varint) return WrongType(f);
      if (f.number == 5) out->acks = static_cast<int32_t>(f.varint);
      if (f.number == 7) out->producer_epoch = static_cast<int32_t>(f.varint);
      if (f.number == 8) out->base_sequence = static_cast<int32_t>(f.varint);
      return absl::OkStatus();
    case 6:
      if (!is_varint) return WrongType(f);
      out->producer_id = static_cast<int64_t>(f.varint);
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<ParsedProduceRequest> ParseProduceRequest(absl::string_view bytes) {
  ParsedProduceRequest out;
  while (!bytes.empty()) {
    wire::Field f;
    if (!wire::ReadField(&bytes, &f)) {
      return absl::InvalidArgumentError("malformed ProduceRequest: bad protobuf encoding");
    }
    if (auto s = ApplyField(f, &out); !s.ok()) return s;
  }
  return out;
}

std::string ByteBufferToString(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

grpc::ByteBuffer MessageToByteBuffer(const google::protobuf::MessageLite& message) {
  grpc::Slice slice(message.SerializeAsString());
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace herald::server
