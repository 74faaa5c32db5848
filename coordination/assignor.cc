#include "coordination/assignor.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace herald::coordination {
namespace {

// Members (sorted by id) subscribed to each topic that has partitions.
std::map<std::string, std::vector<const AssignorMember*>> SubscribersByTopic(
    const std::vector<AssignorMember>& members, const TopicPartitionCounts& topics) {
  std::vector<const AssignorMember*> sorted;
  sorted.reserve(members.size());
  for (const auto& m : members) sorted.push_back(&m);
  std::sort(sorted.begin(), sorted.end(), [](const AssignorMember* a, const AssignorMember* b) {
    return a->member_id < b->member_id;
  });
  std::map<std::string, std::vector<const AssignorMember*>> out;
  for (const AssignorMember* m : sorted) {
    for (const auto& topic : m->topics) {
      auto it = topics.find(topic);
      if (it != topics.end() && it->second > 0) out[topic].push_back(m);
    }
  }
  return out;
}

Assignment EmptyAssignment(const std::vector<AssignorMember>& members) {
  Assignment out;
  for (const auto& m : members) out[m.member_id];
  return out;
}

// Working state of the sticky assignor.
class StickyState {
 public:
  StickyState(const std::vector<AssignorMember>& members, const TopicPartitionCounts& topics)
      : members_(members), subscribers_(SubscribersByTopic(members, topics)) {
    out_ = EmptyAssignment(members);
    for (const auto& [topic, subs] : subscribers_) {
      for (int32_t p = 0; p < topics.at(topic); ++p) unassigned_.insert({topic, p});
    }
  }

  // Keeps every valid current ownership (first claimant wins a conflict).
  void KeepOwners() {
    for (const auto& m : members_) {
      for (const auto& tp : m.owned) {
        if (m.topics.count(tp.topic) == 0 || unassigned_.erase(tp) == 0) continue;
        out_[m.member_id].insert(tp);
      }
    }
  }

  // Gives each unowned partition to its least-loaded eligible member.
  void AssignUnowned() {
    for (const auto& tp : unassigned_) {
      const AssignorMember* best = nullptr;
      for (const AssignorMember* m : subscribers_.at(tp.topic)) {
        if (best == nullptr || Count(m) < Count(best)) best = m;
      }
      out_[best->member_id].insert(tp);
    }
    unassigned_.clear();
  }

  // Moves one partition from a member to an eligible member holding at
  // least two fewer. Each move lowers the sum of squared counts, so the loop
  // in Balance terminates; at the end members with the same subscription
  // differ by at most one. Donors are tried most-loaded first and receivers
  // least-loaded first, which keeps the number of moves minimal for the
  // common case of identical subscriptions.
  bool MoveOne() {
    std::vector<const AssignorMember*> donors;
    for (const auto& m : members_) donors.push_back(&m);
    std::stable_sort(
        donors.begin(), donors.end(),
        [this](const AssignorMember* a, const AssignorMember* b) { return Count(a) > Count(b); });
    for (const AssignorMember* donor : donors) {
      const PartitionSet& held = out_[donor->member_id];
      for (auto it = held.rbegin(); it != held.rend(); ++it) {
        const AssignorMember* receiver = nullptr;
        for (const AssignorMember* m : subscribers_.at(it->topic)) {
          if (Count(m) + 1 < Count(donor) && (receiver == nullptr || Count(m) < Count(receiver))) {
            receiver = m;
          }
        }
        if (receiver == nullptr) continue;
        TopicPartition tp = *it;
        out_[donor->member_id].erase(tp);
        out_[receiver->member_id].insert(std::move(tp));
        return true;
      }
    }
    return false;
  }

  void Balance() {
    // The bound is never reached (see MoveOne); it keeps the loop finite even
    // if that reasoning were wrong.
    size_t total = 0;
    for (const auto& [id, parts] : out_) total += parts.size();
    const size_t max_moves = total * total + 1;
    for (size_t i = 0; i < max_moves && MoveOne(); ++i) {
    }
  }

  Assignment Take() { return std::move(out_); }

 private:
  size_t Count(const AssignorMember* m) { return out_[m->member_id].size(); }

  const std::vector<AssignorMember>& members_;
  std::map<std::string, std::vector<const AssignorMember*>> subscribers_;
  PartitionSet unassigned_;
  Assignment out_;
};

}  // namespace

std::string ToString(const TopicPartition& tp) { return absl::StrCat(tp.topic, "-", tp.partition); }

std::string ToString(const PartitionSet& parts) {
  return absl::StrCat(
      "[",
      absl::StrJoin(parts, ", ",
                    [](std::string* out, const TopicPartition& tp) { out->append(ToString(tp)); }),
      "]");
}

absl::string_view StrategyName(AssignmentStrategy strategy) {
  switch (strategy) {
    case AssignmentStrategy::kSticky:
      return "sticky";
    case AssignmentStrategy::kRange:
      return "range";
    case AssignmentStrategy::kRoundRobin:
      return "round-robin";
  }
  return "unknown";
}

Assignment ComputeAssignment(AssignmentStrategy strategy,
                             const std::vector<AssignorMember>& members,
                             const TopicPartitionCounts& topics) {
  switch (strategy) {
    case AssignmentStrategy::kRange:
      return AssignRange(members, topics);
    case AssignmentStrategy::kRoundRobin:
      return AssignRoundRobin(members, topics);
    case AssignmentStrategy::kSticky:
      break;
  }
  return AssignSticky(members, topics);
}

Assignment AssignSticky(const std::vector<AssignorMember>& members,
                        const TopicPartitionCounts& topics) {
  StickyState state(members, topics);
  state.KeepOwners();
  state.AssignUnowned();
  state.Balance();
  return state.Take();
}

Assignment AssignRange(const std::vector<AssignorMember>& members,
                       const TopicPartitionCounts& topics) {
  Assignment out = EmptyAssignment(members);
  for (const auto& [topic, subs] : SubscribersByTopic(members, topics)) {
    const int32_t count = topics.at(topic);
    const int32_t n = static_cast<int32_t>(subs.size());
    const int32_t per_member = count / n;
    const int32_t extra = count % n;
    int32_t next = 0;
    for (int32_t i = 0; i < n; ++i) {
      const int32_t take = per_member + (i < extra ? 1 : 0);
      for (int32_t k = 0; k < take; ++k) out[subs[i]->member_id].insert({topic, next++});
    }
  }
  return out;
}

Assignment AssignRoundRobin(const std::vector<AssignorMember>& members,
                            const TopicPartitionCounts& topics) {
  Assignment out = EmptyAssignment(members);
  std::vector<const AssignorMember*> ring;
  for (const auto& m : members) ring.push_back(&m);
  std::sort(ring.begin(), ring.end(), [](const AssignorMember* a, const AssignorMember* b) {
    return a->member_id < b->member_id;
  });
  size_t cursor = 0;
  for (const auto& [topic, subs] : SubscribersByTopic(members, topics)) {
    for (int32_t p = 0; p < topics.at(topic); ++p) {
      // Deal to the next member round the ring that subscribes to the topic;
      // `subs` is non-empty so at most ring.size() steps find one.
      for (size_t step = 0; step < ring.size(); ++step) {
        const AssignorMember* m = ring[cursor % ring.size()];
        ++cursor;
        if (m->topics.count(topic) != 0) {
          out[m->member_id].insert({topic, p});
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace herald::coordination
