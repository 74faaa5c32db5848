#include "server/config.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace herald::server {
namespace {

struct Parsed {
  ConfigOutcome outcome;
  std::string out;
  std::string err;
};

Parsed Parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  std::vector<const char*> argv{"herald-server"};
  for (const auto& a : args) argv.push_back(a.c_str());
  EnvLookup lookup = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  std::ostringstream out, err;
  Parsed p;
  p.outcome = ParseConfig(static_cast<int>(argv.size()), argv.data(), lookup, out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Config, DefaultsAreSane) {
  Parsed p = Parse({});
  ASSERT_TRUE(p.outcome.config.has_value()) << p.err;
  const ServerConfig& c = *p.outcome.config;
  EXPECT_EQ(c.listen, "0.0.0.0:7420");
  EXPECT_EQ(c.metrics_listen, "0.0.0.0:7421");
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_EQ(c.advertised_address, DefaultAdvertisedAddress("0.0.0.0:7420"));
  EXPECT_EQ(c.max_stream_inflight_bytes, 8 << 20);
  EXPECT_EQ(c.shutdown_grace_ms, 10'000);
  EXPECT_EQ(c.log_format, "text");
}

TEST(Config, AdvertisedAddressReplacesAWildcardHostWithTheHostName) {
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof(name) - 1), 0);
  EXPECT_EQ(DefaultAdvertisedAddress("0.0.0.0:7420"), std::string(name) + ":7420");
  EXPECT_EQ(DefaultAdvertisedAddress("[::]:9000"), std::string(name) + ":9000");
  EXPECT_EQ(DefaultAdvertisedAddress("127.0.0.1:7420"), "127.0.0.1:7420");
  EXPECT_EQ(DefaultAdvertisedAddress("broker-0.herald:7420"), "broker-0.herald:7420");
}

TEST(Config, FlagBeatsEnvBeatsFileBeatsDefault) {
  const std::string file = WriteFile("herald.toml",
                                     "data_dir = \"/from/file\"\n"
                                     "node_id = 3\n"
                                     "log_level = \"warn\"\n"
                                     "default_partitions = 4\n");
  Parsed p = Parse({"--config", file, "--data_dir", "/from/flag"},
                   {{"HERALD_DATA_DIR", "/from/env"}, {"HERALD_NODE_ID", "7"}});
  ASSERT_TRUE(p.outcome.config.has_value()) << p.err;
  const ServerConfig& c = *p.outcome.config;
  EXPECT_EQ(c.data_dir, "/from/flag");  // flag > env > file
  EXPECT_EQ(c.node_id, 7);              // env > file
  EXPECT_EQ(c.log_level, "warn");       // file > default
  EXPECT_EQ(c.default_partitions, 4);
  EXPECT_EQ(c.listen, "0.0.0.0:7420");  // default
  EXPECT_EQ(c.config_file, file);
}

TEST(Config, ConfigFileCanComeFromTheEnvironment) {
  const std::string file = WriteFile("herald2.toml", "node_id = 9\n");
  Parsed p = Parse({}, {{"HERALD_CONFIG", file}});
  ASSERT_TRUE(p.outcome.config.has_value()) << p.err;
  EXPECT_EQ(p.outcome.config->node_id, 9);
}

TEST(Config, FlagWithEqualsSignAlsoBeatsEnv) {
  Parsed p = Parse({"--listen=127.0.0.1:0"}, {{"HERALD_LISTEN", "1.2.3.4:5"}});
  ASSERT_TRUE(p.outcome.config.has_value()) << p.err;
  EXPECT_EQ(p.outcome.config->listen, "127.0.0.1:0");
}

TEST(Config, BadFlagsExitWithCodeTwoAndAClearMessage) {
  Parsed unknown = Parse({"--no_such_flag", "1"});
  EXPECT_FALSE(unknown.outcome.config.has_value());
  EXPECT_EQ(unknown.outcome.exit_code, 2);
  EXPECT_NE(unknown.err.find("no_such_flag"), std::string::npos) << unknown.err;

  Parsed bad_value = Parse({"--node_id", "abc"});
  EXPECT_EQ(bad_value.outcome.exit_code, 2);
  Parsed bad_format = Parse({"--log_format", "xml"});
  EXPECT_EQ(bad_format.outcome.exit_code, 2);
  Parsed bad_env = Parse({}, {{"HERALD_SHUTDOWN_GRACE_MS", "-5"}});
  EXPECT_EQ(bad_env.outcome.exit_code, 2);
  Parsed missing_file = Parse({"--config", "/nonexistent/herald.toml"});
  EXPECT_EQ(missing_file.outcome.exit_code, 2);
}

TEST(Config, HelpExitsZeroAndListsFlagsAndEnvironment) {
  Parsed p = Parse({"--help"});
  EXPECT_FALSE(p.outcome.config.has_value());
  EXPECT_EQ(p.outcome.exit_code, 0);
  EXPECT_NE(p.out.find("--max_stream_inflight_bytes"), std::string::npos);
  EXPECT_NE(p.out.find("HERALD_"), std::string::npos);
}

}  // namespace
}  // namespace herald::server

namespace herald::server {
namespace {

TEST(Config, NodeIdFromStatefulSetOrdinal) {
  EXPECT_EQ(*NodeIdFromOrdinal("herald-0"), 1);
  EXPECT_EQ(*NodeIdFromOrdinal("my-release-herald-12"), 13);
  EXPECT_EQ(NodeIdFromOrdinal("herald").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NodeIdFromOrdinal("").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace herald::server
