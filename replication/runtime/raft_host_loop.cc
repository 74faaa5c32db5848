// RaftHost's event loop: everything here runs on the loop thread.
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "replication/runtime/raft_host.h"

namespace herald::replication {
namespace {

// Readies handled per group per iteration before others get their turn.
constexpr int kMaxReadyRoundsPerGroup = 4;

// Gives the core's Propose errors the group and a usable leader hint.
absl::Status ProposeError(GroupId group, const Raft& raft, const absl::Status& status) {
  const NodeId leader = raft.leader();
  if (absl::IsFailedPrecondition(status)) {
    if (leader == kNoNode || leader == raft.id()) {
      return absl::UnavailableError(absl::StrCat("group ", group, ": no leader known yet"));
    }
    return WithLeaderHint(absl::FailedPreconditionError(absl::StrCat(
                              "group ", group, ": not leader; leader is node ", leader)),
                          leader);
  }
  // A hint is only useful when it names another node (not during our own
  // transfer, say).
  return WithLeaderHint(
      absl::Status(status.code(), absl::StrCat("group ", group, ": ", status.message())),
      leader == raft.id() ? kNoNode : leader);
}

}  // namespace

void RaftHost::Run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point next_tick = Clock::now() + options_.tick_interval;
  std::vector<Task> tasks;
  std::vector<GroupMessage> inbound;
  while (WaitForWork(next_tick, &tasks, &inbound)) {
    for (Task& task : tasks) task(absl::OkStatus());
    tasks.clear();
    StepInbound(inbound);
    inbound.clear();
    const Clock::time_point now = Clock::now();
    if (now >= next_tick) {
      // More than a whole tick late: the loop (persistence, mostly) held the
      // timers up. Counted so a slow disk shows before it costs elections.
      TickAll(/*late=*/now - next_tick >= options_.tick_interval);
      // A late loop (slow disk, busy CPU) skips the missed ticks rather than
      // replaying them in a burst: our own stall must not look to the cores
      // like a silent leader and start elections.
      next_tick = now + options_.tick_interval;
    }
    ProcessReadies();
    CountLeadership();
    PublishStatus();
  }
}

bool RaftHost::WaitForWork(std::chrono::steady_clock::time_point deadline, std::vector<Task>* tasks,
                           std::vector<GroupMessage>* inbound) {
  absl::MutexLock lock(&mu_);
  auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || more_ready_ || !tasks_.empty() || !inbound_.empty();
  };
  const auto remaining = deadline - std::chrono::steady_clock::now();
  if (remaining > remaining.zero()) {
    mu_.AwaitWithTimeout(absl::Condition(&has_work), absl::FromChrono(remaining));
  }
  if (stopping_) return false;
  tasks->swap(tasks_);
  inbound->swap(inbound_);
  inbound_bytes_ = 0;
  return true;
}

void RaftHost::StepInbound(std::vector<GroupMessage>& inbound) {
  uint64_t unknown = 0;
  uint64_t invalid = 0;
  const auto now = std::chrono::steady_clock::now();
  for (GroupMessage& m : inbound) {
    last_heard_[m.msg.from] = now;
    auto it = groups_.find(m.group);
    if (it == groups_.end()) {
      ++unknown;
      continue;
    }
    Group& g = *it->second;
    if (!g.failed.ok()) continue;
    absl::Status status = g.raft->Step(m.msg);
    if (absl::IsInvalidArgument(status)) {
      ++invalid;  // a malformed message from a peer: dropped, the group unharmed
    } else if (!status.ok()) {
      FailGroup(g, status);
    }
  }
  if (unknown == 0 && invalid == 0) return;
  absl::MutexLock lock(&mu_);
  stats_.inbound_unknown_group += unknown;
  stats_.inbound_invalid += invalid;
}

void RaftHost::TickAll(bool late) {
  for (auto& [id, g] : groups_) {
    if (g->failed.ok()) g->raft->Tick();
  }
  absl::MutexLock lock(&mu_);
  ++stats_.ticks;
  if (late) ++stats_.late_ticks;
}

// Two phases per pass, so the groups' appends share the store's group
// commit: first every group's Ready is taken and its persistence started
// (snapshot, appends issued), then each is finished (appends waited for,
// hard state) before its messages are queued and its entries applied.
void RaftHost::ProcessReadies() {
  std::map<NodeId, std::vector<GroupMessage>> outbox;
  bool more = false;
  for (int round = 0; round < kMaxReadyRoundsPerGroup; ++round) {
    std::vector<std::pair<Group*, Ready>> started;
    const auto start = std::chrono::steady_clock::now();
    for (auto& [id, g] : groups_) {
      if (!g->failed.ok() || !g->raft->HasReady()) continue;
      Ready rd = g->raft->GetReady();
      if (absl::Status s = StartPersistReady(rd, g->storage.get()); !s.ok()) {
        FailGroup(*g, s);  // never retried: after a failed write the disk's state is unknown
        continue;
      }
      started.emplace_back(g.get(), std::move(rd));
    }
    if (started.empty()) break;
    for (auto& [g, rd] : started) FinishReady(*g, rd, &outbox);
    NotePersistTime(start);
  }
  for (auto& [id, g] : groups_) {
    if (!g->raft->status().ok()) FailGroup(*g, g->raft->status());
    if (!g->failed.ok()) continue;
    DropStalePending(*g);
    more = more || g->raft->HasReady();
  }
  // Every Ready that produced these messages is durable by now.
  for (auto& [to, messages] : outbox) transport_->Send(to, std::move(messages));
  absl::MutexLock lock(&mu_);
  more_ready_ = more;
}

void RaftHost::NotePersistTime(std::chrono::steady_clock::time_point start) {
  const uint64_t persist_us =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count());
  if (persist_us <= max_persist_us_) return;
  max_persist_us_ = persist_us;
  absl::MutexLock lock(&mu_);
  stats_.max_persist_us = persist_us;
}

void RaftHost::FinishReady(Group& g, Ready& rd,
                           std::map<NodeId, std::vector<GroupMessage>>* outbox) {
  if (absl::Status s = FinishPersistReady(rd, g.storage.get()); !s.ok()) {
    // Never retried: after a failed sync the disk's state is unknown.
    return FailGroup(g, s);
  }
  for (Message& m : rd.messages) {
    const NodeId to = m.to;
    (*outbox)[to].push_back(GroupMessage{g.id, std::move(m)});
  }
  for (const Entry& e : rd.committed_entries) {
    apply_(g.id, e);
    CompletePending(g, e);
  }
  g.raft->Advance(rd);
}

void RaftHost::CompletePending(Group& g, const Entry& e) {
  while (!g.pending.empty() && g.pending.begin()->first <= e.index) {
    auto it = g.pending.begin();
    if (it->first == e.index && it->second.term == e.term) {
      it->second.done(e.index);
    } else {
      it->second.done(absl::UnavailableError(
          absl::StrCat("group ", g.id, ": entry ", it->first, " was replaced by a new leader")));
    }
    g.pending.erase(it);
  }
}

// A proposal is only ours to report while we lead the term it was made in;
// after that its fate is decided elsewhere (it may still commit).
void RaftHost::DropStalePending(Group& g) {
  const Raft& raft = *g.raft;
  const bool leading = raft.role() == RaftRole::kLeader;
  for (auto it = g.pending.begin(); it != g.pending.end();) {
    if (leading && it->second.term == raft.term()) {
      ++it;
      continue;
    }
    absl::Status lost = absl::UnavailableError(
        absl::StrCat("group ", g.id, ": leadership lost at term ", raft.term(), " before entry ",
                     it->first, " committed; it may still commit"));
    if (raft.leader() != raft.id()) lost = WithLeaderHint(std::move(lost), raft.leader());
    it->second.done(lost);
    it = g.pending.erase(it);
  }
}

void RaftHost::FailGroup(Group& g, const absl::Status& status) {
  if (!g.failed.ok()) return;
  g.failed =
      absl::Status(status.code(), absl::StrCat("group ", g.id, " failed: ", status.message()));
  for (auto& [index, p] : g.pending) p.done(g.failed);
  g.pending.clear();
}

void RaftHost::DoPropose(GroupId group, std::string data, const ProposeCallback& done) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return done(absl::NotFoundError(absl::StrCat("group ", group)));
  Group& g = *it->second;
  if (!g.failed.ok()) return done(g.failed);
  absl::StatusOr<uint64_t> index = g.raft->Propose(std::move(data));
  if (!index.ok()) return done(ProposeError(group, *g.raft, index.status()));
  g.pending[*index] = Pending{g.raft->term(), done};
}

void RaftHost::CountLeadership() {
  uint64_t changes = 0;
  uint64_t elections = 0;
  for (auto& [id, g] : groups_) {
    const Raft& raft = *g->raft;
    if (raft.leader() != kNoNode && raft.leader() != g->last_leader) {
      ++changes;
      g->last_leader = raft.leader();
    }
    elections += raft.elections_started() - g->elections_seen;
    g->elections_seen = raft.elections_started();
  }
  if (changes == 0 && elections == 0) return;
  absl::MutexLock lock(&mu_);
  stats_.leader_changes += changes;
  stats_.elections_started += elections;
}

void RaftHost::PublishStatus() {
  const auto now = std::chrono::steady_clock::now();
  const auto silent_after = options_.tick_interval * options_.raft.election_tick;
  absl::MutexLock lock(&status_mu_);
  for (const auto& [id, g] : groups_) {
    const Raft& raft = *g->raft;
    GroupStatus& st = status_[id];
    st.leader = raft.leader();
    st.term = raft.term();
    st.role = raft.role();
    st.commit = raft.log().committed();
    st.applied = raft.log().applied();
    st.status = g->failed;
    st.match.clear();
    st.unreachable.clear();
    st.voters = raft.voters();
    if (raft.role() != RaftRole::kLeader) continue;
    for (NodeId voter : st.voters) {
      st.match[voter] = raft.MatchOf(voter);
      if (voter == raft.id()) continue;
      auto heard = last_heard_.find(voter);
      if (heard == last_heard_.end() || now - heard->second > silent_after) {
        st.unreachable.push_back(voter);
      }
    }
  }
}

}  // namespace herald::replication
