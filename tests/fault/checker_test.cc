// Hand-made histories: one clean, and for every rule one that breaks only
// it, so each rule is shown to fire (and not to fire on sane histories).
#include "tests/fault/checker.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace herald::fault {
namespace {

// Builds histories with explicit times (microseconds).
class Builder {
 public:
  Builder& Send(const std::string& value, Outcome outcome, int32_t partition = -1,
                int64_t offset = -1) {
    Op op = Make(OpType::kSend, 0, value, partition, offset, outcome);
    ops_.push_back(op);
    return *this;
  }
  Builder& Poll(int process, int32_t partition, int64_t offset, const std::string& value) {
    ops_.push_back(Make(OpType::kPoll, process, value, partition, offset, Outcome::kOk));
    return *this;
  }
  Builder& Reset(int process) {
    ops_.push_back(Make(OpType::kReset, process, "", -1, -1, Outcome::kOk));
    return *this;
  }
  Builder& Final(int32_t partition, int64_t offset, const std::string& value) {
    ops_.push_back(Make(OpType::kFinalRead, 99, value, partition, offset, Outcome::kOk));
    return *this;
  }
  // A commit or fetch over [invoke_us, complete_us].
  Builder& Commit(int64_t offset, Outcome outcome, int64_t invoke_us, int64_t complete_us) {
    Op op = Make(OpType::kCommit, 1, "", 0, offset, outcome);
    op.group = "g";
    op.invoke_us = invoke_us;
    op.complete_us = complete_us;
    ops_.push_back(op);
    return *this;
  }
  Builder& Fetch(int64_t offset, int64_t invoke_us, int64_t complete_us) {
    Op op = Make(OpType::kFetchCommitted, 2, "", 0, offset, Outcome::kOk);
    op.group = "g";
    op.invoke_us = invoke_us;
    op.complete_us = complete_us;
    ops_.push_back(op);
    return *this;
  }
  std::vector<Op> Build() const { return ops_; }

 private:
  Op Make(OpType type, int process, const std::string& value, int32_t partition, int64_t offset,
          Outcome outcome) {
    Op op;
    op.index = static_cast<int64_t>(ops_.size());
    op.process = process;
    op.type = type;
    op.value = value;
    op.partition = partition;
    op.offset = offset;
    op.outcome = outcome;
    op.invoke_us = static_cast<int64_t>(ops_.size()) * 10;
    op.complete_us = op.invoke_us + 5;
    return op;
  }
  std::vector<Op> ops_;
};

// The rules that fired, as a string ("" when clean).
std::string Rules(const CheckResult& result) {
  std::string rules;
  for (char r : std::string("abcdefgh")) {
    if (result.Has(r)) rules.push_back(r);
  }
  return rules;
}

Builder Clean() {
  Builder b;
  b.Send("v1", Outcome::kOk, 0, 0)
      .Send("v2", Outcome::kOk, 0, 1)
      .Send("v3", Outcome::kUnknown)  // lost in flight: fine
      .Send("v4", Outcome::kUnknown)  // written without an ack: fine, once
      .Send("v5", Outcome::kFail)
      .Send("v6", Outcome::kOk, 1, 0)
      .Poll(1, 0, 0, "v1")
      .Poll(1, 0, 1, "v2")
      .Reset(1)
      .Poll(1, 0, 1, "v2")  // re-read after a rebalance: allowed
      .Poll(2, 1, 0, "v6")
      .Commit(2, Outcome::kOk, 1000, 1010)
      .Fetch(2, 1020, 1030)
      .Final(0, 0, "v1")
      .Final(0, 1, "v2")
      .Final(0, 2, "v4")
      .Final(1, 0, "v6");
  return b;
}

TEST(CheckerTest, CleanHistoryPasses) {
  const CheckResult result = CheckHistory(Clean().Build());
  EXPECT_TRUE(result.ok()) << result.Summary();
  EXPECT_EQ(result.sends_ok, 3);
  EXPECT_EQ(result.sends_unknown, 2);
  EXPECT_EQ(result.unknown_in_log, 1);
  EXPECT_EQ(result.final_records, 4);
}

TEST(CheckerTest, EmptyHistoryPasses) { EXPECT_TRUE(CheckHistory({}).ok()); }

TEST(CheckerTest, A_TwoValuesAtOneOffset) {
  // Two consumers read different values at partition 1 offset 0.
  const CheckResult result = CheckHistory(Clean().Poll(3, 1, 0, "v1x").Build());
  EXPECT_TRUE(result.Has('a')) << result.Summary();
}

TEST(CheckerTest, B_AckedSendLost) {
  Builder b = Clean();
  b.Send("v7", Outcome::kOk, 1, 1);  // acked, never in the final log
  EXPECT_EQ(Rules(CheckHistory(b.Build())), "b");
}

TEST(CheckerTest, B_AckedSendAtAnotherOffset) {
  Builder b = Clean();
  b.Send("v7", Outcome::kOk, 1, 1).Final(1, 2, "v7");
  const CheckResult result = CheckHistory(b.Build());
  EXPECT_EQ(Rules(result), "b");
  EXPECT_NE(result.Summary().find("found at partition 1 offset 2"), std::string::npos)
      << result.Summary();
}

TEST(CheckerTest, C_FailedSendInLog) {
  EXPECT_EQ(Rules(CheckHistory(Clean().Final(1, 1, "v5").Build())), "c");
}

TEST(CheckerTest, C_NeverSentValueInLog) {
  EXPECT_EQ(Rules(CheckHistory(Clean().Final(1, 1, "phantom").Build())), "c");
}

TEST(CheckerTest, D_UnknownSendTwice) {
  EXPECT_EQ(Rules(CheckHistory(Clean().Final(0, 3, "v4").Build())), "d");
}

TEST(CheckerTest, E_AckedValueTwice) {
  EXPECT_EQ(Rules(CheckHistory(Clean().Final(1, 1, "v6").Build())), "e");
}

TEST(CheckerTest, F_PolledRecordVanished) {
  // Consumer 3 read v3 at partition 0 offset 5; the final log ends at 2.
  EXPECT_EQ(Rules(CheckHistory(Clean().Poll(3, 0, 5, "v3").Build())), "f");
}

TEST(CheckerTest, G_OffsetsGoBackWithoutReset) {
  EXPECT_EQ(Rules(CheckHistory(Clean().Poll(1, 0, 0, "v1").Build())), "g");
}

TEST(CheckerTest, G_RepeatedOffsetWithoutReset) {
  EXPECT_EQ(Rules(CheckHistory(Clean().Poll(2, 1, 0, "v6").Build())), "g");
}

TEST(CheckerTest, G_ResetOfAnotherConsumerDoesNotExcuse) {
  EXPECT_EQ(Rules(CheckHistory(Clean().Reset(2).Poll(1, 0, 0, "v1").Build())), "g");
}

TEST(CheckerTest, H_FetchBelowAckedCommit) {
  EXPECT_EQ(Rules(CheckHistory(Clean().Fetch(1, 2000, 2010).Build())), "h");
}

TEST(CheckerTest, H_FetchBelowEarlierFetch) {
  Builder b = Clean();
  b.Fetch(5, 3000, 3010).Fetch(4, 3020, 3030);
  // 5 was never committed: only the fetch-vs-fetch check can see 5 -> 4.
  const CheckResult result = CheckHistory(b.Build());
  EXPECT_TRUE(result.Has('h')) << result.Summary();
}

TEST(CheckerTest, H_FetchNothingAfterCommit) {
  EXPECT_EQ(Rules(CheckHistory(Clean().Fetch(-1, 2000, 2010).Build())), "h");
}

TEST(CheckerTest, H_LowerCommitAppliedLaterExplainsFetch) {
  // A commit of 1 overlapping the commit of 2 may be applied after it.
  Builder b = Clean();
  b.Commit(1, Outcome::kOk, 1005, 1040).Fetch(1, 2000, 2010);
  EXPECT_TRUE(CheckHistory(b.Build()).ok());
}

TEST(CheckerTest, H_UnknownCommitExplainsFetch) {
  Builder b = Clean();
  b.Commit(1, Outcome::kUnknown, 1500, 0).Fetch(1, 2000, 2010);
  EXPECT_TRUE(CheckHistory(b.Build()).ok());
}

TEST(CheckerTest, H_FailedCommitDoesNotExplainFetch) {
  Builder b = Clean();
  b.Commit(1, Outcome::kFail, 1500, 1510).Fetch(1, 2000, 2010);
  EXPECT_EQ(Rules(CheckHistory(b.Build())), "h");
}

TEST(CheckerTest, H_CommitFinishedBeforeTheHigherOneDoesNotExplain) {
  // The commit of 1 ended before the commit of 2 started: it cannot win.
  Builder b = Clean();
  b.Commit(1, Outcome::kOk, 900, 950).Fetch(1, 2000, 2010);
  EXPECT_EQ(Rules(CheckHistory(b.Build())), "h");
}

TEST(CheckerTest, SendOutcomeClassifiesStatuses) {
  EXPECT_EQ(SendOutcome(absl::OkStatus()), Outcome::kOk);
  EXPECT_EQ(SendOutcome(absl::InvalidArgumentError("x")), Outcome::kFail);
  EXPECT_EQ(SendOutcome(absl::NotFoundError("x")), Outcome::kFail);
  EXPECT_EQ(SendOutcome(absl::UnavailableError("x")), Outcome::kUnknown);
  EXPECT_EQ(SendOutcome(absl::DeadlineExceededError("x")), Outcome::kUnknown);
  EXPECT_EQ(SendOutcome(absl::InternalError("x")), Outcome::kUnknown);
}

TEST(CheckerTest, HistoryPendingOpsAreUnknown) {
  History history;
  const int64_t a = history.Invoke(0, OpType::kSend, "x");
  history.Invoke(0, OpType::kSend, "y");
  history.Complete(a, Outcome::kOk, 0, 7);
  const std::vector<Op> ops = history.Snapshot();
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].outcome, Outcome::kOk);
  EXPECT_EQ(ops[0].offset, 7);
  EXPECT_GE(ops[0].complete_us, ops[0].invoke_us);
  EXPECT_EQ(ops[1].outcome, Outcome::kUnknown);
}

}  // namespace
}  // namespace herald::fault
