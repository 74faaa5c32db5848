// Consumer groups and idempotent produce in the broker core (memory store,
// FakeClock: sessions expire only when the test advances time and ticks).
#include <memory>

#include "broker/broker.h"
#include "broker/broker_impl.h"
#include "broker/group_test_util.h"
#include "broker/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace herald::broker {
namespace {

using testing::GroupSink;
using testing::OneRecord;
using testing::ProduceSync;
using testing::ProduceTo;

class GroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.clock = &clock_;
    options_.group_tick_interval_ms = 3'600'000;  // ticks are driven by the tests
    options_.group_revoke_timeout_ms = 5'000;
    auto broker = OpenBroker(options_, storage::NewMemoryLogStore(&clock_));
    ASSERT_TRUE(broker.ok()) << broker.status();
    broker_ = *std::move(broker);
    ASSERT_TRUE(broker_->Start().ok());
    ASSERT_TRUE(broker_->CreateTopic("t", 4, 1, {}).ok());
  }

  struct Member {
    std::unique_ptr<GroupSink> sink = std::make_unique<GroupSink>();
    std::unique_ptr<Subscription> sub;
  };

  Member Join(const std::string& group, const std::string& instance_id = "",
              bool auto_revoke_done = true) {
    Member m;
    SubscribeOptions o;
    o.group = group;
    o.topics = {"t"};
    o.instance_id = instance_id;
    o.reset = StartPosition::Earliest();
    o.session_timeout_ms = 2'000;
    o.initial_credit_records = 1'000'000;
    o.initial_credit_bytes = 1 << 30;
    auto sub = broker_->Subscribe(o, m.sink.get());
    EXPECT_TRUE(sub.ok()) << sub.status();
    if (!sub.ok()) return m;
    m.sub = *std::move(sub);
    m.sink->Attach(m.sub.get(), auto_revoke_done);
    m.sub->DeliveryDone();  // in case a delivery came before Attach
    return m;
  }

  void Tick() { static_cast<BrokerImpl*>(broker_.get())->RunGroupTickOnce(); }

  FakeClock clock_;
  BrokerOptions options_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(GroupTest, OneMemberGetsEveryPartitionAndReadsFromCommittedOffset) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("v")).ok());
  ASSERT_TRUE(broker_->CommitOffsets("g", {{"t", 0, 3, ""}})[0].ok());
  Member a = Join("g");
  ASSERT_TRUE(a.sink->WaitForOwned(4));
  EXPECT_FALSE(a.sub->member_id().empty());
  ASSERT_TRUE(a.sink->WaitUntil([&] { return a.sink->batches_locked() == 2; }));
  EXPECT_EQ(a.sink->batches()[0].header.base_offset, 3);  // committed, not earliest
  EXPECT_EQ(a.sink->foreign_batches(), 0);
}

TEST_F(GroupTest, SecondMemberTakesHalfAndOnlyMovedPartitionsPause) {
  Member a = Join("g");
  ASSERT_TRUE(a.sink->WaitForOwned(4));
  Member b = Join("g");
  ASSERT_TRUE(b.sink->WaitForOwned(2));
  ASSERT_TRUE(a.sink->WaitForOwned(2));
  // A was revoked exactly the two partitions B got; it kept the others.
  ASSERT_EQ(a.sink->revokes().size(), 1u);
  EXPECT_EQ(a.sink->revokes()[0].partitions.size(), 2u);
  for (const auto& tp : b.sink->owned()) EXPECT_EQ(a.sink->owned().count(tp), 0u);
  // Every partition's records reach exactly its owner.
  for (int p = 0; p < 4; ++p) ASSERT_TRUE(ProduceTo(broker_.get(), "t", p, OneRecord("x")).ok());
  ASSERT_TRUE(a.sink->WaitUntil([&] { return a.sink->batches_locked() == 2; }));
  ASSERT_TRUE(b.sink->WaitUntil([&] { return b.sink->batches_locked() == 2; }));
  EXPECT_EQ(a.sink->foreign_batches(), 0);
  EXPECT_EQ(b.sink->foreign_batches(), 0);
  // B leaves: A gets everything back.
  b.sub->Close();
  ASSERT_TRUE(a.sink->WaitForOwned(4));
}

TEST_F(GroupTest, RevokedPartitionIsNotDeliveredBeforeRevokeDoneHandsItOver) {
  Member a = Join("g", "", /*auto_revoke_done=*/false);
  ASSERT_TRUE(a.sink->WaitForOwned(4));
  Member b = Join("g");
  ASSERT_TRUE(a.sink->WaitUntil([&] { return a.sink->owned_locked().size() == 2; }));
  EXPECT_TRUE(b.sink->owned().empty());  // not free until A confirms
  for (int p = 0; p < 4; ++p) ASSERT_TRUE(ProduceTo(broker_.get(), "t", p, OneRecord("x")).ok());
  ASSERT_TRUE(a.sink->WaitUntil([&] { return a.sink->batches_locked() == 2; }));
  EXPECT_EQ(a.sink->foreign_batches(), 0);
  const GroupRevoke revoke = a.sink->revokes().at(0);
  EXPECT_GT(revoke.deadline_ms, 0);
  ASSERT_TRUE(a.sub->RevokeDone(revoke.generation, revoke.partitions).ok());
  ASSERT_TRUE(b.sink->WaitForOwned(2));
  ASSERT_TRUE(b.sink->WaitUntil([&] { return b.sink->batches_locked() == 2; }));
}

TEST_F(GroupTest, RevokeDeadlineTakesPartitionsFromASlowMember) {
  Member a = Join("g", "", /*auto_revoke_done=*/false);
  ASSERT_TRUE(a.sink->WaitForOwned(4));
  Member b = Join("g");
  ASSERT_TRUE(a.sink->WaitUntil([&] { return a.sink->owned_locked().size() == 2; }));
  // Past the 5 s revoke deadline, both sessions kept alive.
  for (int i = 0; i < 4; ++i) {
    clock_.AdvanceMs(1'500);
    ASSERT_TRUE(a.sub->Heartbeat().ok());
    ASSERT_TRUE(b.sub->Heartbeat().ok());
  }
  Tick();
  ASSERT_TRUE(b.sink->WaitForOwned(2));
  EXPECT_TRUE(a.sink->errors().empty());
}

TEST_F(GroupTest, CommitsAreFencedByGenerationAndOwnershipAndNeverGoBack) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("v")).ok());
  Member a = Join("g");
  ASSERT_TRUE(a.sink->WaitForOwned(4));
  const int64_t gen1 = a.sink->assignments().back().generation;
  const std::string id = a.sub->member_id();
  EXPECT_TRUE(broker_->CommitGroupOffsets("g", id, gen1, {{"t", 0, 2, ""}})[0].ok());
  // Standalone commits are refused while the group has members.
  EXPECT_EQ(broker_->CommitOffsets("g", {{"t", 0, 3, ""}})[0].code(),
            absl::StatusCode::kFailedPrecondition);
  Member b = Join("g");
  ASSERT_TRUE(b.sink->WaitForOwned(2));
  ASSERT_TRUE(a.sink->WaitForOwned(2));
  const int64_t gen2 = a.sink->assignments().back().generation;
  ASSERT_NE(gen1, gen2);
  EXPECT_EQ(broker_->CommitGroupOffsets("g", id, gen1, {{"t", 0, 3, ""}})[0].code(),
            absl::StatusCode::kAborted);
  const auto [topic, partition] = *b.sink->owned().begin();
  EXPECT_EQ(broker_->CommitGroupOffsets("g", id, gen2, {{topic, partition, 0, ""}})[0].code(),
            absl::StatusCode::kAborted);  // owned by B
  const auto [mine_topic, mine] = *a.sink->owned().begin();
  ASSERT_TRUE(ProduceTo(broker_.get(), "t", mine, OneRecord("v")).ok());
  const int64_t end = broker_->ListOffsets("t", {mine}, StartPosition::Latest())->at(0).offset;
  EXPECT_TRUE(a.sub->Commit({{mine_topic, mine, end, ""}})[0].ok());
  EXPECT_EQ(a.sub->Commit({{mine_topic, mine, end - 1, ""}})[0].code(),
            absl::StatusCode::kFailedPrecondition);  // backwards
}

TEST_F(GroupTest, SilentMemberIsFencedAndItsPartitionsMove) {
  Member a = Join("g");
  ASSERT_TRUE(a.sink->WaitForOwned(4));
  Member b = Join("g");
  ASSERT_TRUE(b.sink->WaitForOwned(2));
  clock_.AdvanceMs(1'500);
  ASSERT_TRUE(b.sub->Heartbeat().ok());
  clock_.AdvanceMs(1'000);  // A silent for 2.5 s > its 2 s session
  Tick();
  ASSERT_TRUE(a.sink->WaitUntil([&] { return a.sink->errors_locked() == 1; }));
  EXPECT_EQ(a.sink->errors()[0].code(), absl::StatusCode::kAborted);
  ASSERT_TRUE(b.sink->WaitForOwned(4));
}

TEST_F(GroupTest, StaticMemberRejoinKeepsPartitionsWithoutRebalance) {
  Member a = Join("g", "inst-a");
  ASSERT_TRUE(a.sink->WaitForOwned(4));
  Member b = Join("g");
  ASSERT_TRUE(b.sink->WaitForOwned(2));
  ASSERT_TRUE(a.sink->WaitForOwned(2));
  const auto a_owned = a.sink->owned();
  const auto rebalances = broker_->GroupGauges().at(0).rebalances;
  const size_t b_events = b.sink->assignments().size() + b.sink->revokes().size();
  a.sub->Close();
  Member a2 = Join("g", "inst-a");
  ASSERT_TRUE(a2.sink->WaitForOwned(2));
  EXPECT_EQ(a2.sink->owned(), a_owned);
  EXPECT_EQ(broker_->GroupGauges().at(0).rebalances, rebalances);
  EXPECT_EQ(b.sink->assignments().size() + b.sink->revokes().size(), b_events);
  EXPECT_EQ(broker_->GroupGauges().at(0).members, 2);
}

TEST_F(GroupTest, NewPartitionsAreRebalancedToMembers) {
  Member a = Join("g");
  ASSERT_TRUE(a.sink->WaitForOwned(4));
  ASSERT_TRUE(broker_->CreatePartitions("t", 6).ok());
  ASSERT_TRUE(a.sink->WaitForOwned(6));
  ASSERT_TRUE(ProduceTo(broker_.get(), "t", 5, OneRecord("new")).ok());
  ASSERT_TRUE(a.sink->WaitUntil([&] { return a.sink->batches_locked() == 1; }));
}

TEST_F(GroupTest, PatternSubscriptionPicksUpNewTopics) {
  SubscribeOptions o;
  o.group = "pg";
  o.topic_pattern = "logs-.*";
  o.reset = StartPosition::Earliest();
  o.initial_credit_records = 100;
  o.initial_credit_bytes = 1 << 20;
  GroupSink sink;
  auto sub = broker_->Subscribe(o, &sink);
  ASSERT_TRUE(sub.ok()) << sub.status();
  sink.Attach(sub->get(), true);
  ASSERT_TRUE(broker_->CreateTopic("logs-a", 2, 1, {}).ok());
  ASSERT_TRUE(sink.WaitForOwned(2));
}

TEST_F(GroupTest, AdminDescribesLagAndRefusesResetOrDeleteWhileActive) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(ProduceTo(broker_.get(), "t", 1, OneRecord("v")).ok());
  ASSERT_TRUE(broker_->CommitOffsets("g", {{"t", 1, 4, ""}})[0].ok());
  Member a = Join("g");
  ASSERT_TRUE(a.sink->WaitForOwned(4));
  auto d = broker_->DescribeGroup("g");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->state, "STABLE");
  ASSERT_EQ(d->members.size(), 1u);
  EXPECT_EQ(d->members[0].assignment.size(), 4u);
  ASSERT_EQ(d->partitions.size(), 4u);
  EXPECT_EQ(d->partitions[1].committed_offset, 4);
  EXPECT_EQ(d->partitions[1].high_watermark, 10);
  EXPECT_EQ(d->partitions[1].lag, 6);
  EXPECT_EQ(d->partitions[1].owner_member_id, a.sub->member_id());
  ResetOffsetsRequest reset{"g", "t", {1}, StartPosition::Earliest(), 0, false};
  EXPECT_EQ(broker_->ResetGroupOffsets(reset).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(broker_->DeleteGroup("g").code(), absl::StatusCode::kFailedPrecondition);
  a.sub->Close();
  ASSERT_EQ(broker_->ListGroups().size(), 1u);
  EXPECT_EQ(broker_->ListGroups()[0].state, "EMPTY");
  reset.dry_run = true;
  auto dry = broker_->ResetGroupOffsets(reset);
  ASSERT_TRUE(dry.ok()) << dry.status();
  EXPECT_EQ(dry->at(0).previous_offset, 4);
  EXPECT_EQ(dry->at(0).new_offset, 0);
  EXPECT_EQ(broker_->FetchCommittedOffsets("g", {{"t", 1}})->at(0).offset, 4);  // dry run
  ResetOffsetsRequest shift{"g", "t", {1}, std::nullopt, 100, false};
  EXPECT_EQ(broker_->ResetGroupOffsets(shift)->at(0).new_offset, 10);  // clamped
  reset.dry_run = false;
  EXPECT_EQ(broker_->ResetGroupOffsets(reset)->at(0).new_offset, 0);  // backwards: admin may
  EXPECT_EQ(broker_->FetchCommittedOffsets("g", {{"t", 1}})->at(0).offset, 0);
  ASSERT_TRUE(broker_->DeleteGroup("g").ok());
  EXPECT_TRUE(broker_->FetchCommittedOffsets("g", {})->empty());
  EXPECT_EQ(broker_->DescribeGroup("g").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(broker_->DeleteGroup("g").code(), absl::StatusCode::kNotFound);
}

TEST_F(GroupTest, TwoGroupsEachSeeEveryRecord) {
  Member a = Join("g1");
  Member b = Join("g2");
  ASSERT_TRUE(a.sink->WaitForOwned(4));
  ASSERT_TRUE(b.sink->WaitForOwned(4));
  for (int p = 0; p < 4; ++p) ASSERT_TRUE(ProduceTo(broker_.get(), "t", p, OneRecord("x")).ok());
  ASSERT_TRUE(a.sink->WaitUntil([&] { return a.sink->batches_locked() == 4; }));
  ASSERT_TRUE(b.sink->WaitUntil([&] { return b.sink->batches_locked() == 4; }));
}

// --- idempotent producer ---

ProduceBatch Idempotent(const ProducerId& id, int32_t partition, int32_t sequence,
                        const std::string& value) {
  ProduceBatch b;
  b.topic = "t";
  b.partition = partition;
  b.payload = OneRecord(value);
  b.producer_id = id.producer_id;
  b.producer_epoch = id.epoch;
  b.base_sequence = sequence;
  return b;
}

TEST_F(GroupTest, IdempotentRetryIsAnsweredWithTheOriginalOffset) {
  auto id = broker_->InitProducer("");
  ASSERT_TRUE(id.ok()) << id.status();
  ASSERT_TRUE(ProduceTo(broker_.get(), "t", 0, OneRecord("other")).ok());
  auto first = ProduceSync(broker_.get(), Idempotent(*id, 0, 0, "a"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->duplicate);
  // The ack was "lost": the producer sends the same batch again.
  auto retry = ProduceSync(broker_.get(), Idempotent(*id, 0, 0, "a"));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->base_offset, first->base_offset);
  EXPECT_EQ(broker_->ListOffsets("t", {0}, StartPosition::Latest())->at(0).offset, 2);
  auto gap = ProduceSync(broker_.get(), Idempotent(*id, 0, 5, "c"));
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(ProduceSync(broker_.get(), Idempotent(*id, 0, 1, "b")).ok());
  // Sequences are per partition.
  EXPECT_TRUE(ProduceSync(broker_.get(), Idempotent(*id, 1, 0, "p1")).ok());
}

TEST_F(GroupTest, NewTransactionalInstanceFencesTheOldOne) {
  auto old_id = broker_->InitProducer("tx");
  auto new_id = broker_->InitProducer("tx");
  ASSERT_TRUE(old_id.ok() && new_id.ok());
  EXPECT_EQ(old_id->producer_id, new_id->producer_id);
  EXPECT_GT(new_id->epoch, old_id->epoch);
  EXPECT_TRUE(ProduceSync(broker_.get(), Idempotent(*new_id, 0, 0, "n")).ok());
  EXPECT_EQ(ProduceSync(broker_.get(), Idempotent(*old_id, 0, 1, "o")).status().code(),
            absl::StatusCode::kAborted);
}

TEST_F(GroupTest, PipelinedIdempotentBatchesFromManyThreadsAreNeverDuplicated) {
  auto id = broker_->InitProducer("");
  ASSERT_TRUE(id.ok());
  // Every batch is sent twice, concurrently; each sequence lands once.
  constexpr int kBatches = 200;
  std::vector<std::thread> threads;
  std::atomic<int> appended{0};
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int s = 0; s < kBatches; ++s) {
        for (;;) {
          auto r = ProduceSync(broker_.get(), Idempotent(*id, 2, s, "v"));
          if (r.ok() && !r->duplicate) appended.fetch_add(1);
          if (r.ok() || absl::IsOutOfRange(r.status()) == false) break;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(appended.load(), kBatches);
  EXPECT_EQ(broker_->ListOffsets("t", {2}, StartPosition::Latest())->at(0).offset, kBatches);
}

}  // namespace
}  // namespace herald::broker
