#pragma once
// Structured logging on spdlog: every line is an event name plus key=value
// fields, rendered as logfmt (text) or as one JSON object per line (json).
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

namespace herald::server {

enum class LogFormat { kText, kJson };

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Configures the default spdlog logger (stderr). INVALID_ARGUMENT for an
// unknown level.
absl::Status InitLogging(absl::string_view level, LogFormat format);

// The message part of a line: `event=x k=v ...` or `"event":"x","k":"v"`
// (the JSON braces, time and level come from the logger pattern).
std::string FormatEvent(LogFormat format, absl::string_view event, const LogFields& fields);

// Logs one event with the format chosen by InitLogging.
void LogEvent(spdlog::level::level_enum level, absl::string_view event, const LogFields& fields);

}  // namespace herald::server
