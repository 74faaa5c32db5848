#pragma once
// ServerProcess: runs the real `herald-server` binary as a child process for
// black-box tests. Each instance owns a fresh temporary directory holding the
// data dir, the ready file and the server's combined stdout/stderr log.
//
// The child runs in its own process group and is SIGKILLed if the test
// process dies (PR_SET_PDEATHSIG), so a crashed test never leaks servers.
// PDEATHSIG follows the *thread* that forked: call Start/Restart from a
// thread that outlives the server (e.g. the test's main thread), never from
// a short-lived helper thread, or the server is killed when that thread ends.
// When the current gtest test has failed, the destructor prints the tail of
// the server log and keeps the directory for inspection.
//
// Thread-safety: not thread-safe; drive one ServerProcess from one thread
// (channels and stubs it hands out are thread-safe as usual).
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "herald/v1/admin.grpc.pb.h"
#include "herald/v1/broker.grpc.pb.h"

namespace herald::testing {

struct ServerOptions {
  // Empty: $HERALD_SERVER_BIN from the environment, else the path compiled
  // into the harness.
  std::string binary;
  // Appended after the harness's own flags, e.g. {"--retention_check_interval_ms", "200"}.
  std::vector<std::string> extra_flags;
  // Extra environment variables for the child (name, value).
  std::vector<std::pair<std::string, std::string>> env;
  // How long to wait for the ready file before giving up.
  int64_t ready_timeout_ms = 30'000;
  // Reuse the previous gRPC / metrics ports on Restart, so existing
  // channels reconnect to the new process.
  bool restart_on_same_ports = false;
  // Host the server binds (gRPC and metrics) and address() dials. A fault
  // test sets the server's address inside a network namespace.
  std::string listen_host = "127.0.0.1";
  // Prepended to the command line, e.g. {"ip", "netns", "exec", "<ns>"}
  // (a program looked up in PATH). It must exec the server in place (as
  // `ip netns exec` does), so the child's pid is the server's pid.
  std::vector<std::string> command_prefix;
  // Fixed ports (0: the server picks, see restart_on_same_ports). A cluster
  // node needs its client port before it starts: every node's --peers names
  // it. A fixed port is reused on every Restart.
  int grpc_port = 0;
  int metrics_port = 0;
};

class ServerProcess {
 public:
  // Creates the temp dir, spawns the server and waits until it is ready.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(ServerOptions options = {});

  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  // SIGKILLs a still-running server and removes the temp dir (kept, with the
  // log tail printed, when the current test failed).
  ~ServerProcess();

  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  // "<listen_host>:<grpc_port>".
  std::string address() const;
  const std::string& dir() const { return dir_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_path() const { return log_path_; }

  // A new channel with its own connection (a local subchannel pool), so
  // several channels really multiplex over several TCP connections.
  std::shared_ptr<grpc::Channel> NewChannel() const;
  std::unique_ptr<herald::v1::Broker::Stub> NewBrokerStub() const;
  std::unique_ptr<herald::v1::Admin::Stub> NewAdminStub() const;

  // True while the child has not exited (reaps it if it has).
  bool IsRunning();
  // SIGKILL to the process group, then reap.
  void Kill();
  // SIGTERM, wait up to timeout_ms for exit. Returns the exit code, or
  // 128 + signal if it died from a signal. DEADLINE_EXCEEDED (after a
  // SIGKILL) if it did not exit in time.
  absl::StatusOr<int> Terminate(int64_t timeout_ms = 20'000);
  // SIGSTOP (returns once every thread of the server is stopped) / SIGCONT.
  void Pause();
  void Resume();
  // Kills the server if it still runs, then starts it again over the same
  // data dir and waits until it is ready. Ports change unless
  // ServerOptions::restart_on_same_ports.
  absl::Status Restart();

  // Resident set size of the server (VmRSS from /proc/<pid>/status), in KiB.
  absl::StatusOr<int64_t> RssKb() const;
  // Last `max_bytes` of the server log.
  std::string LogTail(size_t max_bytes = 6000) const;

 private:
  explicit ServerProcess(ServerOptions options) : options_(std::move(options)) {}
  absl::Status Spawn();
  absl::Status WaitReady();
  absl::Status ReadReadyFile(bool* ready);
  // Waits up to timeout_ms for the child to exit; true and `*wait_status`
  // set if it did.
  bool WaitExit(int64_t timeout_ms, int* wait_status);

  ServerOptions options_;
  std::string binary_;
  std::string dir_;
  std::string data_dir_;
  std::string ready_file_;
  std::string log_path_;
  pid_t pid_ = -1;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
};

}  // namespace herald::testing
