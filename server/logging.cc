#include "server/logging.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "spdlog/sinks/stdout_color_sinks.h"

namespace herald::server {
namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};

std::string JsonEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// logfmt: quote values holding spaces, quotes, '=' or nothing at all.
std::string LogfmtValue(absl::string_view s) {
  const bool plain = !s.empty() && s.find_first_of(" \"=\t\n\r\\") == absl::string_view::npos;
  if (plain) return std::string(s);
  return absl::StrCat("\"", JsonEscape(s), "\"");
}

}  // namespace

absl::Status InitLogging(absl::string_view level, LogFormat format) {
  const auto lvl = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when asked for.
  if (lvl == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat("unknown log level \"", level, "\""));
  }
  auto logger = spdlog::stderr_color_mt("herald");
  spdlog::set_default_logger(logger);
  spdlog::set_level(lvl);
  g_format = format;
  if (format == LogFormat::kJson) {
    spdlog::set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})",
                        spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("ts=%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
  }
  return absl::OkStatus();
}

std::string FormatEvent(LogFormat format, absl::string_view event, const LogFields& fields) {
  std::string out;
  if (format == LogFormat::kJson) {
    absl::StrAppend(&out, "\"event\":\"", JsonEscape(event), "\"");
    for (const auto& [k, v] : fields) {
      absl::StrAppend(&out, ",\"", JsonEscape(k), "\":\"", JsonEscape(v), "\"");
    }
    return out;
  }
  absl::StrAppend(&out, "event=", LogfmtValue(event));
  for (const auto& [k, v] : fields) absl::StrAppend(&out, " ", k, "=", LogfmtValue(v));
  return out;
}

void LogEvent(spdlog::level::level_enum level, absl::string_view event, const LogFields& fields) {
  if (!spdlog::should_log(level)) return;
  spdlog::log(level, "{}", FormatEvent(g_format.load(), event, fields));
}

}  // namespace herald::server
