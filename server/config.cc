#include "server/config.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace herald::server {
namespace {

void AddGroupOptions(CLI::App& app, ServerConfig& c) {
  const auto ms_range = CLI::Range(int64_t{1}, int64_t{3'600'000});
  app.add_option("--group_tick_interval_ms", c.group_tick_interval_ms,
                 "How often group sessions and revoke deadlines are checked")
      ->check(ms_range);
  app.add_option("--group_default_session_timeout_ms", c.group_default_session_timeout_ms,
                 "Session timeout of group members that do not ask for one")
      ->check(ms_range);
  app.add_option("--group_min_session_timeout_ms", c.group_min_session_timeout_ms,
                 "Smallest session timeout a group member may ask for")
      ->check(ms_range);
  app.add_option("--group_revoke_timeout_ms", c.group_revoke_timeout_ms,
                 "How long a member has to confirm a Revoke before its partitions move anyway")
      ->check(ms_range);
}

void AddOptions(CLI::App& app, ServerConfig& c) {
  app.add_option("--listen", c.listen, "gRPC listen address host:port (port 0: any free port)");
  app.add_option("--metrics_listen", c.metrics_listen,
                 "Prometheus /metrics address host:port (empty disables)");
  app.add_option("--data_dir", c.data_dir, "Directory of the log store (created if missing)");
  app.add_option("--node_id", c.node_id, "This broker's node id")->check(CLI::NonNegativeNumber);
  app.add_option("--advertised_address", c.advertised_address,
                 "host:port clients use to reach this node (default: --listen)");
  app.add_option("--log_level", c.log_level, "trace|debug|info|warn|error|critical|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--log_format", c.log_format, "text (logfmt) or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--default_partitions", c.default_partitions,
                 "Partitions of topics created without a count")
      ->check(CLI::Range(1, 10000));
  app.add_option("--retention_check_interval_ms", c.retention_check_interval_ms,
                 "How often retention runs over every partition")
      ->check(CLI::Range(int64_t{1}, int64_t{86'400'000}));
  app.add_option("--max_message_bytes_limit", c.max_message_bytes_limit,
                 "Largest record batch any topic may accept (bytes)")
      ->check(CLI::Range(1024, 256 << 20));
  app.add_option("--max_stream_inflight_bytes", c.max_stream_inflight_bytes,
                 "Unacknowledged produce bytes per stream before the server stops reading it")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 32));
  app.add_option("--max_pending_produce_bytes", c.max_pending_produce_bytes,
                 "Unacknowledged produce bytes across all streams (beyond: RESOURCE_EXHAUSTED)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--shutdown_grace_ms", c.shutdown_grace_ms,
                 "On SIGTERM: how long in-flight RPCs get before they are cancelled")
      ->check(CLI::Range(int64_t{0}, int64_t{600'000}));
  AddGroupOptions(app, c);
  app.add_option("--peers", c.peers,
                 "Cluster mode: every node as id=client_host:port/raft_host:port, comma "
                 "separated, this node included (--node_id picks it); empty: single node");
  app.add_flag("--node_id_from_ordinal", c.node_id_from_ordinal,
               "Cluster mode: node id = 1 + the trailing number of the host name (StatefulSet "
               "pod herald-0 -> node 1)");
  app.add_option("--raft_listen", c.raft_listen,
                 "Cluster mode: bind address of the node-to-node port (default: this node's raft "
                 "address in --peers)");
  app.add_option("--raft_tick_ms", c.raft_tick_ms, "Cluster mode: Raft tick")
      ->check(CLI::Range(1, 10'000));
  app.add_option("--raft_election_ticks", c.raft_election_ticks,
                 "Cluster mode: election timeout in ticks (randomized up to twice this)")
      ->check(CLI::Range(2, 1000));
  app.add_option("--ready_file", c.ready_file,
                 "Once both ports are bound, write {\"grpc_port\",\"metrics_port\",\"pid\"} "
                 "JSON here (atomically)");
}

// HERALD_DATA_DIR for --data_dir.
std::string EnvName(const std::string& long_name) {
  return "HERALD_" + absl::AsciiStrToUpper(long_name);
}

bool GivenOnCommandLine(const std::vector<std::string>& args, const std::string& flag) {
  for (const std::string& a : args) {
    if (a == flag || absl::StartsWith(a, flag + "=")) return true;
  }
  return false;
}

// Environment values become leading `--flag=value` arguments for the flags
// the command line does not set. CLI11 reads a config file only for options
// still unset after the command line, which gives flag > env > file.
std::vector<std::string> WithEnvironment(CLI::App& app, const std::vector<std::string>& args,
                                         const EnvLookup& env) {
  std::vector<std::string> out;
  for (const CLI::Option* opt : app.get_options()) {
    const std::string name = opt->get_single_name();
    if (name.empty() || name == "help") continue;
    const std::string flag = "--" + name;
    if (GivenOnCommandLine(args, flag)) continue;
    if (auto value = env(EnvName(name)); value.has_value()) out.push_back(flag + "=" + *value);
  }
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

}  // namespace

// A wildcard listen host cannot be dialled by clients on other machines:
// advertise this machine's host name with the listen port instead.
std::string DefaultAdvertisedAddress(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return listen;
  const std::string host = listen.substr(0, colon);
  if (host != "0.0.0.0" && host != "[::]" && host != "::" && !host.empty()) return listen;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return listen;
  return std::string(name) + listen.substr(colon);
}

absl::StatusOr<int32_t> NodeIdFromOrdinal(const std::string& host_name) {
  size_t digits = host_name.size();
  while (digits > 0 && absl::ascii_isdigit(static_cast<unsigned char>(host_name[digits - 1]))) {
    --digits;
  }
  int32_t ordinal = 0;
  const std::string tail = host_name.substr(digits);
  if (tail.empty() || tail.size() > 6 || !absl::SimpleAtoi(tail, &ordinal)) {
    return absl::InvalidArgumentError("--node_id_from_ordinal: host name \"" + host_name +
                                      "\" does not end in a number");
  }
  return ordinal + 1;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

ConfigOutcome ParseConfig(int argc, const char* const* argv, const EnvLookup& env,
                          std::ostream& out, std::ostream& err) {
  ServerConfig config;
  CLI::App app{
      "herald-server: a gRPC-native event streaming broker.\n"
      "Every flag can also be set from the environment as HERALD_<FLAG> "
      "(e.g. HERALD_DATA_DIR) or in a --config file (TOML/INI).\n"
      "Precedence: flag > environment > config file > default.",
      "herald-server"};
  app.option_defaults()->always_capture_default();
  AddOptions(app, config);
  app.set_config("--config", "", "TOML or INI file with flag values (keys named like flags)");
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  args = WithEnvironment(app, args, env);
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return {std::nullopt, 0};
  } catch (const CLI::ParseError& e) {
    err << "herald-server: " << e.what() << "\nRun with --help for usage.\n";
    return {std::nullopt, 2};
  }
  if (const CLI::Option* cfg = app.get_option("--config"); cfg->count() > 0) {
    config.config_file = cfg->as<std::string>();
  }
  if (config.advertised_address.empty()) {
    config.advertised_address = DefaultAdvertisedAddress(config.listen);
  }
  if (config.node_id_from_ordinal) {
    char name[256] = {};
    gethostname(name, sizeof(name) - 1);
    auto id = NodeIdFromOrdinal(name);
    if (!id.ok()) {
      err << "herald-server: " << id.status().message() << "\n";
      return {std::nullopt, 2};
    }
    config.node_id = *id;
  }
  return {config, 0};
}

}  // namespace herald::server
