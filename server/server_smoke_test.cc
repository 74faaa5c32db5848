// Starts the real herald-server binary and talks to it over real gRPC and
// HTTP, then stops it with SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "herald/v1/admin.grpc.pb.h"
#include "herald/v1/broker.grpc.pb.h"

namespace {

using namespace std::chrono_literals;

struct Ready {
  int grpc_port = 0;
  int metrics_port = 0;
};

// Polls for the ready file the server writes atomically once both ports are
// bound (a file has no condition to wait on; 20 ms polls, 30 s bound).
bool WaitReady(const std::string& path, pid_t pid, Ready* ready) {
  const std::regex re(R"re("grpc_port":(\d+),"metrics_port":(\d+))re");
  for (int i = 0; i < 1500; ++i) {
    std::ifstream f(path);
    std::stringstream text;
    text << f.rdbuf();
    std::smatch m;
    const std::string s = text.str();
    if (std::regex_search(s, m, re)) {
      ready->grpc_port = std::stoi(m[1]);
      ready->metrics_port = std::stoi(m[2]);
      return true;
    }
    if (waitpid(pid, nullptr, WNOHANG) == pid) return false;  // died
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

std::string HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, n);
    }
  }
  close(fd);
  return out;
}

void CreateSmokeTopic(herald::v1::Admin::Stub* admin) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  herald::v1::CreateTopicRequest req;
  req.set_name("smoke");
  req.set_partitions(2);
  herald::v1::CreateTopicResponse resp;
  grpc::Status s = admin->CreateTopic(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.topic().partitions_size(), 2);
}

void ProduceTwoRecords(herald::v1::Broker::Stub* broker) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  auto stream = broker->Produce(&ctx);
  herald::v1::ProduceRequest req;
  req.set_request_id(77);
  req.set_topic("smoke");
  req.set_partition(1);
  req.mutable_batch()->add_records()->set_value("hello");
  req.mutable_batch()->add_records()->set_value("world");
  ASSERT_TRUE(stream->Write(req));
  herald::v1::ProduceResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.request_id(), 77u);
  EXPECT_FALSE(resp.has_error()) << resp.error().message();
  EXPECT_EQ(resp.base_offset(), 0);
  EXPECT_EQ(resp.record_count(), 2);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

void SubscribeFromEarliest(herald::v1::Broker::Stub* broker) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  auto stream = broker->Subscribe(&ctx);
  herald::v1::SubscribeRequest req;
  auto* p = req.mutable_start()->add_partitions();
  p->set_topic("smoke");
  p->set_partition(1);
  p->mutable_position()->set_named(herald::v1::StartPosition::NAMED_EARLIEST);
  req.mutable_start()->mutable_credit()->set_records(100);
  req.mutable_start()->mutable_credit()->set_bytes(1 << 20);
  ASSERT_TRUE(stream->Write(req));
  herald::v1::SubscribeResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_GE(resp.batches().batches_size(), 1);
  const auto& batch = resp.batches().batches(0);
  EXPECT_EQ(batch.topic(), "smoke");
  EXPECT_EQ(batch.partition(), 1);
  ASSERT_EQ(batch.records_size(), 2);
  EXPECT_EQ(batch.records(1).value(), "world");
  ctx.TryCancel();
  stream->Finish();
}

void MeasurePipelinedProduce(herald::v1::Broker::Stub* broker) {
  // Pipelined produce over one stream (acks=ALL): a rough throughput
  // figure, printed, not asserted (the machine is shared).
  constexpr int kBatches = 1000;
  constexpr int kRecordsPerBatch = 100;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 60s);
  auto stream = broker->Produce(&ctx);
  herald::v1::ProduceRequest req;
  req.set_topic("smoke");
  req.set_partition(0);
  for (int i = 0; i < kRecordsPerBatch; ++i) {
    req.mutable_batch()->add_records()->set_value(std::string(100, 'x'));
  }
  const auto start = std::chrono::steady_clock::now();
  std::thread writer([&] {
    for (int i = 0; i < kBatches; ++i) {
      req.set_request_id(i);
      if (!stream->Write(req)) break;
    }
    stream->WritesDone();
  });
  int acked = 0;
  herald::v1::ProduceResponse resp;
  while (stream->Read(&resp)) acked += resp.has_error() ? 0 : 1;
  writer.join();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(acked, kBatches);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "pipelined produce: " << kBatches * kRecordsPerBatch / seconds << " records/s, "
            << kBatches * req.batch().ByteSizeLong() / seconds / (1 << 20) << " MiB/s (" << kBatches
            << " batches of " << kRecordsPerBatch << " x 100 B, acks=ALL)\n";
}

// SIGKILLs the server if a failed assertion leaves the test early.
struct ReapGuard {
  pid_t pid;
  bool reaped = false;
  ~ReapGuard() {
    if (reaped) return;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

TEST(ServerSmoke, ServesProduceSubscribeAndMetricsThenExitsCleanlyOnSigterm) {
  const std::string dir = ::testing::TempDir() + "/herald_smoke_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string ready_file = dir + "/ready.json";
  const std::string data_dir = dir + "/data";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl(HERALD_SERVER_BIN, HERALD_SERVER_BIN, "--listen", "127.0.0.1:0", "--metrics_listen",
          "127.0.0.1:0", "--data_dir", data_dir.c_str(), "--ready_file", ready_file.c_str(),
          "--log_level", "debug", static_cast<char*>(nullptr));
    _exit(127);
  }
  ReapGuard guard{pid};
  Ready ready;
  ASSERT_TRUE(WaitReady(ready_file, pid, &ready)) << "server did not become ready";
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(ready.grpc_port),
                                     grpc::InsecureChannelCredentials());
  auto admin = herald::v1::Admin::NewStub(channel);
  auto broker = herald::v1::Broker::NewStub(channel);
  ASSERT_NO_FATAL_FAILURE(CreateSmokeTopic(admin.get()));
  ASSERT_NO_FATAL_FAILURE(ProduceTwoRecords(broker.get()));
  ASSERT_NO_FATAL_FAILURE(SubscribeFromEarliest(broker.get()));
  ASSERT_NO_FATAL_FAILURE(MeasurePipelinedProduce(broker.get()));
  const std::string metrics = HttpGet(ready.metrics_port, "/metrics");
  EXPECT_NE(metrics.find("herald_produce_records_total{topic=\"smoke\"} 100002"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("herald_partition_high_watermark{partition=\"1\",topic=\"smoke\"} 2"),
            std::string::npos);
  EXPECT_NE(metrics.find("herald_build_info"), std::string::npos);

  // The client connection stays open: shutdown must not wait for clients
  // to go away beyond the grace period.
  const auto stop_start = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  guard.reaped = true;
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  std::cerr << "shutdown took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - stop_start)
                   .count()
            << " ms\n";
  std::filesystem::remove_all(dir);
}

TEST(ServerSmoke, BadFlagExitsWithCodeTwo) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl(HERALD_SERVER_BIN, HERALD_SERVER_BIN, "--bogus", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
