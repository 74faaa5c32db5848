#include "coordination/producer_state.h"

#include "coordination/fake_metadata_store.h"
#include "gtest/gtest.h"

namespace herald::coordination {
namespace {

using Kind = SequenceCheck::Kind;
const storage::PartitionKey kP0{7, 0};
const storage::PartitionKey kP1{7, 1};

class ProducerStateTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    mgr_.reset();
    ProducerStateOptions options;
    options.id_block_size = 10;
    auto m = ProducerStateManager::Open(options, &store_);
    ASSERT_TRUE(m.ok()) << m.status();
    mgr_ = std::move(*m);
  }
  ProducerIdentity Init(const std::string& txn = "") {
    auto id = mgr_->InitProducer(txn);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : ProducerIdentity{};
  }
  // Check + OnAppended at `offset`.
  void Append(ProducerIdentity id, storage::PartitionKey p, int32_t seq, int32_t count,
              int64_t offset) {
    auto c = mgr_->Check(id.producer_id, id.epoch, p, seq, count);
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_EQ(c->kind, Kind::kAppend);
    mgr_->OnAppended(id.producer_id, id.epoch, p, seq, count, offset, 1000 + offset);
  }

  testing::FakeMetadataStore store_;
  std::unique_ptr<ProducerStateManager> mgr_;
};

TEST_F(ProducerStateTest, IdsAreUniqueAcrossRestarts) {
  std::set<int64_t> seen;
  for (int restart = 0; restart < 3; ++restart) {
    for (int i = 0; i < 15; ++i) EXPECT_TRUE(seen.insert(Init().producer_id).second);
    Reopen();
  }
  // Blocks of 10: 15 ids need two writes per run (three runs), not 15.
  EXPECT_EQ(store_.write_calls(), 6);
}

TEST_F(ProducerStateTest, FailedIdReservationHandsOutNothing) {
  store_.set_fail_writes(true);
  EXPECT_EQ(mgr_->InitProducer("").status().code(), absl::StatusCode::kUnavailable);
  store_.set_fail_writes(false);
  EXPECT_EQ(Init().producer_id, 0);
}

TEST_F(ProducerStateTest, TransactionalIdBumpsEpochAndFencesOlderInstance) {
  ProducerIdentity first = Init("tx");
  Append(first, kP0, 0, 2, 0);
  ProducerIdentity second = Init("tx");
  EXPECT_EQ(second.producer_id, first.producer_id);
  EXPECT_EQ(second.epoch, first.epoch + 1);
  auto zombie = mgr_->Check(first.producer_id, first.epoch, kP0, 2, 1);
  EXPECT_EQ(zombie.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(zombie.status().message(), "producer fenced: epoch 0 < current 1");
  // The new epoch starts at sequence 0.
  EXPECT_EQ(mgr_->Check(second.producer_id, second.epoch, kP0, 2, 1).status().code(),
            absl::StatusCode::kOutOfRange);
  Append(second, kP0, 0, 1, 2);

  Reopen();
  ProducerIdentity third = Init("tx");
  EXPECT_EQ(third.producer_id, first.producer_id);
  EXPECT_EQ(third.epoch, 2) << "epochs are durable";
}

TEST_F(ProducerStateTest, RetriedBatchIsADuplicateWithItsOriginalOffset) {
  ProducerIdentity id = Init();
  Append(id, kP0, 0, 3, 100);
  Append(id, kP0, 3, 2, 103);
  auto dup = mgr_->Check(id.producer_id, id.epoch, kP0, 0, 3);
  ASSERT_TRUE(dup.ok()) << dup.status();
  EXPECT_EQ(dup->kind, Kind::kDuplicate);
  EXPECT_EQ(dup->base_offset, 100);
  EXPECT_EQ(dup->append_time_ms, 1100);
  // Sequences are per partition.
  Append(id, kP1, 0, 3, 0);
}

TEST_F(ProducerStateTest, OnlyTheLastFiveBatchesAreRecognised) {
  ProducerIdentity id = Init();
  for (int i = 0; i < 6; ++i) Append(id, kP0, i, 1, i);
  EXPECT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 1, 1)->kind, Kind::kDuplicate);
  EXPECT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 0, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ProducerStateTest, GapIsOutOfOrder) {
  ProducerIdentity id = Init();
  Append(id, kP0, 0, 1, 0);
  auto gap = mgr_->Check(id.producer_id, id.epoch, kP0, 5, 1);
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(gap.status().message(), "out of order sequence: expected 1, got 5");
}

TEST_F(ProducerStateTest, UnknownProducerIdIsNotFound) {
  EXPECT_EQ(mgr_->Check(42, 0, kP0, 0, 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(mgr_->Check(-1, 0, kP0, 0, 1).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ProducerStateTest, RetryOfPendingBatchIsUnavailableThenDuplicate) {
  ProducerIdentity id = Init();
  ASSERT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 0, 2)->kind, Kind::kAppend);
  // Pipelined: the next batch may be checked before the first is written.
  ASSERT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 2, 2)->kind, Kind::kAppend);
  EXPECT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 0, 2).status().code(),
            absl::StatusCode::kUnavailable);
  mgr_->OnAppended(id.producer_id, id.epoch, kP0, 0, 2, 50, 7);
  EXPECT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 0, 2)->base_offset, 50);
}

TEST_F(ProducerStateTest, FailedAppendRollsBackTheSequence) {
  ProducerIdentity id = Init();
  Append(id, kP0, 0, 1, 0);
  ASSERT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 1, 1)->kind, Kind::kAppend);
  ASSERT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 2, 1)->kind, Kind::kAppend);
  mgr_->OnAppendFailed(id.producer_id, id.epoch, kP0, 1, 1);
  EXPECT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 3, 1).status().code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 1, 1)->kind, Kind::kAppend);
}

TEST_F(ProducerStateTest, RecoverRebuildsDuplicateDetectionFromBatchHeaders) {
  ProducerIdentity id = Init();
  Append(id, kP0, 0, 1, 0);
  Reopen();
  std::vector<BatchHeader> tail(3);
  for (int i = 0; i < 3; ++i) {
    tail[i].producer_id = id.producer_id;
    tail[i].producer_epoch = id.epoch;
    tail[i].base_sequence = i * 2;
    tail[i].record_count = 2;
    tail[i].base_offset = 10 + i * 2;
    tail[i].append_time_ms = 99;
  }
  tail.push_back(BatchHeader{});  // not idempotent: ignored
  mgr_->Recover(kP0, tail);
  EXPECT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 2, 2)->base_offset, 12);
  EXPECT_EQ(mgr_->Check(id.producer_id, id.epoch, kP0, 6, 2)->kind, Kind::kAppend);
  EXPECT_EQ(mgr_->entry_count(), 1);
  mgr_->ForgetPartition(kP0);
  EXPECT_EQ(mgr_->entry_count(), 0);
}

TEST_F(ProducerStateTest, StateIsBoundedByEvictingLeastRecentlyUsed) {
  ProducerStateOptions options;
  options.max_entries = 2;
  auto m = ProducerStateManager::Open(options, nullptr);
  ASSERT_TRUE(m.ok());
  auto& mgr = **m;
  ProducerIdentity id = *mgr.InitProducer("");
  for (int32_t p = 0; p < 4; ++p) {
    ASSERT_TRUE(mgr.Check(id.producer_id, 0, {1, p}, 0, 1).ok());
    mgr.OnAppended(id.producer_id, 0, {1, p}, 0, 1, 0, 0);
  }
  EXPECT_EQ(mgr.entry_count(), 2);
  // Partition 0's state was forgotten: any sequence is accepted again.
  EXPECT_EQ(mgr.Check(id.producer_id, 0, {1, 0}, 9, 1)->kind, Kind::kAppend);
}

TEST_F(ProducerStateTest, MalformedRequestsAreInvalid) {
  ProducerIdentity id = Init();
  EXPECT_EQ(mgr_->Check(id.producer_id, 0, kP0, 0, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(mgr_->Check(id.producer_id, 0, kP0, -1, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace herald::coordination
