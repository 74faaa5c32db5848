#pragma once
// Shared fixture: every test gets its own herald-server on port 0.
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/client_helpers.h"
#include "tests/harness/server_process.h"

namespace herald::testing {

inline int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Polls `condition` every 20 ms until it holds or timeout_ms passes. Only for
// state the server exposes no notification for (metrics, retention).
template <typename F>
bool Eventually(F condition, int64_t timeout_ms) {
  const int64_t deadline_ms = SteadyNowMs() + timeout_ms;
  while (true) {
    if (condition()) return true;
    if (SteadyNowMs() >= deadline_ms) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

class IntegrationTest : public ::testing::Test {
 protected:
  // Extra server flags for the whole fixture; override in a subclass.
  virtual ServerOptions Options() { return {}; }

  void SetUp() override {
    auto server = ServerProcess::Start(Options());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    Connect();
  }

  // (Re)creates stubs, e.g. after a restart moved the ports.
  void Connect() {
    broker_ = server_->NewBrokerStub();
    admin_ = server_->NewAdminStub();
  }

  void RestartServer() {
    ASSERT_TRUE(server_->Restart().ok());
    Connect();
  }

  void MakeTopic(const std::string& name, int32_t partitions,
                 const herald::v1::TopicConfig& config = {}) {
    const grpc::Status status = CreateTopic(admin_.get(), name, partitions, config);
    ASSERT_TRUE(status.ok()) << "CreateTopic " << name << ": " << status.error_code() << " "
                             << status.error_message();
  }

  // The server answers health checks with SERVING.
  void ExpectHealthy() {
    absl::StatusOr<int> health = HealthCheck(server_->NewChannel());
    ASSERT_TRUE(health.ok()) << health.status();
    EXPECT_EQ(*health, 1) << "health status is not SERVING";
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<herald::v1::Broker::Stub> broker_;
  std::unique_ptr<herald::v1::Admin::Stub> admin_;
};

}  // namespace herald::testing
