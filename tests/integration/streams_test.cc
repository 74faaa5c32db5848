// Stream lifecycle and operability: vanished consumers leak nothing, 1000+
// concurrent subscriptions, health, reflection, metrics, pause/resume.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tests/harness/child_process.h"
#include "tests/integration/fixture.h"

namespace herald::testing {
namespace {

constexpr char kChildAddressEnv[] = "HERALD_IT_CHILD_ADDRESS";

class Streams : public IntegrationTest {
 protected:
  // herald_active_streams summed over its labels; nullopt if unreadable.
  std::optional<double> ActiveStreams() {
    auto metrics = HttpGet(server_->metrics_port(), "/metrics");
    if (!metrics.ok() || metrics->status_code != 200) return std::nullopt;
    return MetricValue(metrics->body, "herald_active_streams").value_or(0);
  }

  int64_t RssKb() {
    auto rss = server_->RssKb();
    EXPECT_TRUE(rss.ok()) << rss.status();
    return rss.value_or(0);
  }

  // Opens `count` subscriptions from the earliest offset over `channels`
  // channels, each one having received the topic's first record.
  std::vector<std::unique_ptr<SubscribeClient>> OpenSubscribers(const std::string& topic, int count,
                                                                int channels) {
    std::vector<std::unique_ptr<herald::v1::Broker::Stub>> stubs;
    for (int c = 0; c < channels; ++c) stubs.push_back(server_->NewBrokerStub());
    std::vector<std::unique_ptr<SubscribeClient>> subs;
    for (int i = 0; i < count; ++i) {
      subs.push_back(std::make_unique<SubscribeClient>(
          stubs[i % channels].get(), StartRequest({{topic, 0}}, Earliest(), 1'000'000)));
    }
    for (auto& sub : subs) {
      EXPECT_EQ(sub->ReadRecords(1, 30'000).size(), 1u) << "a subscriber got no record";
    }
    // The stubs may go: channels stay alive while calls reference them.
    return subs;
  }
};

TEST_F(Streams, CancelledSubscribersLeakNoStreamsOrMemory) {
  MakeTopic("leak", 1);
  ASSERT_TRUE(ProduceOnce(broker_.get(), "leak", 0, MakeBatch(1, std::string(1000, 'x'))).ok());
  std::vector<int64_t> rss_kb;
  for (int round = 0; round < 4; ++round) {
    auto subs = OpenSubscribers("leak", 200, 4);
    std::optional<double> open = ActiveStreams();
    ASSERT_TRUE(open.has_value()) << "herald_active_streams not exported";
    EXPECT_GE(*open, 200) << "round " << round;
    // Abrupt: cancel every stream mid-subscription without a half-close.
    for (auto& sub : subs) sub->Cancel();
    subs.clear();
    EXPECT_TRUE(Eventually([&] { return ActiveStreams() == 0.0; }, 10'000))
        << "herald_active_streams stayed at " << ActiveStreams().value_or(-1);
    rss_kb.push_back(RssKb());
  }
  std::cout << "server RSS after each round of 200 cancelled subscribers (KiB):";
  for (int64_t kb : rss_kb) std::cout << " " << kb;
  std::cout << std::endl;
  // The first round warms allocator pools; later rounds must not keep growing.
  EXPECT_LT(rss_kb.back() - rss_kb[1], 16 * 1024) << "RSS grows with every round";
  ExpectHealthy();
}

// Run in a child process by the test below: holds subscriptions open until
// SIGKILLed. Skipped when run directly.
TEST(StreamsChild, HoldSubscriptionsUntilKilled) {
  const char* address = getenv(kChildAddressEnv);
  if (address == nullptr) GTEST_SKIP() << "only run as a child of KilledSubscriberProcess...";
  auto stub =
      herald::v1::Broker::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::vector<std::unique_ptr<SubscribeClient>> subs;
  for (int i = 0; i < 50; ++i) {
    subs.push_back(std::make_unique<SubscribeClient>(
        stub.get(), StartRequest({{"vanish", 0}}, Earliest(), 1'000'000)));
  }
  for (auto& sub : subs) ASSERT_EQ(sub->ReadRecords(1, 30'000).size(), 1u);
  std::cout << "CHILD-READY" << std::endl;
  pause();  // Until SIGKILL.
}

TEST_F(Streams, KilledSubscriberProcessLeaksNoStreams) {
  MakeTopic("vanish", 1);
  ASSERT_TRUE(ProduceOnce(broker_.get(), "vanish", 0, MakeBatch(1, "v")).ok());
  auto child = ChildTest::Spawn("StreamsChild.HoldSubscriptionsUntilKilled",
                                {{kChildAddressEnv, server_->address()}});
  ASSERT_TRUE(child.ok()) << child.status();
  // Blocks until the child reports its streams are live (or dies: EOF).
  const bool ready = (*child)->WaitForOutput("CHILD-READY", 60'000);
  const std::optional<double> open = ActiveStreams();
  (*child)->Kill();
  const std::string output = (*child)->output();
  ASSERT_TRUE(ready) << "child output:\n" << output;
  EXPECT_GE(open.value_or(0), 50);
  EXPECT_TRUE(Eventually([&] { return ActiveStreams() == 0.0; }, 15'000))
      << "streams of a SIGKILLed client were not released: herald_active_streams="
      << ActiveStreams().value_or(-1);
  ExpectHealthy();
}

TEST_F(Streams, ThousandConcurrentSubscribersAllReceiveAProducedRecord) {
  MakeTopic("fanout", 1);
  const int64_t rss_before_kb = RssKb();
  std::vector<std::unique_ptr<herald::v1::Broker::Stub>> stubs;
  for (int c = 0; c < 4; ++c) stubs.push_back(server_->NewBrokerStub());
  std::vector<std::unique_ptr<SubscribeClient>> subs;
  for (int i = 0; i < 1200; ++i) {
    subs.push_back(std::make_unique<SubscribeClient>(
        stubs[i % 4].get(), StartRequest({{"fanout", 0}}, Earliest(), 100)));
  }
  // Earliest on an empty topic: every subscriber gets the record whenever
  // its subscription was set up.
  const int64_t start_ms = SteadyNowMs();
  ASSERT_TRUE(ProduceOnce(broker_.get(), "fanout", 0, MakeBatch(1, "to-all")).ok());
  int received = 0;
  for (auto& sub : subs) {
    auto records = sub->ReadRecords(1, 30'000);
    if (records.size() == 1 && records[0].record.value() == "to-all-0") ++received;
  }
  const int64_t fanout_ms = SteadyNowMs() - start_ms;
  EXPECT_EQ(received, 1200);
  ExpectHealthy();
  const std::optional<double> open = ActiveStreams();
  EXPECT_GE(open.value_or(0), 1200);
  const int64_t rss_after_kb = RssKb();
  std::cout << "1200 subscribers: all received in " << fanout_ms << " ms; server RSS "
            << rss_before_kb << " KiB -> " << rss_after_kb << " KiB" << std::endl;
  RecordProperty("rss_1200_streams_kb", static_cast<int>(rss_after_kb));
  subs.clear();
  EXPECT_TRUE(Eventually([&] { return ActiveStreams() == 0.0; }, 15'000));
}

TEST_F(Streams, HealthIsServingAndReflectionListsTheServices) {
  ExpectHealthy();
  auto services = ListReflectionServices(server_->NewChannel());
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services, ::testing::IsSupersetOf({"herald.v1.Broker", "herald.v1.Admin"}));
}

// `promtool check metrics` (Prometheus's own linter: names, units, types,
// help) on the exposition. scripts/setup.sh installs it; skipped without it.
void ExpectPromtoolAccepts(const std::string& exposition) {
  if (access("/usr/bin/promtool", X_OK) != 0) {
    std::cout << "promtool not installed: lint skipped" << std::endl;
    return;
  }
  char path[] = "/tmp/herald-metrics-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, exposition.data(), exposition.size()),
            static_cast<ssize_t>(exposition.size()));
  close(fd);
  const std::string command = absl::StrCat("/usr/bin/promtool check metrics < ", path, " 2>&1");
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  unlink(path);
  EXPECT_EQ(status, 0) << "promtool check metrics:\n" << output;
}

TEST_F(Streams, MetricsAreValidPrometheusTextWithProduceCounters) {
  MakeTopic("metered", 2);
  ASSERT_TRUE(ProduceOnce(broker_.get(), "metered", 0, MakeBatch(5, "m")).ok());
  ASSERT_TRUE(ProduceOnce(broker_.get(), "metered", 1, MakeBatch(2, "m")).ok());
  std::string body;
  EXPECT_TRUE(Eventually(
      [&] {
        auto r = HttpGet(server_->metrics_port(), "/metrics");
        if (!r.ok() || r->status_code != 200) return false;
        body = r->body;
        return MetricValue(body, "herald_produce_records_total", {{"topic", "metered"}}) == 7.0;
      },
      10'000))
      << "herald_produce_records_total{topic=\"metered\"} = "
      << MetricValue(body, "herald_produce_records_total", {{"topic", "metered"}}).value_or(-1);
  const absl::Status valid = ValidatePrometheusText(body);
  EXPECT_TRUE(valid.ok()) << valid;
  ExpectPromtoolAccepts(body);
  EXPECT_GT(MetricValue(body, "herald_produce_bytes_total", {{"topic", "metered"}}).value_or(0), 0);
  EXPECT_TRUE(MetricValue(body, "herald_build_info").has_value());
  EXPECT_TRUE(Eventually(
      [&] {
        auto r = HttpGet(server_->metrics_port(), "/metrics");
        return r.ok() && MetricValue(r->body, "herald_partition_high_watermark",
                                     {{"topic", "metered"}, {"partition", "0"}}) == 5.0;
      },
      10'000))
      << "herald_partition_high_watermark{topic=\"metered\",partition=\"0\"} != 5";
}

TEST_F(Streams, PausedServerTimesOutAndResumesServing) {
  MakeTopic("paused", 1);
  server_->Pause();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  herald::v1::FetchRequest request;
  request.set_topic("paused");
  herald::v1::FetchResponse response;
  EXPECT_EQ(broker_->Fetch(&context, request, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  server_->Resume();
  auto produced = ProduceOnce(broker_.get(), "paused", 0, MakeBatch(1, "after"));
  ASSERT_TRUE(produced.ok()) << produced.status();
  EXPECT_FALSE(produced->has_error());
  ExpectHealthy();
}

}  // namespace
}  // namespace herald::testing
