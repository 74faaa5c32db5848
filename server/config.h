#pragma once
// herald-server configuration: CLI11 flags, each also settable from the
// environment as HERALD_<UPPER_SNAKE> (e.g. HERALD_DATA_DIR), and from an
// optional --config FILE (TOML or INI, keys named like the flags).
// Precedence: command-line flag > environment > config file > default.
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"

namespace herald::server {

struct ServerConfig {
  std::string listen = "0.0.0.0:7420";
  std::string metrics_listen = "0.0.0.0:7421";  // empty: no metrics endpoint
  std::string data_dir = "./data";
  int32_t node_id = 0;
  std::string advertised_address;  // empty: the listen address
  std::string log_level = "info";
  std::string log_format = "text";  // text | json
  int32_t default_partitions = 1;
  int64_t retention_check_interval_ms = 30'000;
  int32_t max_message_bytes_limit = 16 << 20;
  int64_t max_stream_inflight_bytes = 8 << 20;
  int64_t max_pending_produce_bytes = 512LL << 20;
  int64_t shutdown_grace_ms = 10'000;
  // Consumer groups (broker::BrokerOptions); tests shorten them.
  int64_t group_tick_interval_ms = 100;
  int64_t group_default_session_timeout_ms = 45'000;
  int64_t group_min_session_timeout_ms = 1'000;
  int64_t group_revoke_timeout_ms = 30'000;
  std::string ready_file;  // empty: none
  // Cluster mode (empty peers: a single node on a plain local store).
  std::string peers;        // "1=host:7420/host:7422,2=..." (cluster/cluster_options.h)
  std::string raft_listen;  // node-to-node bind address; empty: this node's entry in peers
  // Kubernetes StatefulSet: node id = 1 + the trailing number of the host
  // name (herald-0 -> 1), so every pod gets its id from its ordinal.
  bool node_id_from_ordinal = false;
  int32_t raft_tick_ms = 50;
  int32_t raft_election_ticks = 10;
  std::string config_file;
};

struct ConfigOutcome {
  std::optional<ServerConfig> config;  // nullopt: exit with exit_code
  int exit_code = 0;                   // 0 after --help, 2 for bad usage
};

// Looks up an environment variable (nullopt if unset); injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup ProcessEnv();

// --advertised_address when unset: --listen, with a wildcard host (0.0.0.0,
// [::]) replaced by this machine's host name.
std::string DefaultAdvertisedAddress(const std::string& listen);

// 1 + the trailing decimal number of `host_name` ("herald-2" -> 3);
// INVALID_ARGUMENT if it has none.
absl::StatusOr<int32_t> NodeIdFromOrdinal(const std::string& host_name);

// Parses argv. Help goes to `out`, errors (with a pointer to --help) to `err`.
ConfigOutcome ParseConfig(int argc, const char* const* argv, const EnvLookup& env,
                          std::ostream& out, std::ostream& err);

}  // namespace herald::server
