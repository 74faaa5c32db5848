// Randomized churn test of the group coordinator: members join, leave,
// crash (go silent), static members restart, revocations are confirmed late
// or never, topics grow. A model of who owns what, built only from the
// events the coordinator emits, is checked after every step.
//
// To replay a failing seed: --gtest_filter='GroupChurn.*' with
// HERALD_CHURN_SEED=<seed> in the environment.
#include <cstdlib>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordination/group_coordinator.h"
#include "gtest/gtest.h"

namespace herald::coordination {
namespace {

using Kind = MemberEvent::Kind;

constexpr int64_t kSessionMs = 5'000;
constexpr int64_t kRevokeMs = 3'000;
constexpr int kSteps = 150;
constexpr int kMaxMembers = 6;

struct SimMember {
  std::string member_id;
  std::string instance_id;
  std::vector<std::string> topics;
  std::string regex;
  bool responsive = true;  // false: crashed, silent, never confirms
  int64_t generation = 0;  // of the last Assignment received
  PartitionSet owned;      // per the events received
  std::vector<MemberEvent> pending_revokes;
};

class ChurnSim {
 public:
  explicit ChurnSim(uint32_t seed) : seed_(seed), rng_(seed) {}

  // Runs the scenario; returns "" or a description of the first violation.
  std::string Run() {
    GroupCoordinatorOptions options;
    options.revoke_timeout_ms = kRevokeMs;
    options.min_session_timeout_ms = 100;
    auto c = GroupCoordinator::Open(options, nullptr, now_ms_);
    if (!c.ok()) return c.status().ToString();
    coord_ = std::move(*c);
    topics_ = {{"a", 3}, {"b", 2}, {"p-0", 1}};
    Deliver(coord_->OnTopicMetadata(topics_, now_ms_));
    for (int step = 0; step < kSteps && error_.empty(); ++step) {
      Step();
      if (error_.empty()) CheckCommits();
      if (!error_.empty()) error_ = absl::StrCat("step ", step, ": ", error_);
    }
    if (error_.empty()) Settle();
    return error_.empty() ? "" : absl::StrCat(error_, "\nlast actions: ", Trail());
  }

 private:
  uint32_t Rand(uint32_t n) { return rng_() % n; }
  void Fail(const std::string& what) {
    if (error_.empty()) error_ = what;
  }
  void Log(std::string action) {
    trail_.push_back(std::move(action));
    if (trail_.size() > 40) trail_.erase(trail_.begin());
  }
  std::string Trail() const { return absl::StrJoin(trail_, "; "); }

  SimMember* Pick() {
    if (members_.empty()) return nullptr;
    auto it = members_.begin();
    std::advance(it, Rand(members_.size()));
    return &it->second;
  }

  void Step() {
    switch (Rand(9)) {
      case 0:
      case 1:
        return JoinMember(Rand(2) == 0 ? "" : absl::StrCat("s", Rand(3)));
      case 2:
        return CloseStream();
      case 3:
        if (SimMember* m = Pick()) {
          Log(absl::StrCat("crash ", m->member_id));
          m->responsive = false;
        }
        return;
      case 4:
      case 5:
        return AdvanceTime(Rand(2'000));
      case 6:
      case 7:
        return ConfirmSomeRevokes(/*all=*/false);
      default:
        return GrowTopics();
    }
  }

  void JoinMember(const std::string& instance_id) {
    if (members_.size() >= kMaxMembers) return;
    JoinOptions o;
    o.instance_id = instance_id;
    o.session_timeout_ms = kSessionMs;
    switch (Rand(3)) {
      case 0:
        o.topics = {"a"};
        break;
      case 1:
        o.topics = {"a", "b"};
        break;
      default:
        o.topic_regex = "p-.*";
    }
    auto r = coord_->Join("g", o, now_ms_);
    if (!r.ok()) return Fail(absl::StrCat("join failed: ", r.status().ToString()));
    Log(absl::StrCat("join ", r->member_id, instance_id.empty() ? "" : " as " + instance_id));
    SimMember& m = members_[r->member_id];
    m.member_id = r->member_id;
    m.instance_id = instance_id;
    m.topics = o.topics;
    m.regex = o.topic_regex;
    Deliver(r->events);
  }

  void CloseStream() {
    SimMember* m = Pick();
    if (m == nullptr) return;
    const std::string id = m->member_id;
    Log(absl::StrCat("close ", id));
    for (const auto& tp : PartitionSet(m->owned)) Release(*m, tp);
    members_.erase(id);  // its stream is gone: it reads nothing any more
    auto events = coord_->Leave("g", id, now_ms_);
    if (!events.ok()) return Fail(absl::StrCat("leave ", id, ": ", events.status().ToString()));
    Deliver(*events);
  }

  void AdvanceTime(int64_t ms) {
    now_ms_ += ms;
    Log(absl::StrCat("advance ", ms));
    for (auto& [id, m] : members_) {
      if (!m.responsive) continue;
      if (absl::Status s = coord_->Heartbeat("g", id, now_ms_); !s.ok()) {
        return Fail(absl::StrCat("heartbeat of live ", id, ": ", s.ToString()));
      }
    }
    Deliver(coord_->Tick(now_ms_));
  }

  void ConfirmSomeRevokes(bool all) {
    for (auto& [id, m] : members_) {
      if (!m.responsive || m.pending_revokes.empty() || (!all && Rand(2) == 0)) continue;
      MemberEvent revoke = m.pending_revokes.front();
      m.pending_revokes.erase(m.pending_revokes.begin());
      Log(absl::StrCat("revoke-done ", id, " ", ToString(revoke.partitions)));
      for (const auto& tp : revoke.partitions) Release(m, tp);
      auto events = coord_->RevokeDone("g", id, revoke.generation, revoke.partitions, now_ms_);
      if (!events.ok()) return Fail(absl::StrCat("revoke-done: ", events.status().ToString()));
      Deliver(*events);
      return;  // `members_` may not be iterated after Deliver changed it
    }
  }

  void GrowTopics() {
    if (Rand(2) == 0) {
      auto it = topics_.begin();
      std::advance(it, Rand(topics_.size()));
      if (it->second < 8) ++it->second;
      Log(absl::StrCat("grow ", it->first, " to ", it->second));
    } else if (topics_.size() < 6) {
      const std::string topic = absl::StrCat("p-", topics_.size());
      topics_[topic] = 1 + Rand(3);
      Log(absl::StrCat("create ", topic));
    }
    Deliver(coord_->OnTopicMetadata(topics_, now_ms_));
  }

  void Release(SimMember& m, const TopicPartition& tp) {
    m.owned.erase(tp);
    auto it = owner_.find(tp);
    if (it != owner_.end() && it->second == m.member_id) owner_.erase(it);
  }

  void Deliver(const std::vector<MemberEvent>& events) {
    for (const auto& e : events) {
      auto it = members_.find(e.member_id);
      if (it == members_.end()) {
        // Fencing an instance whose stream we already dropped is harmless.
        if (e.kind != Kind::kFenced) Fail(absl::StrCat("event for closed member ", e.member_id));
        continue;
      }
      SimMember& m = it->second;
      if (e.generation < m.generation) {
        return Fail(absl::StrCat("generation went backwards for ", m.member_id, ": ", m.generation,
                                 " -> ", e.generation));
      }
      Apply(m, e);
      if (!error_.empty()) return;
    }
    const GroupDescription d = coord_->Describe("g");
    for (const auto& md : d.members) {
      auto it = members_.find(md.member_id);
      if (it != members_.end() && it->second.owned != md.owned) {
        return Fail(absl::StrCat("coordinator says ", md.member_id, " owns ", ToString(md.owned),
                                 ", its events say ", ToString(it->second.owned)));
      }
    }
    const int64_t generation = d.generation;
    if (generation < group_generation_seen_) Fail("group generation went backwards");
    group_generation_seen_ = generation;
  }

  void Apply(SimMember& m, const MemberEvent& e) {
    if (e.kind == Kind::kFenced) {
      Log(absl::StrCat("fenced ", m.member_id));
      for (const auto& tp : PartitionSet(m.owned)) Release(m, tp);
      members_.erase(m.member_id);
      return;
    }
    Log(absl::StrCat(e.kind == Kind::kRevoke ? "  ev-revoke " : "  ev-assign ", m.member_id, " g",
                     e.generation, " ", ToString(e.partitions)));
    if (e.kind == Kind::kRevoke) {
      m.pending_revokes.push_back(e);
      return;
    }
    m.generation = e.generation;
    // An Assignment supersedes earlier Revokes of the partitions it lists
    // (the coordinator cancelled those revocations).
    for (auto it = m.pending_revokes.begin(); it != m.pending_revokes.end();) {
      for (const auto& tp : e.partitions) it->partitions.erase(tp);
      it = it->partitions.empty() ? m.pending_revokes.erase(it) : std::next(it);
    }
    for (const auto& tp : PartitionSet(m.owned)) {
      if (e.partitions.count(tp) == 0) Release(m, tp);
    }
    for (const auto& tp : e.partitions) {
      auto [it, inserted] = owner_.emplace(tp, m.member_id);
      if (!inserted && it->second != m.member_id) {
        return Fail(absl::StrCat(ToString(tp), " assigned to ", m.member_id,
                                 " while still owned by ", it->second));
      }
      m.owned.insert(tp);
    }
  }

  // Owners commit with their generation: accepted. A stale generation, or
  // a partition the member does not own: rejected.
  void CheckCommits() {
    for (auto& [id, m] : members_) {
      if (!m.responsive) continue;
      absl::Status ok = coord_->ValidateCommit("g", id, m.generation, m.owned, now_ms_);
      if (!ok.ok()) return Fail(absl::StrCat("owner commit rejected: ", ok.ToString()));
      absl::Status stale = coord_->ValidateCommit("g", id, m.generation - 1, m.owned, now_ms_);
      if (stale.code() != absl::StatusCode::kAborted) {
        return Fail(absl::StrCat("stale-generation commit not rejected for ", id));
      }
      for (const auto& [tp, owner] : owner_) {
        if (owner == id) continue;
        if (coord_->ValidateCommit("g", id, m.generation, {tp}, now_ms_).ok()) {
          return Fail(absl::StrCat(id, " could commit ", ToString(tp), " owned by ", owner));
        }
        break;
      }
    }
  }

  // Everyone alive behaves; the group must converge to a stable state with
  // every subscribed partition owned exactly once.
  void Settle() {
    for (auto& [id, m] : members_) m.responsive = true;
    for (int round = 0; round < 40 && error_.empty(); ++round) {
      for (int i = 0; i < kMaxMembers; ++i) ConfirmSomeRevokes(/*all=*/true);
      AdvanceTime(1'000);
    }
    if (!error_.empty()) return;
    GroupDescription d = coord_->Describe("g");
    if (!members_.empty() && d.state != GroupState::kStable) {
      return Fail(absl::StrCat("not stable after settling: ", GroupStateName(d.state)));
    }
    std::set<std::string> subscribed;
    for (const auto& [id, m] : members_) {
      subscribed.insert(m.topics.begin(), m.topics.end());
      if (!m.regex.empty()) {
        for (const auto& [t, n] : topics_) {
          if (t.rfind("p-", 0) == 0) subscribed.insert(t);
        }
      }
    }
    size_t expected = 0;
    for (const auto& t : subscribed) expected += topics_.count(t) ? topics_.at(t) : 0;
    if (owner_.size() != expected) {
      Fail(
          absl::StrCat("after settling ", owner_.size(), " partitions owned, expected ", expected));
    }
  }

  uint32_t seed_;
  std::mt19937 rng_;
  std::unique_ptr<GroupCoordinator> coord_;
  TopicPartitionCounts topics_;
  int64_t now_ms_ = 1'000'000;
  std::map<std::string, SimMember> members_;
  std::map<TopicPartition, std::string> owner_;  // the model
  int64_t group_generation_seen_ = 0;
  std::vector<std::string> trail_;
  std::string error_;
};

TEST(GroupChurn, OwnershipIsExclusiveAndConvergesUnderRandomChurn) {
  uint32_t first = 1, last = 500;
  if (const char* s = std::getenv("HERALD_CHURN_SEED")) first = last = std::atoi(s);
  std::vector<uint32_t> failing;
  for (uint32_t seed = first; seed <= last; ++seed) {
    std::string error = ChurnSim(seed).Run();
    if (!error.empty()) {
      failing.push_back(seed);
      if (failing.size() <= 3) ADD_FAILURE() << "seed " << seed << ": " << error;
    }
  }
  EXPECT_TRUE(failing.empty()) << "failing seeds: " << absl::StrJoin(failing, ",");
}

}  // namespace
}  // namespace herald::coordination
