#include "tests/fault/netns.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace herald::fault {
namespace {

constexpr char kNamePrefix[] = "hfault-";
constexpr int kSlots = 16384;  // /30 blocks in 10.213.0.0/16

std::atomic<int> next_instance{0};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Deletes namespaces named hfault-<pid>-<n> whose pid no longer runs: the
// leftovers of a test process that was killed before its destructors ran.
void DeleteStaleNamespaces() {
  absl::StatusOr<CommandResult> list = RunCommand({"ip", "netns", "list"});
  if (!list.ok()) return;
  for (absl::string_view line : absl::StrSplit(list->output, '\n', absl::SkipEmpty())) {
    std::string name(line.substr(0, line.find(' ')));
    if (name.rfind(kNamePrefix, 0) != 0) continue;
    const std::string rest = name.substr(sizeof(kNamePrefix) - 1);
    int pid = 0;
    if (!absl::SimpleAtoi(rest.substr(0, rest.find('-')), &pid) || pid <= 0) continue;
    if (kill(pid, 0) == 0 || errno != ESRCH) continue;
    (void)RunCommand({"ip", "netns", "delete", name});  // Best effort.
  }
}

}  // namespace

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  char out_path[] = "/tmp/herald-fault-cmd-XXXXXX";
  const int out_fd = mkstemp(out_path);
  if (out_fd < 0) return absl::InternalError(absl::StrCat("mkstemp: ", strerror(errno)));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  cargv.reserve(args.size() + 1);
  for (std::string& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_fd);
  if (rc != 0) {
    unlink(out_path);
    return absl::FailedPreconditionError(absl::StrCat("spawn ", argv[0], ": ", strerror(rc)));
  }
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  CommandResult result;
  result.output = ReadFile(out_path);
  unlink(out_path);
  result.exit_code = WIFEXITED(wait_status)     ? WEXITSTATUS(wait_status)
                     : WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status)
                                                : -1;
  return result;
}

absl::Status RunOk(const std::vector<std::string>& argv) {
  absl::StatusOr<CommandResult> result = RunCommand(argv);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(absl::StrCat("`", absl::StrJoin(argv, " "), "` exited ",
                                            result->exit_code, ": ", result->output));
  }
  return absl::OkStatus();
}

bool HaveProgram(const std::string& name) {
  const char* path = getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
  // Root's tools live in sbin, which a non-login PATH may lack.
  dirs += ":/usr/sbin:/sbin";
  for (absl::string_view dir : absl::StrSplit(dirs, ':', absl::SkipEmpty())) {
    if (access(absl::StrCat(dir, "/", name).c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string NetnsUnavailableReason() {
  if (geteuid() != 0) return "network namespaces need root (CAP_NET_ADMIN)";
  if (!HaveProgram("ip")) return "`ip` (iproute2) is not installed";
  return "";
}

absl::StatusOr<std::unique_ptr<NetNamespace>> NetNamespace::Create() {
  if (std::string why = NetnsUnavailableReason(); !why.empty()) {
    return absl::FailedPreconditionError(why);
  }
  DeleteStaleNamespaces();
  std::unique_ptr<NetNamespace> ns(new NetNamespace());
  const int pid = static_cast<int>(getpid());
  const int instance = next_instance.fetch_add(1);
  ns->name_ = absl::StrCat(kNamePrefix, pid, "-", instance);
  // Interface names: at most 15 characters.
  ns->host_veth_ = absl::StrCat("hf", pid, "x", instance % 1000, "h");
  ns->ns_veth_ = absl::StrCat("hf", pid, "x", instance % 1000, "n");
  absl::StatusOr<CommandResult> addrs = RunCommand({"ip", "-o", "-4", "addr", "show"});
  if (!addrs.ok()) return addrs.status();
  for (int attempt = 0; attempt < 64; ++attempt) {
    const int slot = (pid * 8 + instance + attempt * 131) % kSlots;
    const std::string host_ip = absl::StrCat("10.213.", slot / 64, ".", (slot % 64) * 4 + 1);
    if (addrs->output.find(absl::StrCat(" ", host_ip, "/")) != std::string::npos) continue;
    absl::Status s = ns->Setup(slot);
    if (!s.ok()) return s;  // The destructor removes whatever was created.
    return ns;
  }
  return absl::ResourceExhaustedError("no free 10.213.x.y/30 block");
}

absl::Status NetNamespace::Setup(int slot) {
  const std::string base = absl::StrCat("10.213.", slot / 64, ".");
  host_ip_ = absl::StrCat(base, (slot % 64) * 4 + 1);
  ns_ip_ = absl::StrCat(base, (slot % 64) * 4 + 2);
  if (absl::Status s = RunOk({"ip", "netns", "add", name_}); !s.ok()) return s;
  created_ = true;
  const std::vector<std::vector<std::string>> steps = {
      {"ip", "link", "add", host_veth_, "type", "veth", "peer", "name", ns_veth_},
      {"ip", "link", "set", ns_veth_, "netns", name_},
      {"ip", "addr", "add", host_ip_ + "/30", "dev", host_veth_},
      {"ip", "link", "set", host_veth_, "up"},
      {"ip", "-n", name_, "addr", "add", ns_ip_ + "/30", "dev", ns_veth_},
      {"ip", "-n", name_, "link", "set", ns_veth_, "up"},
      {"ip", "-n", name_, "link", "set", "lo", "up"},
  };
  for (const auto& step : steps) {
    if (absl::Status s = RunOk(step); !s.ok()) return s;
  }
  return absl::OkStatus();
}

NetNamespace::~NetNamespace() {
  // Best effort; the host end of the veth goes away with its peer.
  (void)RunCommand({"ip", "link", "delete", host_veth_});
  if (created_) (void)RunCommand({"ip", "netns", "delete", name_});
}

std::vector<std::string> NetNamespace::ExecPrefix() const { return {"ip", "netns", "exec", name_}; }

absl::Status NetNamespace::RunInside(const std::vector<std::string>& argv) const {
  std::vector<std::string> full = ExecPrefix();
  full.insert(full.end(), argv.begin(), argv.end());
  return RunOk(full);
}

absl::Status NetNamespace::Partition(Direction direction) {
  if (!HaveProgram("iptables")) {
    return absl::FailedPreconditionError(
        "iptables is not installed (scripts/setup.sh installs it)");
  }
  partitioned_ = true;  // Heal flushes whatever part was added.
  if (direction != Direction::kFromServer) {
    if (absl::Status s = RunInside({"iptables", "-A", "INPUT", "-s", host_ip_, "-j", "DROP"});
        !s.ok()) {
      return s;
    }
  }
  if (direction == Direction::kToServer) return absl::OkStatus();
  return RunInside({"iptables", "-A", "OUTPUT", "-d", host_ip_, "-j", "DROP"});
}

absl::Status NetNamespace::Isolate() {
  if (!HaveProgram("iptables")) return absl::FailedPreconditionError("iptables is not installed");
  partitioned_ = true;
  if (absl::Status s = RunInside({"iptables", "-A", "INPUT", "-i", ns_veth_, "-j", "DROP"});
      !s.ok()) {
    return s;
  }
  return RunInside({"iptables", "-A", "OUTPUT", "-o", ns_veth_, "-j", "DROP"});
}

absl::Status NetNamespace::DropPeer(const std::string& ip) {
  if (!HaveProgram("iptables")) return absl::FailedPreconditionError("iptables is not installed");
  partitioned_ = true;
  if (absl::Status s = RunInside({"iptables", "-A", "INPUT", "-s", ip, "-j", "DROP"}); !s.ok()) {
    return s;
  }
  return RunInside({"iptables", "-A", "OUTPUT", "-d", ip, "-j", "DROP"});
}

absl::Status NetNamespace::AddDefaultRoute() {
  return RunOk({"ip", "-n", name_, "route", "add", "default", "via", host_ip_});
}

absl::Status NetNamespace::HealPartition() {
  if (!partitioned_) return absl::OkStatus();
  absl::Status s = RunInside({"iptables", "-F", "INPUT"});
  s.Update(RunInside({"iptables", "-F", "OUTPUT"}));
  if (s.ok()) partitioned_ = false;
  return s;
}

absl::Status NetNamespace::SetNetem(int delay_ms, int jitter_ms, double loss_percent) {
  if (!HaveProgram("tc")) return absl::FailedPreconditionError("tc is not installed");
  const std::vector<std::string> netem = {"root",
                                          "netem",
                                          "delay",
                                          absl::StrCat(delay_ms, "ms"),
                                          absl::StrCat(jitter_ms, "ms"),
                                          "loss",
                                          absl::StrCat(loss_percent, "%")};
  std::vector<std::string> host = {"tc", "qdisc", "replace", "dev", host_veth_};
  host.insert(host.end(), netem.begin(), netem.end());
  std::vector<std::string> inside = {"tc", "qdisc", "replace", "dev", ns_veth_};
  inside.insert(inside.end(), netem.begin(), netem.end());
  netem_ = true;
  if (absl::Status s = RunOk(host); !s.ok()) return s;
  return RunInside(inside);
}

absl::Status NetNamespace::ClearNetem() {
  if (!netem_) return absl::OkStatus();
  // "No such file" when a side has no qdisc: fine, so only the spawn can fail.
  absl::StatusOr<CommandResult> a = RunCommand({"tc", "qdisc", "del", "dev", host_veth_, "root"});
  std::vector<std::string> inside = ExecPrefix();
  for (const char* arg : {"tc", "qdisc", "del", "dev", ns_veth_.c_str(), "root"}) {
    inside.push_back(arg);
  }
  absl::StatusOr<CommandResult> b = RunCommand(inside);
  if (!a.ok()) return a.status();
  if (!b.ok()) return b.status();
  netem_ = false;
  return absl::OkStatus();
}

absl::Status NetNamespace::HealAll() {
  absl::Status s = HealPartition();
  s.Update(ClearNetem());
  return s;
}

}  // namespace herald::fault
