#include "cli/format.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace herald::cli {

absl::StatusOr<client::StartPosition> ParseFrom(const std::string& text) {
  if (text == "earliest" || text == "beginning") return client::StartPosition::Earliest();
  if (text == "latest" || text == "end") return client::StartPosition::Latest();
  int64_t value = 0;
  if (!text.empty() && text[0] == '@') {
    if (absl::SimpleAtoi(text.substr(1), &value) && value >= 0) {
      return client::StartPosition::Timestamp(value);
    }
  } else if (absl::SimpleAtoi(text, &value) && value >= 0) {
    return client::StartPosition::Offset(value);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--from \"", text, "\": expected earliest, latest, an offset >= 0 or @TIMESTAMP_MS"));
}

absl::StatusOr<std::pair<std::string, std::string>> ParseKeyValue(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", text, "\": expected key=value"));
  }
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

absl::StatusOr<client::Acks> ParseAcks(const std::string& text) {
  if (text == "none" || text == "0") return client::Acks::kNone;
  if (text == "leader" || text == "1") return client::Acks::kLeader;
  if (text == "all" || text == "-1") return client::Acks::kAll;
  return absl::InvalidArgumentError(
      absl::StrCat("--acks \"", text, "\": expected none, leader or all"));
}

std::pair<std::string, std::string> SplitKeyValue(const std::string& line,
                                                  const std::string& separator) {
  if (separator.empty()) return {"", line};
  const size_t at = line.find(separator);
  if (at == std::string::npos) return {"", line};
  return {line.substr(0, at), line.substr(at + separator.size())};
}

namespace {

std::string HeadersText(const client::ConsumedRecord& record) {
  std::string out;
  for (const client::Header& h : record.headers) {
    if (!out.empty()) out += ',';
    absl::StrAppend(&out, h.key, "=", h.value);
  }
  return out;
}

// Appends the expansion of the directive `c` (after % or \); false if unknown.
bool AppendDirective(char marker, char c, const client::ConsumedRecord& r, std::string* out) {
  if (marker == '\\') {
    switch (c) {
      case 'n':
        *out += '\n';
        return true;
      case 't':
        *out += '\t';
        return true;
      case '\\':
        *out += '\\';
        return true;
      default:
        return false;
    }
  }
  switch (c) {
    case 't':
      *out += r.topic;
      return true;
    case 'p':
      absl::StrAppend(out, r.partition);
      return true;
    case 'o':
      absl::StrAppend(out, r.offset);
      return true;
    case 'T':
      absl::StrAppend(out, r.timestamp_ms);
      return true;
    case 'k':
      *out += r.key;
      return true;
    case 'v':
      *out += r.value;
      return true;
    case 'h':
      *out += HeadersText(r);
      return true;
    case '%':
      *out += '%';
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string FormatRecord(const std::string& format, const client::ConsumedRecord& record) {
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    const char c = format[i];
    if ((c == '%' || c == '\\') && i + 1 < format.size() &&
        AppendDirective(c, format[i + 1], record, &out)) {
      ++i;
      continue;
    }
    out += c;
  }
  return out;
}

std::string JsonEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size() + 2);
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
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
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string JsonRecord(const client::ConsumedRecord& r) {
  std::string headers;
  for (const client::Header& h : r.headers) {
    if (!headers.empty()) headers += ',';
    absl::StrAppend(&headers, "{\"key\":\"", JsonEscape(h.key), "\",\"value\":\"",
                    JsonEscape(h.value), "\"}");
  }
  return absl::StrCat("{\"topic\":\"", JsonEscape(r.topic), "\",\"partition\":", r.partition,
                      ",\"offset\":", r.offset, ",\"timestamp_ms\":", r.timestamp_ms, ",\"key\":\"",
                      JsonEscape(r.key), "\",\"value\":\"", JsonEscape(r.value), "\",\"headers\":[",
                      headers, "]}");
}

std::string ErrorLine(const absl::Status& status) {
  return absl::StrCat("error: ", status.message(), " (", absl::StatusCodeToString(status.code()),
                      ")");
}

}  // namespace herald::cli
