// herald-server: wires config, logging, the RocksDB log store, the broker
// core and the gRPC edge together, then waits for SIGTERM/SIGINT.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "broker/broker.h"
#include "cluster/replicated_log_store.h"
#include "common/crc32c.h"
#include "server/config.h"
#include "server/logging.h"
#include "server/server.h"
#include "storage/log_store.h"

#ifndef HERALD_VERSION
#define HERALD_VERSION "dev"
#endif

namespace herald::server {
namespace {

// Bound on the leadership hand-off at shutdown (cluster mode).
constexpr int64_t kLeadershipHandOffTimeoutMs = 5'000;

void LogConfig(const ServerConfig& c) {
  LogEvent(spdlog::level::info, "startup",
           {{"version", HERALD_VERSION},
            {"listen", c.listen},
            {"metrics_listen", c.metrics_listen},
            {"data_dir", c.data_dir},
            {"node_id", std::to_string(c.node_id)},
            {"advertised_address", c.advertised_address},
            {"default_partitions", std::to_string(c.default_partitions)},
            {"retention_check_interval_ms", std::to_string(c.retention_check_interval_ms)},
            {"max_message_bytes_limit", std::to_string(c.max_message_bytes_limit)},
            {"max_stream_inflight_bytes", std::to_string(c.max_stream_inflight_bytes)},
            {"max_pending_produce_bytes", std::to_string(c.max_pending_produce_bytes)},
            {"shutdown_grace_ms", std::to_string(c.shutdown_grace_ms)},
            {"peers", c.peers},
            {"raft_listen", c.raft_listen},
            {"config_file", c.config_file}});
}

// Written to a temporary name and renamed, so readers never see half a file.
absl::Status WriteReadyFile(const std::string& path, int grpc_port, int metrics_port) {
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << "{\"grpc_port\":" << grpc_port << ",\"metrics_port\":" << metrics_port
      << ",\"pid\":" << getpid() << "}\n";
    f.flush();
    if (!f) return absl::InternalError(absl::StrCat("cannot write ready file ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ready file to ", path));
  }
  return absl::OkStatus();
}

// Cluster mode: the local store under Raft (cluster/replicated_log_store.h).
absl::StatusOr<std::unique_ptr<storage::LogStore>> OpenReplicatedStore(
    const ServerConfig& c, std::unique_ptr<storage::LogStore> local) {
  cluster::ClusterOptions options;
  options.node_id = c.node_id;
  auto nodes = cluster::ParsePeers(c.peers);
  if (!nodes.ok()) return nodes.status();
  options.nodes = *std::move(nodes);
  options.raft_listen = c.raft_listen;
  options.tick_ms = c.raft_tick_ms;
  options.election_ticks = c.raft_election_ticks;
  auto store = cluster::ReplicatedLogStore::Open(options, std::move(local));
  if (!store.ok()) return store.status();
  return std::unique_ptr<storage::LogStore>(*std::move(store));
}

absl::StatusOr<std::unique_ptr<broker::Broker>> OpenCore(const ServerConfig& c) {
  std::error_code ec;
  std::filesystem::create_directories(c.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create data_dir ", c.data_dir, ": ", ec.message()));
  }
  storage::RocksLogStoreOptions store_options;
  store_options.path = c.data_dir;
  auto store = storage::OpenRocksLogStore(store_options);
  if (!store.ok()) return store.status();
  if (!c.peers.empty()) {
    auto replicated = OpenReplicatedStore(c, *std::move(store));
    if (!replicated.ok()) return replicated.status();
    store = *std::move(replicated);
  }
  broker::BrokerOptions options;
  options.node_id = c.node_id;
  options.advertised_address = c.advertised_address;
  options.default_partitions = c.default_partitions;
  options.max_message_bytes_limit = c.max_message_bytes_limit;
  options.max_pending_produce_bytes = c.max_pending_produce_bytes;
  options.retention_check_interval_ms = c.retention_check_interval_ms;
  options.group_tick_interval_ms = c.group_tick_interval_ms;
  options.group_default_session_timeout_ms = c.group_default_session_timeout_ms;
  options.group_min_session_timeout_ms = c.group_min_session_timeout_ms;
  options.group_revoke_timeout_ms = c.group_revoke_timeout_ms;
  if (!c.peers.empty()) {
    // Every member derives the same id from the same member list.
    options.cluster_id = absl::StrCat("herald-", absl::Hex(Crc32c(c.peers), absl::kZeroPad8));
  }
  auto broker = broker::OpenBroker(options, std::move(*store));
  if (!broker.ok()) return broker.status();
  if (auto s = (*broker)->Start(); !s.ok()) return s;
  return broker;
}

ServerOptions ToServerOptions(const ServerConfig& c) {
  ServerOptions o;
  o.listen = c.listen;
  o.metrics_listen = c.metrics_listen;
  o.max_message_bytes_limit = c.max_message_bytes_limit;
  o.shutdown_grace_ms = c.shutdown_grace_ms;
  o.version = HERALD_VERSION;
  o.edge.max_stream_inflight_bytes = c.max_stream_inflight_bytes;
  // Half of the tightest bound behind the edge (the storage writer queue,
  // the broker's pending limit): the rest absorbs the one request each
  // stream may always send, so producers see backpressure, not errors.
  o.edge.max_total_inflight_bytes =
      std::min<int64_t>(storage::RocksLogStoreOptions{}.max_queued_bytes,
                        c.max_pending_produce_bytes) /
      2;
  o.edge.default_partitions = c.default_partitions;
  return o;
}

// Cluster mode, before the edge and the store stop: what this node leads
// moves to an up-to-date replica while clients can still be redirected, so
// a rolling restart costs them a redirect, not an election timeout.
void HandOffLeadership(broker::Broker* broker) {
  const auto start = std::chrono::steady_clock::now();
  const absl::Status handed = broker->HandOffLeadership(kLeadershipHandOffTimeoutMs);
  const auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  LogEvent(handed.ok() ? spdlog::level::info : spdlog::level::warn, "leadership_handoff",
           {{"status", handed.ToString()}, {"took_ms", std::to_string(took_ms)}});
}

int Fail(const char* event, const absl::Status& status) {
  LogEvent(spdlog::level::critical, event, {{"error", status.ToString()}});
  return 1;
}

int Run(const ServerConfig& config, const sigset_t& signals) {
  LogConfig(config);
  auto broker = OpenCore(config);
  if (!broker.ok()) return Fail("startup_failed", broker.status());
  auto server = std::make_unique<HeraldServer>(broker->get(), ToServerOptions(config));
  if (auto s = server->Start(); !s.ok()) {
    (*broker)->Shutdown();
    return Fail("startup_failed", s);
  }
  if (!config.ready_file.empty()) {
    if (auto s = WriteReadyFile(config.ready_file, server->grpc_port(), server->metrics_port());
        !s.ok()) {
      server->Shutdown();
      return Fail("startup_failed", s);
    }
  }
  // The signals are blocked in every thread; this thread takes them here,
  // so no work ever runs in a signal handler.
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  LogEvent(spdlog::level::info, "signal", {{"signal", strsignal(signal_number)}});
  if (!config.peers.empty()) HandOffLeadership(broker->get());
  server->Shutdown();
  server.reset();
  broker->reset();
  LogEvent(spdlog::level::info, "exit", {{"code", "0"}});
  return 0;
}

}  // namespace
}  // namespace herald::server

int main(int argc, char** argv) {
  using namespace herald::server;
  // Block before any thread exists so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ConfigOutcome outcome = ParseConfig(argc, argv, ProcessEnv(), std::cout, std::cerr);
  if (!outcome.config.has_value()) return outcome.exit_code;
  const ServerConfig& config = *outcome.config;
  const LogFormat format = config.log_format == "json" ? LogFormat::kJson : LogFormat::kText;
  if (auto s = InitLogging(config.log_level, format); !s.ok()) {
    std::cerr << "herald-server: " << s.message() << "\n";
    return 2;
  }
  return Run(config, signals);
}
