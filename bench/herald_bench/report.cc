#include "bench/herald_bench/report.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "google/protobuf/stubs/common.h"
#include "grpcpp/grpcpp.h"

namespace herald::bench {
namespace {

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Number(double v) {
  if (!std::isfinite(v)) return "null";
  return absl::StrFormat("%.6g", v);
}

std::string StringMap(const std::map<std::string, std::string>& m) {
  std::string out = "{";
  for (const auto& [k, v] : m)
    absl::StrAppend(&out, out.size() > 1 ? ", " : "", Quote(k), ": ", Quote(v));
  return out + "}";
}

std::string LatencyJson(const LatencySummary& l) {
  return absl::StrCat("{\"kind\": ", Quote(l.kind), ", \"count\": ", l.count,
                      ", \"avg\": ", Number(l.mean_ms), ", \"p50\": ", Number(l.p50_ms),
                      ", \"p99\": ", Number(l.p99_ms), ", \"p99_9\": ", Number(l.p99_9_ms),
                      ", \"max\": ", Number(l.max_ms), "}");
}

std::string MeasurementJson(const Measurement& m) {
  std::string out =
      absl::StrCat("{\"scenario\": ", Quote(m.scenario), ", \"name\": ", Quote(m.name),
                   ", \"ok\": ", m.ok ? "true" : "false");
  if (!m.ok) absl::StrAppend(&out, ", \"error\": ", Quote(m.error));
  absl::StrAppend(&out, ", \"settings\": ", StringMap(m.settings), ", \"figures\": {");
  bool first = true;
  for (const auto& [k, v] : m.figures) {
    absl::StrAppend(&out, first ? "" : ", ", Quote(k), ": ", Number(v));
    first = false;
  }
  absl::StrAppend(&out, "}, \"latency_ms\": {");
  first = true;
  for (const auto& [k, l] : m.latencies) {
    absl::StrAppend(&out, first ? "" : ", ", Quote(k), ": ", LatencyJson(l));
    first = false;
  }
  return out + "}}";
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

std::string CommandOutput(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "unknown";
  char buf[256];
  std::string out;
  while (fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
  pclose(pipe);
  return std::string(absl::StripTrailingAsciiWhitespace(out));
}

std::string Fmt(double v) {
  if (v != 0 && std::fabs(v) < 10) return absl::StrFormat("%.3f", v);
  return absl::StrFormat("%.0f", v);
}

}  // namespace

std::string LoadAverage() { return ReadFirstLine("/proc/loadavg"); }

RunInfo CollectRunInfo(const std::string& source_dir) {
  RunInfo info;
  info.machine["nproc"] = absl::StrCat(sysconf(_SC_NPROCESSORS_ONLN));
  info.machine["memory"] =
      CommandOutput("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo");
  info.machine["cpu"] =
      CommandOutput("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'");
  utsname u{};
  if (uname(&u) == 0) info.machine["kernel"] = absl::StrCat(u.sysname, " ", u.release);
  info.machine["loadavg_at_start"] = LoadAverage();
  info.versions["herald_commit"] = CommandOutput(
      "git -C '" + source_dir + "' rev-parse --short HEAD 2>/dev/null || echo unknown");
  info.versions["grpc"] = grpc::Version();
  info.versions["protobuf"] = google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION);
  return info;
}

std::string ToJson(const RunInfo& info, const std::vector<Measurement>& measurements) {
  std::string out =
      absl::StrCat("{\n  \"machine\": ", StringMap(info.machine),
                   ",\n  \"versions\": ", StringMap(info.versions),
                   ",\n  \"settings\": ", StringMap(info.settings), ",\n  \"measurements\": [");
  for (size_t i = 0; i < measurements.size(); ++i) {
    absl::StrAppend(&out, i ? ",\n    " : "\n    ", MeasurementJson(measurements[i]));
  }
  return out + "\n  ]\n}\n";
}

std::string ToMarkdown(const RunInfo& info, const std::vector<Measurement>& measurements) {
  std::ostringstream md;
  md << "# herald-bench results\n\n";
  for (const auto* section : {&info.machine, &info.versions, &info.settings}) {
    for (const auto& [k, v] : *section) md << "- " << k << ": " << v << "\n";
  }
  md << "\n| scenario | measurement | records/s | MiB/s | other figures | latency (ms): p50 / p99 "
        "/ "
        "p99.9 / max |\n| --- | --- | --- | --- | --- | --- |\n";
  for (const Measurement& m : measurements) {
    if (!m.ok) {
      md << "| " << m.scenario << " | " << m.name << " | FAILED: " << m.error << " | | | |\n";
      continue;
    }
    auto get = [&](const char* k) {
      auto it = m.figures.find(k);
      return it == m.figures.end() ? std::string("-") : Fmt(it->second);
    };
    std::string other, lat;
    for (const auto& [k, v] : m.figures) {
      if (k != "records_per_s" && k != "mb_per_s") absl::StrAppend(&other, k, "=", Fmt(v), " ");
    }
    for (const auto& [k, l] : m.latencies) {
      absl::StrAppend(&lat, k, ": ", Fmt(l.p50_ms), " / ", Fmt(l.p99_ms), " / ", Fmt(l.p99_9_ms),
                      " / ", Fmt(l.max_ms), " (n=", l.count, ") ");
    }
    md << "| " << m.scenario << " | " << m.name << " | " << get("records_per_s") << " | "
       << get("mb_per_s") << " | " << other << " | " << lat << " |\n";
  }
  return md.str();
}

std::string ToPeerJson(const Measurement& m, const std::map<std::string, std::string>& tags) {
  std::string out = "{";
  auto add = [&out](const std::string& k, const std::string& v) {
    absl::StrAppend(&out, out.size() > 1 ? ", " : "", Quote(k), ": ", v);
  };
  // Numeric values stay numbers, as bench/peers/parse.py types them.
  auto typed = [](const std::string& v) {
    double number = 0;
    return absl::SimpleAtod(v, &number) ? Number(number) : Quote(v);
  };
  for (const auto& [k, v] : tags) add(k, typed(v));
  for (const auto& [k, v] : m.settings) {
    if (!tags.count(k)) add(k, typed(v));
  }
  for (const auto& [k, v] : m.figures) add(k, Number(v));
  if (!m.latencies.empty()) {
    add("latency_ms", LatencyJson(m.latencies.front().second));
    add("latency_kind", Quote(m.latencies.front().second.kind));
  }
  return out + "}";
}

}  // namespace herald::bench
