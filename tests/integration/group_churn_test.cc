// Randomized membership churn against a real server. Members join, commit,
// leave cleanly or vanish (stream cancelled with uncommitted records) while
// records keep arriving. After every step the test checks that no member was
// ever sent a partition it did not own and that the group's committed offsets
// never moved backwards; at the end, that every record was delivered at least
// once. Seeds are fixed so a failure replays: HERALD_GROUP_CHURN_SEED=<n>.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "tests/integration/fixture.h"
#include "tests/integration/group_member.h"

namespace herald::testing {
namespace {

constexpr int32_t kPartitions = 6;
constexpr int kSteps = 12;
constexpr int64_t kSettleMs = 10'000;

class GroupChurn : public IntegrationTest {
 protected:
  ServerOptions Options() override {
    ServerOptions o;
    o.extra_flags = {"--group_tick_interval_ms=50", "--group_min_session_timeout_ms=200",
                     "--group_default_session_timeout_ms=3000", "--group_revoke_timeout_ms=3000"};
    return o;
  }

  static GroupMemberOptions ChurnMember() {
    GroupMemberOptions o;
    o.group = "churn";
    o.topics = {"churn"};
    return o;
  }

  void ProduceRound(int round) {
    for (int32_t p = 0; p < kPartitions; ++p) {
      auto r = ProduceOnce(broker_.get(), "churn", p, MakeBatch(3, absl::StrCat("r", round)));
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_FALSE(r->has_error()) << r->error().message();
      high_watermark_[p] = r->base_offset() + 3;
    }
  }

  // The group's committed offsets, checked to be monotonic.
  void CheckCommitsMonotonic(const std::string& where) {
    grpc::ClientContext context;
    herald::v1::FetchCommittedOffsetsRequest request;
    request.set_group("churn");
    herald::v1::FetchCommittedOffsetsResponse response;
    ASSERT_TRUE(broker_->FetchCommittedOffsets(&context, request, &response).ok());
    for (const auto& c : response.offsets()) {
      int64_t& last = committed_[c.partition()];
      EXPECT_GE(c.offset(), last) << where << ": committed offset of partition " << c.partition()
                                  << " went backwards";
      last = std::max(last, c.offset());
    }
  }

  // Pumps everyone until the live members own every partition between them.
  bool Settle(std::vector<std::unique_ptr<GroupMember>>& members) {
    const int64_t deadline_ms = SteadyNowMs() + kSettleMs;
    while (SteadyNowMs() < deadline_ms) {
      size_t owned = 0;
      for (auto& m : members) {
        m->PumpFor(10);
        owned += m->owned().size();
      }
      if (members.empty() || owned == kPartitions) return true;
    }
    return false;
  }

  void Record(const GroupMember& m) {
    for (const auto& [tp, offsets] : m.offsets()) {
      delivered_[tp.second].insert(offsets.begin(), offsets.end());
    }
  }

  // A member leaves the test: what it read counts, and whether it was ever
  // sent a partition it did not own.
  void Remove(std::vector<std::unique_ptr<GroupMember>>& members, size_t i) {
    Record(*members[i]);
    unowned_ += members[i]->unowned_deliveries();
    members[i]->Cancel();
    members.erase(members.begin() + static_cast<long>(i));
  }

  void RunSeed(uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<std::unique_ptr<GroupMember>> members;
    int joins = 0, leaves = 0, vanishes = 0;
    for (int step = 0; step < kSteps; ++step) {
      ProduceRound(step);
      const int action = members.empty() ? 0 : static_cast<int>(rng() % 4);
      const std::string where = absl::StrCat("seed ", seed, " step ", step, " action ", action);
      if (action <= 1 && members.size() < 4) {  // join
        members.push_back(std::make_unique<GroupMember>(broker_.get(), ChurnMember()));
        ++joins;
      } else if (action == 2) {  // commit what was read, then leave
        const size_t i = rng() % members.size();
        members[i]->Commit();
        Remove(members, i);
        ++leaves;
      } else {  // vanish with whatever was not committed
        Remove(members, rng() % members.size());
        ++vanishes;
      }
      ASSERT_TRUE(Settle(members)) << where << ": partitions were not all owned in time";
      for (auto& m : members) m->Commit();
      CheckCommitsMonotonic(where);
    }
    // A last member drains what is left.
    members.push_back(std::make_unique<GroupMember>(broker_.get(), ChurnMember()));
    auto all_read = [&] {
      for (auto& m : members) m->PumpFor(10);
      for (int32_t p = 0; p < kPartitions; ++p) {
        for (auto& m : members) Record(*m);
        if (static_cast<int64_t>(delivered_[p].size()) < high_watermark_[p]) return false;
      }
      return true;
    };
    EXPECT_TRUE(Eventually(all_read, kSettleMs)) << "seed " << seed << ": records never delivered";
    while (!members.empty()) Remove(members, 0);
    std::cout << "seed " << seed << ": " << joins << " joins, " << leaves << " clean leaves, "
              << vanishes << " vanished members" << std::endl;
    EXPECT_EQ(unowned_, 0) << "seed " << seed << ": a partition was delivered to a non-owner";
  }

  std::map<int32_t, int64_t> high_watermark_;
  std::map<int32_t, int64_t> committed_;
  std::map<int32_t, std::set<int64_t>> delivered_;
  int unowned_ = 0;
};

TEST_F(GroupChurn, OwnershipIsExclusiveCommitsMonotonicAndEveryRecordDelivered) {
  MakeTopic("churn", kPartitions);
  std::vector<uint32_t> seeds = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  if (const char* s = std::getenv("HERALD_GROUP_CHURN_SEED"))
    seeds = {static_cast<uint32_t>(std::atoi(s))};
  // One topic and group for all seeds: the checks hold across them too.
  for (uint32_t seed : seeds) {
    RunSeed(seed);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace herald::testing
