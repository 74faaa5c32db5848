#pragma once
// Pure helpers of the `herald` CLI: parsing arguments and formatting output.
// Kept apart from the commands so they are unit-tested without a server.
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "herald/client/types.h"

namespace herald::cli {

// "earliest" | "latest" | "OFFSET" | "@TIMESTAMP_MS".
absl::StatusOr<client::StartPosition> ParseFrom(const std::string& text);

// "key=value" (value may contain '='); INVALID_ARGUMENT without '=' or key.
absl::StatusOr<std::pair<std::string, std::string>> ParseKeyValue(const std::string& text);

// "none" | "leader" | "all".
absl::StatusOr<client::Acks> ParseAcks(const std::string& text);

// Splits a stdin line into key and value at the first `separator`; empty
// separator or no occurrence: no key.
std::pair<std::string, std::string> SplitKeyValue(const std::string& line,
                                                  const std::string& separator);

// Expands %t topic, %p partition, %o offset, %T timestamp (ms), %k key,
// %v value, %h headers (k=v,...), %% and the escapes \n \t \\.
std::string FormatRecord(const std::string& format, const client::ConsumedRecord& record);

// One JSON object: topic, partition, offset, timestamp_ms, key, value, headers.
std::string JsonRecord(const client::ConsumedRecord& record);
std::string JsonEscape(const std::string& text);

// `error: <message> (<CODE>)`, as printed on stderr.
std::string ErrorLine(const absl::Status& status);

}  // namespace herald::cli
