#pragma once
// coordination::GroupCoordinator: the consumer-group state machine.
//
// Server-side, cooperative assignment (KIP-848 style): the coordinator
// computes each group's target assignment and tells members what to do
// through MemberEvents, which every call returns for the owner (the broker)
// to route to the members' Subscribe streams. See README.md for the protocol.
//
// Threads: every method is thread-safe (one mutex). No threads of its own and
// no callbacks: time comes in as `now_ms` arguments (monotonic ms) and the
// owner calls Tick() periodically (e.g. every 100 ms) to expire sessions and
// revoke deadlines. Metadata writes (synced) happen under the mutex, so keep
// the store fast; they only happen when durable state changes.
//
// Invariant: no partition is owned by two members of a group at once. A
// member owns a partition from the Assignment that lists it until it confirms
// a Revoke (RevokeDone), the revoke deadline passes, or it is removed.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordination/assignor.h"
#include "storage/log_store.h"

namespace herald::coordination {

struct GroupCoordinatorOptions {
  // Session timeout for members that ask for 0, and the allowed range.
  int64_t default_session_timeout_ms = 45'000;
  int64_t min_session_timeout_ms = 1'000;
  int64_t max_session_timeout_ms = 300'000;
  // How long a member has to confirm a Revoke before the partitions are
  // taken back anyway.
  int64_t revoke_timeout_ms = 30'000;
  int32_t max_groups = 10'000;
  int32_t max_members_per_group = 1'000;
  // Prefix of metadata keys ("<prefix>group/<name>", "<prefix>incarnation").
  std::string metadata_prefix = "coord/";
};

struct JoinOptions {
  std::string instance_id;  // non-empty: static membership
  std::string client_id;
  std::string host;
  std::vector<std::string> topics;
  std::string topic_regex;                     // RE2 syntax, full match over topic names
  std::optional<AssignmentStrategy> strategy;  // nullopt: the group's (sticky if new)
  int64_t session_timeout_ms = 0;              // 0: the default
};

struct MemberEvent {
  enum class Kind {
    // `partitions` is the complete set the member now owns.
    kAssign,
    // Stop reading `partitions`, commit, then call RevokeDone by deadline_ms.
    kRevoke,
    // The member was removed (session expired or replaced by a new instance
    // with its instance id): end its stream with ABORTED.
    kFenced,
  };
  std::string group;
  std::string member_id;
  Kind kind = Kind::kAssign;
  int64_t generation = 0;
  PartitionSet partitions;
  int64_t deadline_ms = 0;  // kRevoke only: absolute, monotonic ms
};

struct JoinResult {
  std::string member_id;
  int64_t generation = 0;
  std::vector<MemberEvent> events;  // including this member's first Assignment
};

enum class GroupState { kEmpty, kStable, kRebalancing, kDead };
absl::string_view GroupStateName(GroupState state);  // "EMPTY", "STABLE", ...

struct MemberDescription {
  std::string member_id;
  std::string instance_id;
  std::string client_id;
  std::string host;
  bool connected = true;  // false: a static member whose partitions are reserved
  PartitionSet owned;     // what it owns now
  PartitionSet target;    // what it will own once the rebalance completes
  int64_t generation = 0;
};

struct GroupDescription {
  std::string group;
  GroupState state = GroupState::kDead;
  int64_t generation = 0;
  AssignmentStrategy strategy = AssignmentStrategy::kSticky;
  std::vector<MemberDescription> members;  // by member id
};

struct GroupListing {
  std::string group;
  GroupState state = GroupState::kEmpty;
  int32_t members = 0;
};

struct GroupMetrics {
  std::string group;
  int32_t members = 0;
  int64_t rebalances = 0;  // target assignment changes since start
};

class GroupCoordinator {
 public:
  // Loads persisted groups from `store` (may be null: nothing is durable).
  // Static members are restored disconnected, their partitions reserved for
  // their session timeout from `now_ms`. `store` must outlive the result.
  static absl::StatusOr<std::unique_ptr<GroupCoordinator>> Open(
      const GroupCoordinatorOptions& options, storage::LogStore* store, int64_t now_ms);

  // Adds a member (creating the group). INVALID_ARGUMENT bad name, regex or
  // timeout; FAILED_PRECONDITION strategy differs from the live group's;
  // RESOURCE_EXHAUSTED over max_groups / max_members_per_group.
  absl::StatusOr<JoinResult> Join(const std::string& group, const JoinOptions& options,
                                  int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);

  // The member's stream closed. A static member's partitions stay reserved
  // for its session timeout; a dynamic member is removed at once.
  // NOT_FOUND unknown group or member.
  absl::StatusOr<std::vector<MemberEvent>> Leave(const std::string& group,
                                                 const std::string& member_id, int64_t now_ms)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Any sign of life (heartbeat, credit). ABORTED unknown member.
  absl::Status Heartbeat(const std::string& group, const std::string& member_id, int64_t now_ms)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The member gave up `partitions` (after committing). Partitions not
  // pending revocation are ignored. ABORTED unknown member;
  // INVALID_ARGUMENT generation newer than the member's.
  absl::StatusOr<std::vector<MemberEvent>> RevokeDone(const std::string& group,
                                                      const std::string& member_id,
                                                      int64_t generation,
                                                      const PartitionSet& partitions,
                                                      int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);

  // May this commit move offsets? OK for a standalone commit (empty
  // member_id, generation <= 0) to a group with no members. ABORTED for an
  // unknown member, a generation other than the member's current one, or a
  // partition it does not own (the message says which);
  // FAILED_PRECONDITION for a standalone commit to a group with members.
  // A valid commit counts as a heartbeat.
  absl::Status ValidateCommit(const std::string& group, const std::string& member_id,
                              int64_t generation, const PartitionSet& partitions, int64_t now_ms)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Expires silent members, reserved static members and revoke deadlines.
  std::vector<MemberEvent> Tick(int64_t now_ms) ABSL_LOCKS_EXCLUDED(mu_);

  // The complete topic -> partition count map (topics absent were deleted).
  // Rebalances groups whose subscriptions it changes.
  std::vector<MemberEvent> OnTopicMetadata(const TopicPartitionCounts& topics, int64_t now_ms)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Unknown groups are described as DEAD with no members.
  GroupDescription Describe(const std::string& group) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<GroupListing> List() ABSL_LOCKS_EXCLUDED(mu_);
  // NOT_FOUND unknown; FAILED_PRECONDITION while it has members (including
  // reserved static ones).
  absl::Status Delete(const std::string& group) ABSL_LOCKS_EXCLUDED(mu_);

  std::vector<GroupMetrics> Metrics() ABSL_LOCKS_EXCLUDED(mu_);
  // Metadata writes that failed (state stays correct in memory; only what
  // survives a restart is affected). Exposed as a metric.
  int64_t persist_errors() ABSL_LOCKS_EXCLUDED(mu_);

  ~GroupCoordinator();

  struct Group;  // defined in group_coordinator.cc

 private:
  GroupCoordinator(const GroupCoordinatorOptions& options, storage::LogStore* store);

  absl::Status Load(int64_t now_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Persist(Group& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PersistDelete(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NextMemberId(const std::string& client_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ValidateJoin(const std::string& group, const JoinOptions& options)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Recomputes the target (when `recompute`) and hands out freed partitions.
  void Rebalance(Group& group, bool recompute, int64_t now_ms, std::vector<MemberEvent>* events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool RecomputeTarget(Group& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveMember(Group& group, const std::string& member_id, bool fence,
                    std::vector<MemberEvent>* events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ExpireGroup(Group& group, int64_t now_ms, std::vector<MemberEvent>* events)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const GroupCoordinatorOptions options_;
  storage::LogStore* const store_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Group>> groups_ ABSL_GUARDED_BY(mu_);
  TopicPartitionCounts topics_ ABSL_GUARDED_BY(mu_);
  int64_t incarnation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_member_seq_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t persist_errors_ ABSL_GUARDED_BY(mu_) = 0;
};

// Committed offsets only move forward; only an admin reset may move one
// back. FAILED_PRECONDITION (naming both offsets) for a regression, OK
// otherwise. `previous` is -1 when nothing was committed.
absl::Status CheckOffsetAdvance(const TopicPartition& tp, int64_t previous, int64_t next,
                                bool admin_reset);

}  // namespace herald::coordination
