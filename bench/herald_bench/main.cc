// herald-bench: Herald's load generator and benchmark suite.
//   herald-bench [--brokers host:port | --server_bin PATH] [--scenarios P1,P2,L1,C1,F1,M1,S1]
//                [--scale F] [--duration_s S] [--warmup_s S] [--json FILE] [--markdown FILE]
//   herald-bench --brokers host:port --peer produce|e2e|consume --records N --size B
//                [--partitions P] [--acks leader|all] [--tag k=v ...]    (one JSON line, for
//                herald.sh)
// Without --brokers it starts its own herald-server (temp data dir) and stops it at the end.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/herald_bench/report.h"
#include "bench/herald_bench/scenarios.h"
#include "tests/harness/server_process.h"

namespace herald::bench {
namespace {

struct Flags {
  std::string brokers;
  std::string server_bin = HERALD_SERVER_BIN;
  int server_pid = 0;
  std::string scenarios = "P1,P2,L1,C1,F1,M1,S1";
  double scale = 1.0;
  double duration_s = 10;
  double warmup_s = 2;
  double l1_rate = 10'000;
  int64_t l1_linger_ms = 1;
  int s1_streams = 10'000;
  int s1_partitions = 1'000;
  double c1_backlog_mb = 256;
  std::string f1_subscribers = "1,2,4,8";
  std::string m1_producers = "4,100";
  std::string json_path;
  std::string markdown_path;
  std::string peer;
  int64_t records = 100'000;
  int size = 100;
  int partitions = 1;
  std::string acks = "all";
  double rate = 0;
  std::vector<std::string> tags;
};

void AddFlags(CLI::App& app, Flags& f) {
  app.add_option("--brokers", f.brokers, "Target broker host:port (default: start a server)");
  app.add_option("--server_bin", f.server_bin, "herald-server binary to start");
  app.add_option("--server_pid", f.server_pid, "pid of the --brokers server, for RSS (S1)");
  app.add_option("--scenarios", f.scenarios, "Comma-separated: P1,P2,L1,C1,F1,M1,S1");
  app.add_option("--scale", f.scale, "Multiplies C1's backlog; below 1 also S1's streams")
      ->check(CLI::PositiveNumber);
  app.add_option("--duration_s", f.duration_s, "Measured seconds per timed run")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup_s", f.warmup_s, "Warm-up seconds before each timed run (excluded)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--l1_rate", f.l1_rate, "L1 offered rate, records/s")->check(CLI::PositiveNumber);
  app.add_option("--l1_linger_ms", f.l1_linger_ms, "L1 producer linger (0: send at once)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--s1_streams", f.s1_streams, "S1 idle streams at scale >= 1");
  app.add_option("--s1_partitions", f.s1_partitions, "S1 partitions at scale >= 1");
  app.add_option("--c1_backlog_mb", f.c1_backlog_mb, "C1 backlog MiB at scale 1");
  app.add_option("--f1_subscribers", f.f1_subscribers, "F1 subscriber counts, comma-separated");
  app.add_option("--m1_producers", f.m1_producers, "M1 producer counts, comma-separated");
  app.add_option("--json", f.json_path, "Write the JSON report here");
  app.add_option("--markdown", f.markdown_path, "Write the Markdown report here (default: stdout)");
  app.add_option("--peer", f.peer, "One peer-shaped measurement: produce|e2e|consume")
      ->check(CLI::IsMember({"produce", "e2e", "consume"}));
  app.add_option("--records", f.records, "--peer: record count")->check(CLI::PositiveNumber);
  app.add_option("--size", f.size, "--peer: record bytes")->check(CLI::Range(8, 1 << 20));
  app.add_option("--partitions", f.partitions, "--peer: partitions")->check(CLI::Range(1, 10000));
  app.add_option("--acks", f.acks, "--peer: leader|all")->check(CLI::IsMember({"leader", "all"}));
  app.add_option("--rate", f.rate, "--peer produce: records/s (0: max rate)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--tag", f.tags, "--peer: key=value copied into the JSON line");
}

std::vector<int32_t> Ints(const std::string& csv) {
  std::vector<int32_t> out;
  for (absl::string_view s : absl::StrSplit(csv, ',', absl::SkipEmpty())) {
    out.push_back(std::stoi(std::string(s)));
  }
  return out;
}

SuiteOptions ToSuite(const Flags& f) {
  SuiteOptions o;
  o.brokers = f.brokers;
  o.server_pid = f.server_pid;
  o.scale = f.scale;
  o.duration_ms = static_cast<int64_t>(f.duration_s * 1000);
  o.warmup_ms = static_cast<int64_t>(f.warmup_s * 1000);
  o.l1_rate_per_s = f.l1_rate;
  o.l1_linger_ms = f.l1_linger_ms;
  o.s1_streams = f.s1_streams;
  o.s1_partitions = f.s1_partitions;
  o.c1_backlog_bytes = static_cast<int64_t>(f.c1_backlog_mb * (1 << 20));
  o.f1_subscribers = Ints(f.f1_subscribers);
  o.m1_producers = Ints(f.m1_producers);
  return o;
}

std::vector<Measurement> RunScenario(const SuiteOptions& o, const std::string& s) {
  if (s == "P1") return RunMaxProduce(o, "P1", /*acks_all=*/false);
  if (s == "P2") return RunMaxProduce(o, "P2", /*acks_all=*/true);
  if (s == "L1") return {RunEndToEndLatency(o, "L1", o.duration_ms)};
  if (s == "C1") return {RunCatchUp(o)};
  if (s == "F1") return RunFanOut(o);
  if (s == "M1") return RunManyProducers(o);
  if (s == "S1") return RunIdleStreams(o);
  Measurement m;
  m.scenario = s;
  m.ok = false;
  m.error = "unknown scenario";
  return {m};
}

int RunPeer(const Flags& f, const SuiteOptions& o) {
  const bool acks_all = f.acks == "all";
  Measurement m = f.peer == "produce"
                      ? RunPeerProduce(o, f.records, f.size, f.partitions, acks_all, f.rate)
                  : f.peer == "e2e" ? RunPeerEndToEnd(o, f.records, f.size, acks_all)
                                    : RunPeerConsume(o, f.records, f.size, f.partitions);
  if (!m.ok) {
    std::cerr << "herald-bench --peer " << f.peer << ": " << m.error << "\n";
    return 1;
  }
  std::map<std::string, std::string> tags;
  for (const std::string& kv : f.tags) {
    std::pair<std::string, std::string> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    tags[p.first] = p.second;
  }
  std::cout << ToPeerJson(m, tags) << std::endl;
  return 0;
}

int WriteReports(const Flags& f, RunInfo info, const std::vector<Measurement>& all) {
  info.machine["loadavg_at_end"] = LoadAverage();
  if (!f.json_path.empty()) {
    std::ofstream(f.json_path) << ToJson(info, all);
  }
  const std::string md = ToMarkdown(info, all);
  if (f.markdown_path.empty()) {
    std::cout << md;
  } else {
    std::ofstream(f.markdown_path) << md;
  }
  for (const Measurement& m : all) {
    if (!m.ok) return 1;
  }
  return 0;
}

int Main(int argc, char** argv) {
  CLI::App app{"herald-bench: Herald load generator and benchmark suite"};
  Flags f;
  AddFlags(app, f);
  CLI11_PARSE(app, argc, argv);
  std::unique_ptr<testing::ServerProcess> server;
  if (f.brokers.empty()) {
    testing::ServerOptions options;
    options.binary = f.server_bin;
    options.extra_flags = {"--log_level", "warn"};
    auto started = testing::ServerProcess::Start(options);
    if (!started.ok()) {
      std::cerr << "herald-bench: starting " << f.server_bin << ": " << started.status() << "\n";
      return 1;
    }
    server = std::move(*started);
    f.brokers = server->address();
    f.server_pid = server->pid();
  }
  const SuiteOptions o = ToSuite(f);
  if (!f.peer.empty()) return RunPeer(f, o);
  RunInfo info = CollectRunInfo(HERALD_SOURCE_DIR);
  info.settings = {{"brokers", f.brokers},
                   {"server", server ? "started by herald-bench" : "external"},
                   {"scenarios", f.scenarios},
                   {"scale", absl::StrCat(f.scale)},
                   {"duration_s", absl::StrCat(f.duration_s)},
                   {"warmup_s", absl::StrCat(f.warmup_s)}};
  std::vector<Measurement> all;
  for (absl::string_view s : absl::StrSplit(f.scenarios, ',', absl::SkipEmpty())) {
    std::cerr << "[herald-bench] " << s << " (load " << LoadAverage() << ")\n";
    for (Measurement& m : RunScenario(o, std::string(s))) {
      m.settings["loadavg_after"] = LoadAverage();
      all.push_back(std::move(m));
    }
  }
  return WriteReports(f, std::move(info), all);
}

}  // namespace
}  // namespace herald::bench

int main(int argc, char** argv) { return herald::bench::Main(argc, argv); }
