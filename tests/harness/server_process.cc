#include "tests/harness/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "gtest/gtest.h"

extern char** environ;

namespace herald::testing {
namespace {

#ifndef HERALD_SERVER_BIN
#define HERALD_SERVER_BIN ""
#endif

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Finds `"key":<integer>` in a flat JSON object. The ready file is written by
// our own server, so a full JSON parser is not needed.
bool JsonInt(const std::string& json, const std::string& key, int64_t* value) {
  const std::string needle = absl::StrCat("\"", key, "\"");
  size_t pos = json.find(needle);
  if (pos == std::string::npos) return false;
  pos = json.find(':', pos + needle.size());
  if (pos == std::string::npos) return false;
  ++pos;
  while (pos < json.size() && (json[pos] == ' ' || json[pos] == '\t')) ++pos;
  size_t end = pos;
  while (end < json.size() && (isdigit(json[end]) || json[end] == '-')) ++end;
  return absl::SimpleAtoi(json.substr(pos, end - pos), value);
}

int DecodeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

// Replaces the flag's value if present in `args`, else appends it.
void SetFlag(std::vector<std::string>* args, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < args->size(); ++i) {
    if ((*args)[i] == flag) {
      (*args)[i + 1] = value;
      return;
    }
  }
  args->push_back(flag);
  args->push_back(value);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(ServerOptions options) {
  std::unique_ptr<ServerProcess> server(new ServerProcess(std::move(options)));
  const char* env_bin = getenv("HERALD_SERVER_BIN");
  server->binary_ = !server->options_.binary.empty()           ? server->options_.binary
                    : (env_bin != nullptr && *env_bin != '\0') ? env_bin
                                                               : HERALD_SERVER_BIN;
  if (server->binary_.empty() || access(server->binary_.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("herald-server binary not executable: '", server->binary_, "'"));
  }
  std::string tmpl = (std::filesystem::temp_directory_path() / "herald-it-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  }
  server->dir_ = tmpl;
  server->data_dir_ = tmpl + "/data";
  server->ready_file_ = tmpl + "/ready.json";
  server->log_path_ = tmpl + "/server.log";
  if (absl::Status s = server->Spawn(); !s.ok()) return s;
  if (absl::Status s = server->WaitReady(); !s.ok()) return s;
  return server;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill();
  if (dir_.empty()) return;
  if (::testing::Test::HasFailure() || getenv("HERALD_KEEP_TEST_DIRS") != nullptr) {
    std::cerr << "---- herald-server log tail (" << log_path_ << ") ----\n"
              << LogTail() << "\n---- end of server log ----" << std::endl;
    return;
  }
  std::error_code ignored;  // Best effort: a leftover temp dir is harmless.
  std::filesystem::remove_all(dir_, ignored);
}

std::string ServerProcess::address() const {
  return absl::StrCat(options_.listen_host, ":", grpc_port_);
}

std::shared_ptr<grpc::Channel> ServerProcess::NewChannel() const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<herald::v1::Broker::Stub> ServerProcess::NewBrokerStub() const {
  return herald::v1::Broker::NewStub(NewChannel());
}

std::unique_ptr<herald::v1::Admin::Stub> ServerProcess::NewAdminStub() const {
  return herald::v1::Admin::NewStub(NewChannel());
}

absl::Status ServerProcess::Spawn() {
  unlink(ready_file_.c_str());
  std::vector<std::string> args = {binary_};
  const bool same_ports = options_.restart_on_same_ports && grpc_port_ > 0;
  const std::string& host = options_.listen_host;
  const int grpc_port = options_.grpc_port > 0 ? options_.grpc_port : same_ports ? grpc_port_ : 0;
  const int metrics_port = options_.metrics_port > 0         ? options_.metrics_port
                           : same_ports && metrics_port_ > 0 ? metrics_port_
                                                             : 0;
  SetFlag(&args, "--listen", absl::StrCat(host, ":", grpc_port));
  SetFlag(&args, "--metrics_listen", absl::StrCat(host, ":", metrics_port));
  SetFlag(&args, "--data_dir", data_dir_);
  SetFlag(&args, "--ready_file", ready_file_);
  for (const std::string& flag : options_.extra_flags) args.push_back(flag);
  args.insert(args.begin(), options_.command_prefix.begin(), options_.command_prefix.end());
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  for (const auto& [name, value] : options_.env) env.push_back(absl::StrCat(name, "=", value));
  // Everything the child touches is prepared before fork: after fork in a
  // multi-threaded process only async-signal-safe calls are allowed.
  std::vector<char*> argv, envp;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::InternalError(absl::StrCat("open log: ", strerror(errno)));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // The parent died before prctl.
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    if (options_.command_prefix.empty()) {
      execve(argv[0], argv.data(), envp.data());
    } else {
      execvpe(argv[0], argv.data(), envp.data());  // The prefix is looked up in PATH.
    }
    _exit(127);
  }
  close(log_fd);
  setpgid(pid, pid);  // Also from the parent, so Kill never races the child's setpgid.
  pid_ = pid;
  return absl::OkStatus();
}

absl::Status ServerProcess::ReadReadyFile(bool* ready) {
  *ready = false;
  std::ifstream in(ready_file_);
  if (!in) return absl::OkStatus();  // Not written yet.
  std::stringstream buffer;
  buffer << in.rdbuf();
  int64_t grpc_port = 0, metrics_port = 0, pid = 0;
  // The server renames a complete file into place, so a parse failure is a
  // real bug rather than a torn write.
  if (!JsonInt(buffer.str(), "grpc_port", &grpc_port) || !JsonInt(buffer.str(), "pid", &pid)) {
    return absl::InternalError(absl::StrCat("malformed ready file: ", buffer.str()));
  }
  JsonInt(buffer.str(), "metrics_port", &metrics_port);  // Absent if metrics are off.
  if (pid != pid_) {
    return absl::InternalError(absl::StrCat("ready file pid ", pid, " != child pid ", pid_));
  }
  grpc_port_ = static_cast<int>(grpc_port);
  metrics_port_ = static_cast<int>(metrics_port);
  *ready = true;
  return absl::OkStatus();
}

absl::Status ServerProcess::WaitReady() {
  const int64_t deadline_ms = NowMs() + options_.ready_timeout_ms;
  while (NowMs() < deadline_ms) {
    bool ready = false;
    if (absl::Status s = ReadReadyFile(&ready); !s.ok()) return s;
    if (ready) return absl::OkStatus();
    int wait_status = 0;
    if (waitpid(pid_, &wait_status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("herald-server exited with ",
                                              DecodeWaitStatus(wait_status),
                                              " before becoming ready; log tail:\n", LogTail()));
    }
    // Polling a file: the server offers no other readiness signal.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  return absl::DeadlineExceededError(absl::StrCat(
      "herald-server not ready after ", options_.ready_timeout_ms, " ms; log tail:\n", LogTail()));
}

bool ServerProcess::IsRunning() {
  if (pid_ <= 0) return false;
  int wait_status = 0;
  if (waitpid(pid_, &wait_status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

bool ServerProcess::WaitExit(int64_t timeout_ms, int* wait_status) {
  const int64_t deadline_ms = NowMs() + timeout_ms;
  while (true) {
    const pid_t r = waitpid(pid_, wait_status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) return true;
    if (NowMs() >= deadline_ms) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  int wait_status = 0;
  waitpid(pid_, &wait_status, 0);
  pid_ = -1;
}

absl::StatusOr<int> ServerProcess::Terminate(int64_t timeout_ms) {
  if (pid_ <= 0) return absl::FailedPreconditionError("server is not running");
  kill(pid_, SIGCONT);  // A paused server could not handle SIGTERM.
  kill(pid_, SIGTERM);
  int wait_status = 0;
  if (!WaitExit(timeout_ms, &wait_status)) {
    Kill();
    return absl::DeadlineExceededError(
        absl::StrCat("herald-server did not exit within ", timeout_ms, " ms of SIGTERM"));
  }
  pid_ = -1;
  return DecodeWaitStatus(wait_status);
}

namespace {

// True once every thread of `pid` is stopped ('T' in /proc/<pid>/task/*/stat).
bool AllThreadsStopped(pid_t pid) {
  std::error_code error;
  const std::filesystem::path tasks = absl::StrCat("/proc/", pid, "/task");
  for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
    std::ifstream in(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The state follows the command name, which is in parentheses and may
    // itself contain spaces or parentheses: look after the last ')'.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) continue;  // thread exited
    const char state = stat[close + 2];
    if (state != 'T' && state != 't') return false;
  }
  return !error;
}

}  // namespace

// SIGSTOP is delivered asynchronously: a thread already running on another
// core can still answer a request after kill() returns. Wait until every
// thread is really stopped, so a test's next call meets a frozen server.
void ServerProcess::Pause() {
  if (pid_ <= 0) return;
  kill(pid_, SIGSTOP);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!AllThreadsStopped(pid_) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void ServerProcess::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

absl::Status ServerProcess::Restart() {
  Kill();
  if (absl::Status s = Spawn(); !s.ok()) return s;
  return WaitReady();
}

absl::StatusOr<int64_t> ServerProcess::RssKb() const {
  if (pid_ <= 0) return absl::FailedPreconditionError("server is not running");
  std::ifstream in(absl::StrCat("/proc/", pid_, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    int64_t kb = 0;
    if (fields >> kb) return kb;
  }
  return absl::NotFoundError("VmRSS not found");
}

std::string ServerProcess::LogTail(size_t max_bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  if (!in) return "(no log)";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > static_cast<std::streamoff>(max_bytes)
                                   ? size - static_cast<std::streamoff>(max_bytes)
                                   : 0;
  in.seekg(start);
  std::string tail(static_cast<size_t>(size - start), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  return tail;
}

}  // namespace herald::testing
