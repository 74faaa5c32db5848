#pragma once
// NetNamespace: a private Linux network namespace joined to the root
// namespace by a veth pair, for running one server behind a network the test
// can break. Needs root (CAP_NET_ADMIN) and `ip`; partitions also need
// `iptables`, delay/loss `tc`.
//
//   root ns: <host_veth> host_ip (10.213.X.Y+1/30)
//   test ns: <ns_veth>   ns_ip   (10.213.X.Y+2/30), plus lo
//
// The /30 lies in 10.213.0.0/16 (private, chosen by pid and a counter so
// concurrent test processes differ; an address already assigned on the host
// is skipped). Names carry the creating pid: the destructor deletes the
// namespace (which deletes the veth pair), and Create also deletes leftovers
// of dead processes, so a crashed test leaks nothing for long.
//
// For 3 nodes: one namespace per node, each veth's root end enslaved to one
// bridge (see README.md); the nemesis methods stay per namespace.
//
// Thread-safety: not thread-safe; drive it from the test's main thread.
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace herald::fault {

struct CommandResult {
  int exit_code = -1;  // 128 + signal when killed
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv[0] (looked up in PATH) with posix_spawn (fork is unsafe once
// gRPC threads run) and waits for it.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv);
// RunCommand, and an error carrying the output unless it exited 0.
absl::Status RunOk(const std::vector<std::string>& argv);

// Whether `name` is an executable in PATH.
bool HaveProgram(const std::string& name);
// Empty if network namespaces can be used here, else why not (for a skip).
std::string NetnsUnavailableReason();

class NetNamespace {
 public:
  static absl::StatusOr<std::unique_ptr<NetNamespace>> Create();
  NetNamespace(const NetNamespace&) = delete;
  NetNamespace& operator=(const NetNamespace&) = delete;
  ~NetNamespace();

  const std::string& name() const { return name_; }
  const std::string& host_ip() const { return host_ip_; }
  const std::string& ns_ip() const { return ns_ip_; }
  const std::string& host_veth() const { return host_veth_; }
  const std::string& ns_veth() const { return ns_veth_; }
  // {"ip", "netns", "exec", name()}: prefix for commands run inside.
  std::vector<std::string> ExecPrefix() const;
  // Runs a command inside the namespace.
  absl::Status RunInside(const std::vector<std::string>& argv) const;

  // Nemeses. Partition drops every packet between the namespace and the root
  // namespace (iptables INPUT/OUTPUT DROP inside; connections hang rather
  // than reset, as with a real partition). FAILED_PRECONDITION without
  // iptables.
  // kFromServer drops only what the namespace sends: requests arrive and are
  // processed, their answers are lost (a lost-acknowledgement fault).
  enum class Direction { kBoth, kToServer, kFromServer };
  absl::Status Partition(Direction direction = Direction::kBoth);
  absl::Status HealPartition();
  // Cluster nemeses (one namespace per node, routed through the root
  // namespace). Isolate drops everything on the namespace's veth: the node
  // is cut from the clients and from every peer. DropPeer drops traffic to
  // and from one address only (a peer), so clients still reach the node.
  // Both are undone by HealPartition.
  absl::Status Isolate();
  absl::Status DropPeer(const std::string& ip);
  // Routes everything not on the veth's /30 via the host end, so namespaces
  // reach each other through the root namespace (needs ip_forward there).
  absl::Status AddDefaultRoute();
  // netem on both ends of the veth (so both directions are affected).
  absl::Status SetNetem(int delay_ms, int jitter_ms, double loss_percent);
  absl::Status ClearNetem();
  // Heals everything this class can break.
  absl::Status HealAll();
  bool partitioned() const { return partitioned_; }

 private:
  NetNamespace() = default;
  absl::Status Setup(int slot);

  std::string name_;
  std::string host_veth_;
  std::string ns_veth_;
  std::string host_ip_;
  std::string ns_ip_;
  bool created_ = false;
  bool partitioned_ = false;
  bool netem_ = false;
};

}  // namespace herald::fault
