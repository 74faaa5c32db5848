#include "coordination/assignor.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace herald::coordination {
namespace {

std::vector<AssignorMember> Members(int n, std::set<std::string> topics) {
  std::vector<AssignorMember> out;
  for (int i = 0; i < n; ++i) out.push_back({absl::StrCat("m", i), topics, {}});
  return out;
}

// Each partition of a subscribed topic is assigned exactly once, to a member
// subscribed to its topic, and nothing else is assigned.
void ExpectComplete(const std::vector<AssignorMember>& members, const TopicPartitionCounts& topics,
                    const Assignment& a, const std::string& context) {
  std::set<std::string> subscribed;
  std::map<std::string, const AssignorMember*> by_id;
  for (const auto& m : members) {
    subscribed.insert(m.topics.begin(), m.topics.end());
    by_id[m.member_id] = &m;
  }
  ASSERT_EQ(a.size(), members.size()) << context;
  PartitionSet seen;
  for (const auto& [id, parts] : a) {
    for (const auto& tp : parts) {
      EXPECT_TRUE(seen.insert(tp).second) << context << " assigned twice: " << ToString(tp);
      EXPECT_EQ(by_id.at(id)->topics.count(tp.topic), 1u)
          << context << " " << id << " not subscribed to " << tp.topic;
    }
  }
  size_t expected = 0;
  for (const auto& t : subscribed) {
    auto it = topics.find(t);
    if (it != topics.end()) expected += it->second;
  }
  EXPECT_EQ(seen.size(), expected) << context;
}

// Members with the same subscription hold counts differing by at most one.
void ExpectBalanced(const std::vector<AssignorMember>& members, const Assignment& a,
                    const std::string& context) {
  std::map<std::set<std::string>, std::pair<size_t, size_t>> min_max;
  for (const auto& m : members) {
    const size_t n = a.at(m.member_id).size();
    auto [it, inserted] = min_max.try_emplace(m.topics, n, n);
    it->second.first = std::min(it->second.first, n);
    it->second.second = std::max(it->second.second, n);
  }
  for (const auto& [subs, mm] : min_max) {
    EXPECT_LE(mm.second - mm.first, 1u) << context;
  }
}

TEST(Assignor, RangeGivesContiguousRangesInMemberOrder) {
  auto members = Members(3, {"t"});
  Assignment a = AssignRange(members, {{"t", 7}});
  EXPECT_EQ(a["m0"], (PartitionSet{{"t", 0}, {"t", 1}, {"t", 2}}));
  EXPECT_EQ(a["m1"], (PartitionSet{{"t", 3}, {"t", 4}}));
  EXPECT_EQ(a["m2"], (PartitionSet{{"t", 5}, {"t", 6}}));
}

TEST(Assignor, RoundRobinDealsAcrossTopics) {
  auto members = Members(2, {"a", "b"});
  Assignment a = AssignRoundRobin(members, {{"a", 3}, {"b", 1}});
  EXPECT_EQ(a["m0"], (PartitionSet{{"a", 0}, {"a", 2}}));
  EXPECT_EQ(a["m1"], (PartitionSet{{"a", 1}, {"b", 0}}));
}

TEST(Assignor, StickyKeepsBalancedOwnersInPlace) {
  auto members = Members(2, {"t"});
  members[0].owned = {{"t", 1}, {"t", 3}};
  members[1].owned = {{"t", 0}, {"t", 2}};
  Assignment a = AssignSticky(members, {{"t", 4}});
  EXPECT_EQ(a["m0"], members[0].owned);
  EXPECT_EQ(a["m1"], members[1].owned);
}

TEST(Assignor, StickyDropsOwnershipOfUnsubscribedOrVanishedPartitions) {
  auto members = Members(1, {"t"});
  members[0].owned = {{"t", 5}, {"gone", 0}};
  Assignment a = AssignSticky(members, {{"t", 2}, {"gone", 1}});
  EXPECT_EQ(a["m0"], (PartitionSet{{"t", 0}, {"t", 1}}));
}

TEST(Assignor, MemberWithoutMatchingTopicsGetsEmptySet) {
  std::vector<AssignorMember> members = {{"a", {"x"}, {}}, {"b", {"nope"}, {}}};
  for (auto s :
       {AssignmentStrategy::kSticky, AssignmentStrategy::kRange, AssignmentStrategy::kRoundRobin}) {
    Assignment a = ComputeAssignment(s, members, {{"x", 3}});
    EXPECT_EQ(a["a"].size(), 3u) << StrategyName(s);
    EXPECT_TRUE(a["b"].empty()) << StrategyName(s);
  }
}

// Random members with random (possibly different) subscriptions and random,
// possibly conflicting, current ownership.
std::vector<AssignorMember> RandomMembers(std::mt19937* rng, const TopicPartitionCounts& topics) {
  std::vector<AssignorMember> members;
  const int n = 1 + (*rng)() % 8;
  for (int i = 0; i < n; ++i) {
    AssignorMember m{absl::StrCat("m", i), {}, {}};
    for (const auto& [t, count] : topics) {
      if ((*rng)() % 3 != 0) m.topics.insert(t);
    }
    for (int k = 0; k < 4; ++k)
      m.owned.insert({"t" + std::to_string((*rng)() % 4), int((*rng)() % 9)});
    members.push_back(std::move(m));
  }
  return members;
}

TEST(AssignorProperty, EveryStrategyAssignsEachSubscribedPartitionExactlyOnce) {
  for (uint32_t seed = 1; seed <= 500; ++seed) {
    std::mt19937 rng(seed);
    TopicPartitionCounts topics;
    for (int t = 0; t < 1 + int(rng() % 4); ++t) topics["t" + std::to_string(t)] = rng() % 9;
    auto members = RandomMembers(&rng, topics);
    for (auto s : {AssignmentStrategy::kSticky, AssignmentStrategy::kRange,
                   AssignmentStrategy::kRoundRobin}) {
      const std::string context = absl::StrCat("seed=", seed, " strategy=", StrategyName(s));
      ExpectComplete(members, topics, ComputeAssignment(s, members, topics), context);
      if (HasFatalFailure() || HasFailure()) return;
    }
  }
}

TEST(AssignorProperty, StickyIsBalancedAmongMembersWithTheSameSubscription) {
  for (uint32_t seed = 1; seed <= 500; ++seed) {
    std::mt19937 rng(seed);
    TopicPartitionCounts topics;
    for (int t = 0; t < 1 + int(rng() % 4); ++t) topics["t" + std::to_string(t)] = rng() % 12;
    auto members = RandomMembers(&rng, topics);
    const std::string context = absl::StrCat("seed=", seed);
    ExpectBalanced(members, AssignSticky(members, topics), context);
    if (HasFailure()) return;
  }
}

size_t Moves(const std::vector<AssignorMember>& before, const Assignment& after) {
  size_t moves = 0;
  for (const auto& m : before) {
    auto it = after.find(m.member_id);
    for (const auto& tp : m.owned) {
      if (it == after.end() || it->second.count(tp) == 0) ++moves;
    }
  }
  return moves;
}

TEST(AssignorProperty, StickyMovesTheMinimumOnOneJoinOrLeave) {
  for (uint32_t seed = 1; seed <= 500; ++seed) {
    std::mt19937 rng(seed);
    const TopicPartitionCounts topics = {{"a", int(rng() % 20)}, {"b", int(rng() % 20)}};
    const size_t total = topics.at("a") + topics.at("b");
    const int n = 1 + rng() % 6;
    auto members = Members(n, {"a", "b"});
    Assignment a = AssignSticky(members, topics);
    for (auto& m : members) m.owned = a[m.member_id];
    const std::string context = absl::StrCat("seed=", seed, " n=", n, " total=", total);

    // Join: only the newcomer's fair share moves, all of it to the newcomer.
    auto joined = members;
    joined.push_back({"new", {"a", "b"}, {}});
    Assignment after_join = AssignSticky(joined, topics);
    EXPECT_EQ(Moves(members, after_join), total / (n + 1)) << context;
    EXPECT_EQ(after_join["new"].size(), total / (n + 1)) << context;
    ExpectBalanced(joined, after_join, context);

    // Leave: only the leaver's partitions move.
    const size_t leaver = rng() % n;
    auto left = members;
    left.erase(left.begin() + leaver);
    Assignment after_leave = AssignSticky(left, topics);
    EXPECT_EQ(Moves(left, after_leave), 0u) << context;
    ExpectBalanced(left, after_leave, context);
    ExpectComplete(left, topics, after_leave, context);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace herald::coordination
