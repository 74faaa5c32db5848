// The gRPC edge over real in-process gRPC, against a fake broker core.
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "herald/v1/admin.grpc.pb.h"
#include "herald/v1/broker.grpc.pb.h"
#include "server/server.h"

namespace herald::server {
namespace {

using namespace std::chrono_literals;

// Shared between a FakeSubscription (owned by the reactor) and the test.
struct SubState {
  std::mutex mu;
  std::condition_variable cv;
  broker::SubscriptionSink* sink = nullptr;
  bool closed = false;
  int delivery_done = 0;
  int64_t credit_records = 0;
  broker::SubscribeOptions options;

  // Calls the sink like the broker would (never after Close).
  bool Deliver(std::vector<broker::FetchedBatch> batches) {
    std::lock_guard<std::mutex> lock(mu);
    if (closed) return false;
    sink->OnBatches(std::move(batches));
    return true;
  }
  void Fail(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu);
    if (!closed) sink->OnError(std::move(status));
  }
  template <typename Pred>
  bool WaitFor(Pred pred) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, 10s, pred);
  }
};

class FakeSubscription : public broker::Subscription {
 public:
  explicit FakeSubscription(std::shared_ptr<SubState> s) : s_(std::move(s)) {}
  void AddCredit(int64_t records, int64_t bytes) override {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->credit_records += records;
    s_->cv.notify_all();
  }
  void DeliveryDone() override {
    std::lock_guard<std::mutex> lock(s_->mu);
    ++s_->delivery_done;
    s_->cv.notify_all();
  }
  absl::StatusOr<int64_t> Seek(const std::string& topic, int32_t partition,
                               const broker::StartPosition& position) override {
    if (topic != "t") return absl::NotFoundError("not subscribed");
    return position.value;
  }
  void Close() override {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->closed = true;
    s_->cv.notify_all();
  }

 private:
  std::shared_ptr<SubState> s_;
};

// Topic "t" exists with 2 partitions. Produce answers inline unless held.
class FakeBroker : public broker::Broker {
 public:
  absl::Status Start() override { return absl::OkStatus(); }
  void Shutdown() override {
    std::vector<std::shared_ptr<SubState>> subs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      subs = subs_;
    }
    ReleaseHeld();
    for (auto& s : subs) s->Fail(absl::UnavailableError("broker shutting down"));
  }
  absl::StatusOr<broker::TopicInfo> CreateTopic(const std::string& name, int32_t partitions,
                                                int32_t rf,
                                                const broker::TopicConfigUpdate&) override {
    if (name == "t") return absl::AlreadyExistsError("topic \"t\" already exists");
    broker::TopicInfo info;
    info.name = name;
    info.partition_count = partitions;
    return info;
  }
  absl::Status DeleteTopic(const std::string& name) override {
    return name == "t" ? absl::OkStatus() : absl::NotFoundError("topic not found");
  }
  std::vector<broker::TopicInfo> ListTopics() override { return {Topic()}; }
  absl::StatusOr<broker::TopicInfo> DescribeTopic(const std::string& name) override {
    if (name != "t") return absl::NotFoundError("topic \"" + name + "\" not found");
    return Topic();
  }
  absl::StatusOr<broker::TopicConfig> AlterTopicConfig(const std::string&,
                                                       const broker::TopicConfigUpdate&) override {
    return broker::TopicConfig{};
  }
  absl::StatusOr<broker::TopicInfo> CreatePartitions(const std::string&, int32_t) override {
    return Topic();
  }
  broker::ClusterInfo DescribeCluster() override { return {"cid", 0, {{0, "x:1", ""}}}; }

  void Produce(broker::ProduceBatch batch, broker::ProduceCallback done) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++produce_calls_;
    cv_.notify_all();
    if (batch.topic != "t") {
      lock.unlock();
      return done(absl::NotFoundError("topic \"" + batch.topic + "\" not found"));
    }
    broker::ProduceResult r{batch.partition.value_or(0), next_offset_, 1234, 1, false};
    next_offset_ += 1;
    if (hold_) {
      held_.push_back([r, done = std::move(done)]() mutable { done(r); });
      return;
    }
    lock.unlock();
    done(r);
  }
  void Fetch(const broker::FetchRequest& request, broker::FetchCallback done) override {
    if (request.topic != "t") return done(absl::NotFoundError("topic not found"));
    broker::FetchResult result;
    result.high_watermark = 1;
    BatchHeader h;
    h.record_count = 1;
    v1::RecordBatch records;
    records.add_records()->set_value("fetched");
    result.batches.push_back(
        {"t", request.partition, h, EncodeBatch(h, records.SerializeAsString())});
    done(std::move(result));
  }
  absl::StatusOr<std::vector<broker::ListedOffset>> ListOffsets(
      const std::string& topic, const std::vector<int32_t>&,
      const broker::StartPosition&) override {
    if (topic != "t") return absl::NotFoundError("topic not found");
    return std::vector<broker::ListedOffset>{{0, 5, -1, 0, 5}};
  }
  absl::StatusOr<std::unique_ptr<broker::Subscription>> Subscribe(
      const broker::SubscribeOptions& options, broker::SubscriptionSink* sink) override {
    for (const auto& t : options.topics) {
      if (t != "t") return absl::NotFoundError("topic not found");
    }
    auto state = std::make_shared<SubState>();
    state->sink = sink;
    state->credit_records = options.initial_credit_records;
    state->options = options;
    std::lock_guard<std::mutex> lock(mu_);
    subs_.push_back(state);
    cv_.notify_all();
    return std::make_unique<FakeSubscription>(state);
  }
  std::vector<absl::Status> CommitOffsets(const std::string&,
                                          const std::vector<broker::CommittedOffset>& o) override {
    return std::vector<absl::Status>(o.size(), absl::OkStatus());
  }
  absl::StatusOr<std::vector<broker::CommittedOffset>> FetchCommittedOffsets(
      const std::string&, const std::vector<std::pair<std::string, int32_t>>&) override {
    return std::vector<broker::CommittedOffset>{};
  }
  std::vector<PartitionGauge> PartitionGauges() override { return {{"t", 0, 9, 1, 100}}; }
  std::vector<std::pair<std::string, double>> StorageStats() override {
    return {{"rocksdb.live-data-size", 5}};
  }

  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  void ReleaseHeld() {
    std::vector<absl::AnyInvocable<void()>> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_ = false;
      held.swap(held_);
    }
    for (auto& h : held) h();
  }
  bool WaitProduceCalls(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return produce_calls_ >= n; });
  }
  int produce_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return produce_calls_;
  }
  std::shared_ptr<SubState> WaitSubscription(size_t index) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, 10s, [&] { return subs_.size() > index; })) return nullptr;
    return subs_[index];
  }

 private:
  static broker::TopicInfo Topic() {
    broker::TopicInfo t;
    t.name = "t";
    t.partition_count = 2;
    t.partitions.resize(2);
    t.partitions[1].partition = 1;
    return t;
  }
  std::mutex mu_;
  std::condition_variable cv_;
  int produce_calls_ = 0;
  int64_t next_offset_ = 0;
  bool hold_ = false;
  std::vector<absl::AnyInvocable<void()>> held_;
  std::vector<std::shared_ptr<SubState>> subs_;
};

class EdgeTest : public ::testing::Test {
 protected:
  void StartServer(int64_t max_inflight_bytes = 8 << 20) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.shutdown_grace_ms = 2000;
    options.edge.max_stream_inflight_bytes = max_inflight_bytes;
    server_ = std::make_unique<HeraldServer>(&broker_, options);
    ASSERT_TRUE(server_->Start().ok());
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::Broker::NewStub(channel_);
    admin_ = v1::Admin::NewStub(channel_);
  }
  void SetUp() override { StartServer(); }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  static v1::ProduceRequest Request(uint64_t id, const std::string& topic,
                                    v1::Acks acks = v1::ACKS_ALL, size_t value_bytes = 10) {
    v1::ProduceRequest r;
    r.set_request_id(id);
    r.set_topic(topic);
    r.set_acks(acks);
    r.mutable_batch()->add_records()->set_value(std::string(value_bytes, 'v'));
    return r;
  }

  FakeBroker broker_;
  std::unique_ptr<HeraldServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Broker::Stub> stub_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(EdgeTest, ProduceAcksEachBatchWithItsRequestId) {
  grpc::ClientContext ctx;
  auto stream = stub_->Produce(&ctx);
  for (uint64_t id = 10; id < 13; ++id) ASSERT_TRUE(stream->Write(Request(id, "t")));
  std::vector<v1::ProduceResponse> got(3);
  for (auto& r : got) ASSERT_TRUE(stream->Read(&r));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].request_id(), 10u + i);
    EXPECT_EQ(got[i].base_offset(), i);
    EXPECT_EQ(got[i].record_count(), 1);
    EXPECT_EQ(got[i].log_append_time_ms(), 1234);
    EXPECT_FALSE(got[i].has_error());
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(EdgeTest, ProduceReportsAFailedBatchInBandAndTheStreamSurvives) {
  grpc::ClientContext ctx;
  auto stream = stub_->Produce(&ctx);
  ASSERT_TRUE(stream->Write(Request(1, "missing")));
  v1::ProduceResponse r;
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.request_id(), 1u);
  EXPECT_EQ(r.error().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));

  v1::ProduceRequest bad = Request(2, "t");
  bad.set_partition(-1);
  ASSERT_TRUE(stream->Write(bad));
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.error().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(r.error().message().find("partition"), std::string::npos);

  bad = Request(3, "bad name!");
  ASSERT_TRUE(stream->Write(bad));
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.error().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));

  bad = Request(4, "t");
  bad.set_acks(static_cast<v1::Acks>(99));
  ASSERT_TRUE(stream->Write(bad));
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.error().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));

  ASSERT_TRUE(stream->Write(Request(5, "t")));
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.request_id(), 5u);
  EXPECT_FALSE(r.has_error());
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(EdgeTest, ProduceWithAcksNoneSendsNoSuccessResponse) {
  grpc::ClientContext ctx;
  auto stream = stub_->Produce(&ctx);
  ASSERT_TRUE(stream->Write(Request(1, "t", v1::ACKS_NONE)));
  ASSERT_TRUE(stream->Write(Request(2, "missing", v1::ACKS_NONE)));  // errors still reported
  ASSERT_TRUE(stream->Write(Request(3, "t", v1::ACKS_ALL)));
  v1::ProduceResponse r;
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.request_id(), 2u);
  EXPECT_TRUE(r.has_error());
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.request_id(), 3u);
  stream->WritesDone();
  EXPECT_FALSE(stream->Read(&r));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(EdgeTest, ProduceStopsReadingWhileUnackedBytesExceedTheBound) {
  server_->Shutdown();
  server_.reset();
  StartServer(/*max_inflight_bytes=*/1000);
  broker_.Hold();
  grpc::ClientContext ctx;
  auto stream = stub_->Produce(&ctx);
  // 600-byte batches: the first two fit under 1000 bytes unacked (reading
  // stops once the second pushes past it); the rest wait in transport
  // buffers.
  for (uint64_t id = 0; id < 6; ++id)
    ASSERT_TRUE(stream->Write(Request(id, "t", v1::ACKS_ALL, 600)));
  ASSERT_TRUE(broker_.WaitProduceCalls(2));
  // A negative check needs some time to pass; 300 ms is ample on loopback.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(broker_.produce_calls(), 2);
  broker_.ReleaseHeld();  // acks drain: reading resumes (now answered inline)
  ASSERT_TRUE(broker_.WaitProduceCalls(4));
  broker_.ReleaseHeld();
  ASSERT_TRUE(broker_.WaitProduceCalls(6));
  broker_.ReleaseHeld();
  // Acks of concurrent requests may come in any order; each comes once.
  std::set<uint64_t> ids;
  v1::ProduceResponse r;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(stream->Read(&r));
    EXPECT_FALSE(r.has_error());
    ids.insert(r.request_id());
  }
  EXPECT_EQ(ids, (std::set<uint64_t>{0, 1, 2, 3, 4, 5}));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(EdgeTest, SubscribeRequiresStartFirst) {
  grpc::ClientContext ctx;
  auto stream = stub_->Subscribe(&ctx);
  v1::SubscribeRequest req;
  req.mutable_credit()->set_records(1);
  ASSERT_TRUE(stream->Write(req));
  v1::SubscribeResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  grpc::Status s = stream->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("start"), std::string::npos);
}

TEST_F(EdgeTest, SubscribeGroupStartReachesTheBrokerAsGroupOptions) {
  grpc::ClientContext ctx;
  auto stream = stub_->Subscribe(&ctx);
  v1::SubscribeRequest req;
  req.mutable_start()->add_topics("t");
  req.mutable_start()->set_group("g");
  req.mutable_start()->set_instance_id("i-1");
  req.mutable_start()->set_session_timeout_ms(5000);
  ASSERT_TRUE(stream->Write(req));
  auto sub = broker_.WaitSubscription(0);
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(sub->options.group, "g");
  EXPECT_EQ(sub->options.instance_id, "i-1");
  EXPECT_EQ(sub->options.session_timeout_ms, 5000);
  ctx.TryCancel();
  stream->Finish();
}

TEST_F(EdgeTest, SubscribeGroupWithExplicitPartitionsIsInvalidArgument) {
  grpc::ClientContext ctx;
  auto stream = stub_->Subscribe(&ctx);
  v1::SubscribeRequest req;
  req.mutable_start()->set_group("g");
  auto* p = req.mutable_start()->add_partitions();
  p->set_topic("t");
  ASSERT_TRUE(stream->Write(req));
  v1::SubscribeResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(EdgeTest, SubscribeSendsOneResponsePerDeliveryAndAcknowledgesIt) {
  grpc::ClientContext ctx;
  auto stream = stub_->Subscribe(&ctx);
  v1::SubscribeRequest req;
  req.mutable_start()->add_topics("t");
  req.mutable_start()->mutable_credit()->set_records(100);
  ASSERT_TRUE(stream->Write(req));
  auto sub = broker_.WaitSubscription(0);
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(sub->credit_records, 100);

  v1::RecordBatch records;
  records.add_records()->set_value("one");
  records.add_records()->set_value("two");
  BatchHeader h;
  h.base_offset = 7;
  h.record_count = 2;
  std::vector<broker::FetchedBatch> batches;
  batches.push_back({"t", 1, h, EncodeBatch(h, records.SerializeAsString())});
  batches.push_back({"t", 0, h, EncodeBatch(h, records.SerializeAsString())});
  ASSERT_TRUE(sub->Deliver(std::move(batches)));

  v1::SubscribeResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_EQ(resp.batches().batches_size(), 2);
  EXPECT_EQ(resp.batches().batches(0).partition(), 1);
  EXPECT_EQ(resp.batches().batches(0).base_offset(), 7);
  EXPECT_EQ(resp.batches().batches(0).records(1).value(), "two");
  EXPECT_TRUE(sub->WaitFor([&] { return sub->delivery_done == 1; }));

  req.mutable_credit()->set_records(5);
  ASSERT_TRUE(stream->Write(req));
  EXPECT_TRUE(sub->WaitFor([&] { return sub->credit_records == 105; }));

  req.mutable_seek()->set_topic("t");
  req.mutable_seek()->mutable_position()->set_offset(3);
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_TRUE(resp.has_seek_result());
  EXPECT_EQ(resp.seek_result().offset(), 3);
  EXPECT_FALSE(resp.seek_result().has_error());

  req.mutable_seek()->set_topic("other");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.seek_result().error().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));

  // Half-close does not end a started subscription: deliveries continue.
  stream->WritesDone();
  ASSERT_TRUE(sub->Deliver({}));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_TRUE(resp.has_batches());
  ctx.TryCancel();
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(sub->WaitFor([&] { return sub->closed; }));
}

TEST_F(EdgeTest, SubscribeClosesTheSubscriptionWhenTheClientCancels) {
  grpc::ClientContext ctx;
  auto stream = stub_->Subscribe(&ctx);
  v1::SubscribeRequest req;
  req.mutable_start()->add_topics("t");
  ASSERT_TRUE(stream->Write(req));
  auto sub = broker_.WaitSubscription(0);
  ASSERT_NE(sub, nullptr);
  ctx.TryCancel();
  EXPECT_TRUE(sub->WaitFor([&] { return sub->closed; }));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(EdgeTest, SubscribeUnknownTopicIsNotFound) {
  grpc::ClientContext ctx;
  auto stream = stub_->Subscribe(&ctx);
  v1::SubscribeRequest req;
  req.mutable_start()->add_topics("nope");
  ASSERT_TRUE(stream->Write(req));
  v1::SubscribeResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(EdgeTest, ShutdownEndsOpenStreamsWithUnavailable) {
  grpc::ClientContext pctx, sctx;
  auto produce = stub_->Produce(&pctx);
  ASSERT_TRUE(produce->Write(Request(1, "t")));
  v1::ProduceResponse presp;
  ASSERT_TRUE(produce->Read(&presp));
  auto subscribe = stub_->Subscribe(&sctx);
  v1::SubscribeRequest req;
  req.mutable_start()->add_topics("t");
  ASSERT_TRUE(subscribe->Write(req));
  ASSERT_NE(broker_.WaitSubscription(0), nullptr);

  std::thread stopper([&] { server_->Shutdown(); });
  EXPECT_FALSE(produce->Read(&presp));
  grpc::Status ps = produce->Finish();
  EXPECT_EQ(ps.error_code(), grpc::StatusCode::UNAVAILABLE) << ps.error_message();
  v1::SubscribeResponse sresp;
  EXPECT_FALSE(subscribe->Read(&sresp));
  EXPECT_EQ(subscribe->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  stopper.join();
}

TEST_F(EdgeTest, FetchReturnsStoredRecordsAndMapsErrors) {
  grpc::ClientContext ctx;
  v1::FetchRequest req;
  req.set_topic("t");
  v1::FetchResponse resp;
  ASSERT_TRUE(stub_->Fetch(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.batches_size(), 1);
  EXPECT_EQ(resp.batches(0).records(0).value(), "fetched");
  EXPECT_EQ(resp.high_watermark(), 1);

  grpc::ClientContext ctx2;
  req.set_topic("missing");
  EXPECT_EQ(stub_->Fetch(&ctx2, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext ctx3;
  req.set_topic("t");
  req.set_offset(-1);
  EXPECT_EQ(stub_->Fetch(&ctx3, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(EdgeTest, AdminAndUnaryRpcsAnswerThroughTheBroker) {
  {
    grpc::ClientContext ctx;
    v1::DescribeTopicRequest req;
    req.set_name("t");
    v1::DescribeTopicResponse resp;
    ASSERT_TRUE(admin_->DescribeTopic(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.topic().partitions_size(), 2);
  }
  {
    grpc::ClientContext ctx;
    v1::DescribeTopicRequest req;
    req.set_name("nope");
    v1::DescribeTopicResponse resp;
    EXPECT_EQ(admin_->DescribeTopic(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::CreateTopicRequest req;
    req.set_name("..");
    v1::CreateTopicResponse resp;
    EXPECT_EQ(admin_->CreateTopic(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    v1::ListGroupsResponse resp;
    EXPECT_TRUE(admin_->ListGroups(&ctx, {}, &resp).ok());
    EXPECT_EQ(resp.groups_size(), 0);
  }
  {
    grpc::ClientContext ctx;
    v1::InitProducerResponse resp;  // the fake broker has no idempotent producers
    EXPECT_EQ(stub_->InitProducer(&ctx, {}, &resp).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
  {
    grpc::ClientContext ctx;
    v1::ListOffsetsRequest req;
    req.set_topic("t");
    req.mutable_position()->set_named(static_cast<v1::StartPosition::Named>(42));
    v1::ListOffsetsResponse resp;
    EXPECT_EQ(stub_->ListOffsets(&ctx, req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_F(EdgeTest, MetricsCountProduceAndForgetDeletedTopics) {
  grpc::ClientContext ctx;
  auto stream = stub_->Produce(&ctx);
  ASSERT_TRUE(stream->Write(Request(1, "t")));
  v1::ProduceResponse r;
  ASSERT_TRUE(stream->Read(&r));
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());
  std::string text = server_->metrics()->Render();
  EXPECT_NE(text.find("herald_produce_records_total{topic=\"t\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("herald_partition_high_watermark{partition=\"0\",topic=\"t\"} 9"),
            std::string::npos);
  EXPECT_NE(text.find("herald_storage_rocksdb_live_data_size 5"), std::string::npos);

  grpc::ClientContext dctx;
  v1::DeleteTopicRequest del;
  del.set_name("t");
  v1::DeleteTopicResponse dresp;
  ASSERT_TRUE(admin_->DeleteTopic(&dctx, del, &dresp).ok());
  text = server_->metrics()->Render();
  EXPECT_EQ(text.find("herald_produce_records_total{topic=\"t\"}"), std::string::npos);
}

}  // namespace
}  // namespace herald::server
