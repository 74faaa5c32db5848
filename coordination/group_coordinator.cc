#include "coordination/group_coordinator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "coordination/group_state.h"

namespace herald::coordination {
namespace {

constexpr size_t kMaxClientIdInMemberId = 64;

std::set<std::string> ResolveTopics(const Member& m, const TopicPartitionCounts& known) {
  std::set<std::string> out(m.topics.begin(), m.topics.end());
  if (m.regex != nullptr) {
    for (const auto& [topic, count] : known) {
      if (re2::RE2::FullMatch(topic, *m.regex)) out.insert(topic);
    }
  }
  return out;
}

MemberEvent MakeEvent(const std::string& group, const Member& m, MemberEvent::Kind kind) {
  MemberEvent e;
  e.group = group;
  e.member_id = m.member_id;
  e.kind = kind;
  e.generation = m.generation;
  if (kind == MemberEvent::Kind::kAssign) e.partitions = m.owned;
  return e;
}

// Marks partitions the member owns but should not as revoking and tells it;
// cancels revocations of partitions it should keep after all.
void StartRevocations(const std::string& group, Member& m, int64_t deadline_ms,
                      std::vector<MemberEvent>* events) {
  PartitionSet newly;
  for (const auto& tp : m.owned) {
    if (m.target.count(tp) == 0 && m.revoking.count(tp) == 0) {
      m.revoking[tp] = deadline_ms;
      newly.insert(tp);
    }
  }
  for (auto it = m.revoking.begin(); it != m.revoking.end();) {
    if (m.target.count(it->first) != 0) {
      // It was told to stop reading this one; a fresh Assignment restarts it.
      it = m.revoking.erase(it);
      m.needs_assign = true;
    } else {
      ++it;
    }
  }
  if (newly.empty() || !m.connected) return;
  MemberEvent e = MakeEvent(group, m, MemberEvent::Kind::kRevoke);
  e.partitions = std::move(newly);
  e.deadline_ms = deadline_ms;
  events->push_back(std::move(e));
}

// Gives each member the target partitions nobody owns, then sends an
// Assignment to every member whose owned set changed.
void GrantFreePartitions(GroupCoordinator::Group& g, std::vector<MemberEvent>* events) {
  PartitionSet taken;
  for (const auto& [id, m] : g.members) taken.insert(m.owned.begin(), m.owned.end());
  for (auto& [id, m] : g.members) {
    for (const auto& tp : m.target) {
      if (m.owned.count(tp) == 0 && taken.insert(tp).second) {
        m.owned.insert(tp);
        m.needs_assign = true;
      }
    }
  }
  for (auto& [id, m] : g.members) {
    if (!m.needs_assign) continue;
    m.needs_assign = false;
    m.generation = g.generation;
    if (m.connected) events->push_back(MakeEvent(g.name, m, MemberEvent::Kind::kAssign));
  }
}

// Takes back partitions whose revoke deadline passed (the member was too
// slow to confirm; its commits for them are rejected from now on) and tells
// it at once, so that its shrunk Assignment precedes any Assignment that
// hands those partitions to another member.
bool TakeBackOverdue(GroupCoordinator::Group& g, Member& m, int64_t now_ms,
                     std::vector<MemberEvent>* events) {
  bool taken = false;
  for (auto it = m.revoking.begin(); it != m.revoking.end();) {
    if (it->second > now_ms) {
      ++it;
      continue;
    }
    m.owned.erase(it->first);
    it = m.revoking.erase(it);
    taken = true;
  }
  if (!taken) return false;
  m.generation = g.generation;
  if (m.connected) events->push_back(MakeEvent(g.name, m, MemberEvent::Kind::kAssign));
  return true;
}

bool IsStable(const GroupCoordinator::Group& g) {
  for (const auto& [id, m] : g.members) {
    if (m.owned != m.target || !m.revoking.empty()) return false;
  }
  return true;
}

GroupState StateOf(const GroupCoordinator::Group& g) {
  if (g.members.empty()) return GroupState::kEmpty;
  return IsStable(g) ? GroupState::kStable : GroupState::kRebalancing;
}

Member* FindMember(GroupCoordinator::Group* g, const std::string& member_id) {
  if (g == nullptr) return nullptr;
  auto it = g->members.find(member_id);
  return it == g->members.end() ? nullptr : &it->second;
}

absl::Status UnknownMember(const std::string& group, const std::string& member_id) {
  return absl::AbortedError(absl::StrCat("unknown member '", member_id, "' in group '", group,
                                         "' (removed or replaced): join again"));
}

}  // namespace

absl::string_view GroupStateName(GroupState state) {
  switch (state) {
    case GroupState::kEmpty:
      return "EMPTY";
    case GroupState::kStable:
      return "STABLE";
    case GroupState::kRebalancing:
      return "REBALANCING";
    case GroupState::kDead:
      return "DEAD";
  }
  return "UNKNOWN";
}

absl::Status CheckOffsetAdvance(const TopicPartition& tp, int64_t previous, int64_t next,
                                bool admin_reset) {
  if (admin_reset || next >= previous) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("committed offset of ", ToString(tp),
                                                    " cannot move back from ", previous, " to ",
                                                    next, " (only an admin offset reset may)"));
}

GroupCoordinator::GroupCoordinator(const GroupCoordinatorOptions& options, storage::LogStore* store)
    : options_(options), store_(store) {}

GroupCoordinator::~GroupCoordinator() = default;

absl::StatusOr<std::unique_ptr<GroupCoordinator>> GroupCoordinator::Open(
    const GroupCoordinatorOptions& options, storage::LogStore* store, int64_t now_ms) {
  std::unique_ptr<GroupCoordinator> c(new GroupCoordinator(options, store));
  absl::MutexLock lock(&c->mu_);
  if (absl::Status s = c->Load(now_ms); !s.ok()) return s;
  return c;
}

absl::Status GroupCoordinator::Load(int64_t now_ms) {
  if (store_ == nullptr) return absl::OkStatus();
  // Member ids embed an incarnation number bumped at every start, so an id
  // handed out before a restart is never handed out again.
  const std::string incarnation_key = options_.metadata_prefix + "incarnation";
  auto current = store_->GetMetadata(incarnation_key);
  if (!current.ok()) return current.status();
  if (current->has_value() && !absl::SimpleAtoi(**current, &incarnation_)) {
    return absl::DataLossError(absl::StrCat("malformed ", incarnation_key));
  }
  ++incarnation_;
  if (absl::Status s = store_->WriteMetadata({{incarnation_key, absl::StrCat(incarnation_)}});
      !s.ok()) {
    return s;
  }
  const std::string group_prefix = options_.metadata_prefix + "group/";
  auto rows = store_->ScanMetadata(group_prefix);
  if (!rows.ok()) return rows.status();
  for (const auto& [key, value] : *rows) {
    auto decoded = DecodeGroup(value);
    if (!decoded.ok()) {
      return absl::DataLossError(absl::StrCat(key, ": ", decoded.status().message()));
    }
    auto g = std::make_unique<Group>();
    g->name = key.substr(group_prefix.size());
    g->strategy = decoded->strategy;
    g->generation = decoded->generation;
    g->persisted = value;
    for (auto& s : decoded->statics) {
      Member m;
      m.member_id = NextMemberId(s.client_id);
      m.instance_id = std::move(s.instance_id);
      m.client_id = std::move(s.client_id);
      m.topics = std::move(s.topics);
      m.topic_regex = std::move(s.topic_regex);
      if (!m.topic_regex.empty())
        m.regex = std::make_shared<re2::RE2>(m.topic_regex, re2::RE2::Quiet);
      m.session_timeout_ms = s.session_timeout_ms;
      m.connected = false;
      m.reserved_until_ms = now_ms + s.session_timeout_ms;
      m.owned = s.owned;
      m.target = std::move(s.owned);
      m.generation = g->generation;
      g->members.emplace(m.member_id, std::move(m));
    }
    groups_.emplace(g->name, std::move(g));
  }
  return absl::OkStatus();
}

void GroupCoordinator::Persist(Group& group) {
  if (store_ == nullptr) return;
  std::string encoded = EncodeGroup(group);
  if (encoded == group.persisted) return;
  const std::string key = absl::StrCat(options_.metadata_prefix, "group/", group.name);
  if (!store_->WriteMetadata({{key, encoded}}).ok()) {
    ++persist_errors_;  // counted and exported; the next change retries the write
    return;
  }
  group.persisted = std::move(encoded);
}

void GroupCoordinator::PersistDelete(const std::string& name) {
  if (store_ == nullptr) return;
  const std::string key = absl::StrCat(options_.metadata_prefix, "group/", name);
  if (!store_->WriteMetadata({{key, std::nullopt}}).ok()) ++persist_errors_;
}

std::string GroupCoordinator::NextMemberId(const std::string& client_id) {
  const std::string prefix =
      client_id.empty() ? "member" : client_id.substr(0, kMaxClientIdInMemberId);
  return absl::StrCat(prefix, "-", incarnation_, "-", ++next_member_seq_);
}

bool GroupCoordinator::RecomputeTarget(Group& g) {
  std::vector<AssignorMember> input;
  std::map<std::string, Member*> by_key;
  for (auto& [id, m] : g.members) {
    input.push_back({m.assignor_key(), ResolveTopics(m, topics_), m.target});
    by_key[m.assignor_key()] = &m;
  }
  Assignment target = ComputeAssignment(g.strategy, input, topics_);
  bool changed = false;
  for (auto& [key, parts] : target) {
    Member* m = by_key.at(key);
    if (m->target != parts) {
      m->target = std::move(parts);
      changed = true;
    }
  }
  return changed;
}

void GroupCoordinator::Rebalance(Group& g, bool recompute, int64_t now_ms,
                                 std::vector<MemberEvent>* events) {
  if (recompute && RecomputeTarget(g)) {
    ++g.generation;
    ++g.rebalances;
  }
  for (auto& [id, m] : g.members) {
    StartRevocations(g.name, m, now_ms + options_.revoke_timeout_ms, events);
  }
  GrantFreePartitions(g, events);
  Persist(g);
}

void GroupCoordinator::RemoveMember(Group& g, const std::string& member_id, bool fence,
                                    std::vector<MemberEvent>* events) {
  auto it = g.members.find(member_id);
  if (it == g.members.end()) return;
  if (fence && it->second.connected) {
    events->push_back(MakeEvent(g.name, it->second, MemberEvent::Kind::kFenced));
  }
  g.members.erase(it);
}

absl::Status GroupCoordinator::ValidateJoin(const std::string& group, const JoinOptions& o) {
  if (absl::Status s = ValidateGroupName(group); !s.ok()) return s;
  if (o.topics.empty() && o.topic_regex.empty()) {
    return absl::InvalidArgumentError("a group member must subscribe to topics or a topic regex");
  }
  const int64_t timeout_ms = o.session_timeout_ms;
  if (timeout_ms != 0 && (timeout_ms < options_.min_session_timeout_ms ||
                          timeout_ms > options_.max_session_timeout_ms)) {
    return absl::InvalidArgumentError(absl::StrCat("session_timeout_ms ", timeout_ms,
                                                   " is outside [", options_.min_session_timeout_ms,
                                                   ", ", options_.max_session_timeout_ms, "]"));
  }
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    if (groups_.size() >= static_cast<size_t>(options_.max_groups)) {
      return absl::ResourceExhaustedError(
          absl::StrCat("too many groups (max_groups=", options_.max_groups, ")"));
    }
    return absl::OkStatus();
  }
  const Group& g = *it->second;
  if (!g.members.empty() && o.strategy.has_value() && *o.strategy != g.strategy) {
    return absl::FailedPreconditionError(
        absl::StrCat("group '", group, "' uses strategy ", StrategyName(g.strategy), ", not ",
                     StrategyName(*o.strategy), "; all members must agree"));
  }
  if (g.members.size() >= static_cast<size_t>(options_.max_members_per_group)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("group '", group,
                     "' is full (max_members_per_group=", options_.max_members_per_group, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<JoinResult> GroupCoordinator::Join(const std::string& group, const JoinOptions& o,
                                                  int64_t now_ms) {
  std::shared_ptr<const re2::RE2> regex;
  if (!o.topic_regex.empty()) {
    auto compiled = std::make_shared<re2::RE2>(o.topic_regex, re2::RE2::Quiet);
    if (!compiled->ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad topic regex '", o.topic_regex, "': ", compiled->error()));
    }
    regex = std::move(compiled);
  }
  absl::MutexLock lock(&mu_);
  if (absl::Status s = ValidateJoin(group, o); !s.ok()) return s;
  auto& slot = groups_[group];
  if (slot == nullptr) {
    slot = std::make_unique<Group>();
    slot->name = group;
  }
  Group& g = *slot;
  if (g.members.empty() && o.strategy.has_value()) g.strategy = *o.strategy;

  JoinResult result;
  Member m;
  bool subscription_changed = true;
  for (auto it = g.members.begin(); !o.instance_id.empty() && it != g.members.end(); ++it) {
    if (it->second.instance_id != o.instance_id) continue;
    // The same static instance is back (or a second copy started): the new
    // stream takes over its partitions and the old one is fenced.
    m = std::move(it->second);
    subscription_changed = m.topics != o.topics || m.topic_regex != o.topic_regex;
    if (m.connected) result.events.push_back(MakeEvent(g.name, m, MemberEvent::Kind::kFenced));
    g.members.erase(it);
    break;
  }
  m.member_id = NextMemberId(o.client_id);
  m.instance_id = o.instance_id;
  m.client_id = o.client_id;
  m.host = o.host;
  m.topics = o.topics;
  m.topic_regex = o.topic_regex;
  m.regex = std::move(regex);
  m.session_timeout_ms =
      o.session_timeout_ms != 0 ? o.session_timeout_ms : options_.default_session_timeout_ms;
  m.last_seen_ms = now_ms;
  m.connected = true;
  m.needs_assign = true;  // every joiner learns its id and generation at once
  const std::string member_id = m.member_id;
  // Pending revocations of a returning static member are sent again.
  PartitionSet still_revoking;
  int64_t revoke_deadline_ms = 0;
  for (const auto& [tp, deadline_ms] : m.revoking) {
    still_revoking.insert(tp);
    revoke_deadline_ms = std::max(revoke_deadline_ms, deadline_ms);
  }
  g.members.emplace(member_id, std::move(m));
  Rebalance(g, subscription_changed, now_ms, &result.events);
  Member& joined = g.members.at(member_id);
  for (auto it = still_revoking.begin(); it != still_revoking.end();) {
    it = joined.revoking.count(*it) != 0 ? std::next(it) : still_revoking.erase(it);
  }
  if (!still_revoking.empty()) {
    MemberEvent e = MakeEvent(g.name, joined, MemberEvent::Kind::kRevoke);
    e.partitions = std::move(still_revoking);
    e.deadline_ms = revoke_deadline_ms;
    result.events.push_back(std::move(e));
  }
  result.member_id = member_id;
  result.generation = joined.generation;
  return result;
}

absl::StatusOr<std::vector<MemberEvent>> GroupCoordinator::Leave(const std::string& group,
                                                                 const std::string& member_id,
                                                                 int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  auto git = groups_.find(group);
  Member* m = FindMember(git == groups_.end() ? nullptr : git->second.get(), member_id);
  if (m == nullptr) {
    return absl::NotFoundError(absl::StrCat("no member '", member_id, "' in group '", group, "'"));
  }
  std::vector<MemberEvent> events;
  Group& g = *git->second;
  if (m->is_static()) {
    // Reserved: nothing moves unless it stays away past its session timeout.
    m->connected = false;
    m->reserved_until_ms = now_ms + m->session_timeout_ms;
    return events;
  }
  RemoveMember(g, member_id, /*fence=*/false, &events);
  Rebalance(g, /*recompute=*/true, now_ms, &events);
  return events;
}

absl::Status GroupCoordinator::Heartbeat(const std::string& group, const std::string& member_id,
                                         int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  auto git = groups_.find(group);
  Member* m = FindMember(git == groups_.end() ? nullptr : git->second.get(), member_id);
  if (m == nullptr || !m->connected) return UnknownMember(group, member_id);
  m->last_seen_ms = now_ms;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<MemberEvent>> GroupCoordinator::RevokeDone(
    const std::string& group, const std::string& member_id, int64_t generation,
    const PartitionSet& partitions, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  auto git = groups_.find(group);
  Member* m = FindMember(git == groups_.end() ? nullptr : git->second.get(), member_id);
  if (m == nullptr || !m->connected) return UnknownMember(group, member_id);
  if (generation > m->generation) {
    return absl::InvalidArgumentError(absl::StrCat("RevokeDone for generation ", generation,
                                                   " but member '", member_id,
                                                   "' is at generation ", m->generation));
  }
  m->last_seen_ms = now_ms;
  std::vector<MemberEvent> events;
  bool freed = false;
  for (const auto& tp : partitions) {
    if (m->revoking.erase(tp) == 0) continue;
    m->owned.erase(tp);
    m->needs_assign = true;
    freed = true;
  }
  if (freed) Rebalance(*git->second, /*recompute=*/false, now_ms, &events);
  return events;
}

absl::Status GroupCoordinator::ValidateCommit(const std::string& group,
                                              const std::string& member_id, int64_t generation,
                                              const PartitionSet& partitions, int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  auto git = groups_.find(group);
  Group* g = git == groups_.end() ? nullptr : git->second.get();
  if (member_id.empty() && generation <= 0) {
    if (g == nullptr || g->members.empty()) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("group '", group,
                     "' has active members: commits must carry their member id and generation"));
  }
  Member* m = FindMember(g, member_id);
  if (m == nullptr || !m->connected) return UnknownMember(group, member_id);
  if (generation != m->generation) {
    return absl::AbortedError(absl::StrCat("stale generation ", generation, " for member '",
                                           member_id, "' of group '", group, "' (current ",
                                           m->generation, "): commit rejected"));
  }
  for (const auto& tp : partitions) {
    if (m->owned.count(tp) == 0) {
      return absl::AbortedError(absl::StrCat("member '", member_id, "' of group '", group,
                                             "' does not own ", ToString(tp), ": commit rejected"));
    }
  }
  m->last_seen_ms = now_ms;
  return absl::OkStatus();
}

bool GroupCoordinator::ExpireGroup(Group& g, int64_t now_ms, std::vector<MemberEvent>* events) {
  std::vector<std::string> expired;
  bool freed = false;
  for (auto& [id, m] : g.members) {
    const bool silent = m.connected && now_ms - m.last_seen_ms > m.session_timeout_ms;
    const bool reservation_over = !m.connected && now_ms >= m.reserved_until_ms;
    if (silent || reservation_over) {
      expired.push_back(id);
      continue;
    }
    if (TakeBackOverdue(g, m, now_ms, events)) freed = true;
  }
  for (const auto& id : expired) RemoveMember(g, id, /*fence=*/true, events);
  if (!expired.empty() || freed) Rebalance(g, /*recompute=*/!expired.empty(), now_ms, events);
  return !expired.empty();
}

std::vector<MemberEvent> GroupCoordinator::Tick(int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  std::vector<MemberEvent> events;
  for (auto& [name, g] : groups_) ExpireGroup(*g, now_ms, &events);
  return events;
}

std::vector<MemberEvent> GroupCoordinator::OnTopicMetadata(const TopicPartitionCounts& topics,
                                                           int64_t now_ms) {
  absl::MutexLock lock(&mu_);
  std::vector<MemberEvent> events;
  topics_ = topics;
  for (auto& [name, g] : groups_) {
    if (!g->members.empty()) Rebalance(*g, /*recompute=*/true, now_ms, &events);
  }
  return events;
}

GroupDescription GroupCoordinator::Describe(const std::string& group) {
  absl::MutexLock lock(&mu_);
  GroupDescription d;
  d.group = group;
  auto it = groups_.find(group);
  if (it == groups_.end()) return d;  // DEAD
  const Group& g = *it->second;
  d.state = StateOf(g);
  d.generation = g.generation;
  d.strategy = g.strategy;
  for (const auto& [id, m] : g.members) {
    d.members.push_back({m.member_id, m.instance_id, m.client_id, m.host, m.connected, m.owned,
                         m.target, m.generation});
  }
  return d;
}

std::vector<GroupListing> GroupCoordinator::List() {
  absl::MutexLock lock(&mu_);
  std::vector<GroupListing> out;
  for (const auto& [name, g] : groups_) {
    out.push_back({name, StateOf(*g), static_cast<int32_t>(g->members.size())});
  }
  return out;
}

absl::Status GroupCoordinator::Delete(const std::string& group) {
  absl::MutexLock lock(&mu_);
  auto it = groups_.find(group);
  if (it == groups_.end()) {
    return absl::NotFoundError(absl::StrCat("group '", group, "' not found"));
  }
  if (!it->second->members.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("group '", group, "' has ", it->second->members.size(),
                     " members (including reserved static members); it can be deleted only "
                     "when empty"));
  }
  groups_.erase(it);
  PersistDelete(group);
  return absl::OkStatus();
}

std::vector<GroupMetrics> GroupCoordinator::Metrics() {
  absl::MutexLock lock(&mu_);
  std::vector<GroupMetrics> out;
  for (const auto& [name, g] : groups_) {
    out.push_back({name, static_cast<int32_t>(g->members.size()), g->rebalances});
  }
  return out;
}

int64_t GroupCoordinator::persist_errors() {
  absl::MutexLock lock(&mu_);
  return persist_errors_;
}

}  // namespace herald::coordination
