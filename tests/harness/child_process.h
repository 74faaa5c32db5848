#pragma once
// ChildTest: runs one test of the current test binary in a child process
// (posix_spawn of /proc/self/exe with a --gtest_filter), with the child's
// stdout on a pipe. Tests use it for clients that must die by SIGKILL: fork()
// is not safe once gRPC threads run, spawning a fresh process is.
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace herald::testing {

class ChildTest {
 public:
  // Spawns `/proc/self/exe --gtest_filter=<test>` with the parent's
  // environment plus `env`.
  static absl::StatusOr<std::unique_ptr<ChildTest>> Spawn(
      const std::string& test, const std::vector<std::pair<std::string, std::string>>& env);
  ChildTest(const ChildTest&) = delete;
  ChildTest& operator=(const ChildTest&) = delete;
  ~ChildTest();  // SIGKILLs and reaps the child if still running.

  // Reads the child's stdout until it contains `marker` (true) or the child
  // closes it / timeout_ms passes (false).
  bool WaitForOutput(const std::string& marker, int64_t timeout_ms);
  // Everything read from the child's stdout so far.
  const std::string& output() const { return output_; }
  void Kill();  // SIGKILL and reap.

 private:
  ChildTest(pid_t pid, int out_fd) : pid_(pid), out_fd_(out_fd) {}

  pid_t pid_;
  int out_fd_;
  std::string output_;
};

}  // namespace herald::testing
