#include "src/grpc_util.h"

#include <string>

#include "absl/strings/str_split.h"

namespace herald::client::internal {

std::shared_ptr<grpc::Channel> MakeChannel(const ConnectionOptions& options) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options.keepalive_time_ms));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options.keepalive_timeout_ms));
  // Idle streams (a consumer waiting at the end of a log) must stay checked.
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  // Reconnect quickly after a broker restart; gRPC's default backoff starts at 1 s.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  const std::string first =
      std::string(*absl::StrSplit(options.brokers, ',', absl::SkipWhitespace()).begin());
  return grpc::CreateCustomChannel(first, grpc::InsecureChannelCredentials(), args);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::Status FromError(const v1::Error& error) {
  return absl::Status(static_cast<absl::StatusCode>(error.code()), error.message());
}

v1::StartPosition ToProto(const StartPosition& position) {
  v1::StartPosition out;
  switch (position.kind) {
    case StartPosition::Kind::kEarliest:
      out.set_named(v1::StartPosition::NAMED_EARLIEST);
      break;
    case StartPosition::Kind::kLatest:
      out.set_named(v1::StartPosition::NAMED_LATEST);
      break;
    case StartPosition::Kind::kCommitted:
      out.set_named(v1::StartPosition::NAMED_COMMITTED);
      break;
    case StartPosition::Kind::kOffset:
      out.set_offset(position.value);
      break;
    case StartPosition::Kind::kTimestamp:
      out.set_timestamp_ms(position.value);
      break;
  }
  return out;
}

v1::Acks ToProto(Acks acks) {
  switch (acks) {
    case Acks::kNone:
      return v1::ACKS_NONE;
    case Acks::kLeader:
      return v1::ACKS_LEADER;
    case Acks::kAll:
      break;
  }
  return v1::ACKS_ALL;
}

void ToProto(const Record& record, v1::Record* out) {
  out->set_key(record.key);
  out->set_value(record.value);
  out->set_timestamp_ms(record.timestamp_ms);
  for (const Header& h : record.headers) {
    v1::Header* header = out->add_headers();
    header->set_key(h.key);
    header->set_value(h.value);
  }
}

}  // namespace herald::client::internal
