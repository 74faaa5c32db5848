// The `herald` binary end to end against the real server: exit codes,
// stdout and stderr.
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/harness/server_process.h"

namespace {

using herald::testing::ServerProcess;

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `herald ARGS` through the shell with `stdin_text` on stdin.
CliResult RunCli(const ServerProcess& server, const std::string& args,
                 const std::string& stdin_text = "") {
  const std::string dir = server.dir();
  const std::string in_path = dir + "/cli_in";
  {
    std::ofstream in(in_path);
    in << stdin_text;
  }
  const std::string command = std::string(HERALD_CLI_BIN) + " --brokers " + server.address() + " " +
                              args + " < " + in_path + " > " + dir + "/cli_out 2> " + dir +
                              "/cli_err";
  const int status = std::system(command.c_str());
  CliResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(dir + "/cli_out");
  result.err = ReadFile(dir + "/cli_err");
  return result;
}

TEST(CliIntegration, CreateProduceConsumeRoundTrip) {
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const ServerProcess& s = **server;

  CliResult created = RunCli(s, "topic create events -p 3 -c retention_ms=86400000");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_NE(created.out.find("created topic events"), std::string::npos);

  CliResult produced =
      RunCli(s, "produce events --key-separator : --partition 1 -H src=cli", "a:1\nb:2\nc:3\n");
  ASSERT_EQ(produced.exit_code, 0) << produced.err;

  CliResult consumed = RunCli(s, "consume events -n 3 --format '%k %v %p %o %h'");
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_EQ(consumed.out, "a 1 1 0 src=cli\nb 2 1 1 src=cli\nc 3 1 2 src=cli\n");

  // Without -n, consume stops at the end of the log as it was at start.
  CliResult to_end = RunCli(s, "consume events --from 1 --format json");
  ASSERT_EQ(to_end.exit_code, 0) << to_end.err;
  EXPECT_NE(to_end.out.find("\"key\":\"b\",\"value\":\"2\""), std::string::npos) << to_end.out;
  EXPECT_EQ(to_end.out.find("\"key\":\"a\""), std::string::npos) << to_end.out;

  CliResult described = RunCli(s, "topic describe events");
  ASSERT_EQ(described.exit_code, 0) << described.err;
  EXPECT_NE(described.out.find("retention_ms       86400000"), std::string::npos) << described.out;

  CliResult listed = RunCli(s, "topic list");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("events  3"), std::string::npos) << listed.out;

  CliResult offsets = RunCli(s, "offsets list events");
  ASSERT_EQ(offsets.exit_code, 0) << offsets.err;
  EXPECT_NE(offsets.out.find("1  0  3"), std::string::npos) << offsets.out;

  EXPECT_EQ(RunCli(s, "topic add-partitions events --total 4").exit_code, 0);
  EXPECT_EQ(RunCli(s, "topic alter events -c retention_bytes=1000000").exit_code, 0);
  EXPECT_EQ(RunCli(s, "offsets commit --group g events -o 1=2").exit_code, 0);
  CliResult got = RunCli(s, "offsets get --group g");
  EXPECT_NE(got.out.find("events  1  2"), std::string::npos) << got.out << got.err;
  EXPECT_EQ(RunCli(s, "cluster info").exit_code, 0);
  EXPECT_EQ(RunCli(s, "topic delete events").exit_code, 0);
}

TEST(CliIntegration, UnknownTopicExitsWithOneAndNamesTheCode) {
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  CliResult consumed = RunCli(**server, "consume missing -n 1");
  EXPECT_EQ(consumed.exit_code, 1);
  EXPECT_NE(consumed.err.find("(NOT_FOUND)"), std::string::npos) << consumed.err;
  EXPECT_EQ(consumed.err.rfind("error: ", 0), 0u) << consumed.err;

  CliResult produced = RunCli(**server, "produce missing", "x\n");
  EXPECT_EQ(produced.exit_code, 1);
  EXPECT_NE(produced.err.find("(NOT_FOUND)"), std::string::npos) << produced.err;

  EXPECT_EQ(RunCli(**server, "topic describe missing").exit_code, 1);
}

TEST(CliIntegration, UsageErrorsExitWithTwo) {
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(RunCli(**server, "").exit_code, 2);
  EXPECT_EQ(RunCli(**server, "topic create").exit_code, 2);
  EXPECT_EQ(RunCli(**server, "consume t --from soon").exit_code, 2);
  EXPECT_EQ(RunCli(**server, "produce t --acks maybe").exit_code, 2);
  EXPECT_EQ(RunCli(**server, "topic create t -c colour=blue").exit_code, 2);
  EXPECT_EQ(RunCli(**server, "--help").exit_code, 0);
}

}  // namespace

namespace {

TEST(CliIntegration, GroupConsumeCommitsAndGroupCommandsShowAndResetIt) {
  auto server = ServerProcess::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  const ServerProcess& s = **server;
  ASSERT_EQ(RunCli(s, "topic create orders -p 2").exit_code, 0);
  ASSERT_EQ(RunCli(s, "produce orders --partition 0", "a\nb\nc\n").exit_code, 0);
  ASSERT_EQ(RunCli(s, "produce orders --partition 1", "d\ne\n").exit_code, 0);

  CliResult consumed = RunCli(s, "consume orders --group billing --from earliest -n 5");
  ASSERT_EQ(consumed.exit_code, 0) << consumed.err;
  EXPECT_EQ(consumed.out.size(), 10u) << consumed.out;  // five one-letter lines

  CliResult listed = RunCli(s, "group list");
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("billing"), std::string::npos) << listed.out;

  CliResult described = RunCli(s, "group describe billing");
  ASSERT_EQ(described.exit_code, 0) << described.err;
  EXPECT_NE(described.out.find("orders  0  3  3  0"), std::string::npos) << described.out;
  EXPECT_NE(described.out.find("orders  1  2  2  0"), std::string::npos) << described.out;

  CliResult dry = RunCli(s, "group reset billing orders --to earliest --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("orders  0  3  0"), std::string::npos) << dry.out;
  CliResult reset = RunCli(s, "group reset billing orders --shift-by -1");
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  // Resumes at the (shifted) commits: exactly the last record of each partition.
  CliResult tail = RunCli(s, "consume orders --group billing -n 2 --format '%p %v'");
  ASSERT_EQ(tail.exit_code, 0) << tail.err;
  EXPECT_TRUE(tail.out == "0 c\n1 e\n" || tail.out == "1 e\n0 c\n") << tail.out;

  ASSERT_EQ(RunCli(s, "group delete billing").exit_code, 0);
  EXPECT_EQ(RunCli(s, "group describe billing").exit_code, 1);
}

}  // namespace
