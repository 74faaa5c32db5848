#include "cluster/cluster_options.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace herald::cluster {
namespace {

bool LooksLikeHostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  return colon != absl::string_view::npos && colon > 0 &&
         absl::SimpleAtoi(address.substr(colon + 1), &port) && port > 0 && port < 65536;
}

absl::Status BadPeer(absl::string_view entry, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "--peers entry \"", entry, "\": ", why,
      " (expected id=client_host:port/raft_host:port, e.g. 1=10.0.0.1:7420/10.0.0.1:7422)"));
}

}  // namespace

absl::StatusOr<std::map<int32_t, NodeAddresses>> ParsePeers(absl::string_view spec) {
  std::map<int32_t, NodeAddresses> nodes;
  for (absl::string_view entry : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    std::vector<absl::string_view> id_rest = absl::StrSplit(entry, absl::MaxSplits('=', 1));
    int32_t id = 0;
    if (id_rest.size() != 2 || !absl::SimpleAtoi(id_rest[0], &id) || id <= 0) {
      return BadPeer(entry, "the node id must be a positive integer");
    }
    std::vector<absl::string_view> addresses = absl::StrSplit(id_rest[1], '/');
    if (addresses.size() != 2 || !LooksLikeHostPort(addresses[0]) ||
        !LooksLikeHostPort(addresses[1])) {
      return BadPeer(entry, "needs two host:port addresses separated by '/'");
    }
    if (!nodes.emplace(id, NodeAddresses{std::string(addresses[0]), std::string(addresses[1])})
             .second) {
      return BadPeer(entry, "the node id appears twice");
    }
  }
  if (nodes.empty()) return absl::InvalidArgumentError("--peers lists no nodes");
  return nodes;
}

absl::Status ValidateClusterOptions(const ClusterOptions& options) {
  if (options.nodes.find(options.node_id) == options.nodes.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--node_id ", options.node_id, " is not one of the nodes in --peers"));
  }
  if (options.tick_ms < 1 || options.election_ticks < 2 || options.metadata_write_timeout_ms < 1 ||
      options.max_pending_append_bytes < 1) {
    return absl::InvalidArgumentError(
        "tick_ms, metadata_write_timeout_ms and max_pending_append_bytes must be positive and "
        "election_ticks at least 2");
  }
  return absl::OkStatus();
}

}  // namespace herald::cluster
