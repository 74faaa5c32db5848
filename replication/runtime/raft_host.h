#pragma once
// RaftHost: runs many Raft groups of one node over a Transport.
//
// One event-loop thread owns every group's Raft core (cores are not
// thread-safe). Each loop iteration:
//   1. takes the queued work: inbound messages (from the transport's
//      threads) and tasks (proposals, transfers, group additions);
//   2. steps the cores, and ticks all of them when the tick timer is due;
//   3. for every group with a Ready: persists it through its RaftStorage
//      (synced), applies its committed entries (ApplyFn), completes the
//      proposals they carry, and calls Advance;
//   4. only then sends all messages of the iteration, one Send per peer, so
//      all groups' heartbeats and appends to a peer share one batch.
// Persist-before-send is the core's durability contract (../README.md).
//
// Bounds: inbound messages (max_inbound_msgs/_bytes, dropped beyond and
// counted -- Raft retries) and queued tasks (max_queued_tasks, Propose fails with
// RESOURCE_EXHAUSTED beyond). Per group, the core bounds uncommitted entries.
//
// Callbacks (ApplyFn, proposal and transfer callbacks) run on the loop
// thread: they must be quick and must not call blocking RaftHost methods
// (AddGroup after Start, Stop); Propose/TransferLeadership are fine.
//
// Lifecycle: construct (installs the transport's handler), AddGroup...,
// Start, ..., Stop. Stop the transport before destroying the host (the
// transport's handler points at it).
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "replication/raft.h"
#include "replication/runtime/raft_storage.h"
#include "replication/runtime/transport.h"

namespace herald::replication {

struct RaftHostOptions {
  NodeId node_id = kNoNode;
  // Wall time per Raft tick. Election timeout = election_tick..2x ticks.
  std::chrono::milliseconds tick_interval{100};
  size_t max_inbound_msgs = 1 << 16;
  size_t max_inbound_bytes = 64 << 20;  // ApproxMessageBytes; one message always fits
  size_t max_queued_tasks = 1 << 16;
  // Template for every group's core; id, voters, applied and seed are
  // filled in per group.
  RaftConfig raft;
};

struct GroupOptions {
  GroupId group = 0;
  std::vector<NodeId> voters;  // including this node
  std::shared_ptr<RaftStorage> storage;
  // The state machine's last applied index: committed entries after it are
  // applied again after a restart (0 replays the whole log).
  uint64_t applied = 0;
};

struct GroupStatus {
  NodeId leader = kNoNode;
  uint64_t term = 0;
  RaftRole role = RaftRole::kFollower;
  uint64_t commit = 0;
  uint64_t applied = 0;
  absl::Status status;  // non-OK: the group failed (storage or core) and stopped
  std::vector<NodeId> voters;
  // Leader only: each voter's match index (its own: its durable last index).
  std::map<NodeId, uint64_t> match;
  // Leader only: voters this node has heard nothing from (in any group) for
  // an election timeout -- down or cut off, however current their match.
  std::vector<NodeId> unreachable;
};

struct RaftHostStats {
  uint64_t inbound_dropped_full = 0;   // inbound queue full
  uint64_t inbound_unknown_group = 0;  // no such group on this node
  uint64_t inbound_invalid = 0;        // the core rejected it (INVALID_ARGUMENT)
  uint64_t ticks = 0;
  uint64_t late_ticks = 0;      // fired over a tick interval late (loop held up)
  uint64_t max_persist_us = 0;  // slowest single Ready persist (all on the loop)
  // Times a group's leader, as this node knows it, became a different node
  // (a group's first known leader counts; "no leader" in between does not).
  uint64_t leader_changes = 0;
  uint64_t elections_started = 0;  // campaigns (new terms) this node started
};

// The leader hint a failed Propose carries (kNoNode if none), and how it is
// attached (a status payload, so it survives code/message rewrites).
NodeId LeaderHint(const absl::Status& status);
absl::Status WithLeaderHint(absl::Status status, NodeId leader);

class RaftHost {
 public:
  // Called on the loop thread for every committed entry of every group, in
  // log order per group (no-op entries included: check entry.type).
  using ApplyFn = std::function<void(GroupId group, const Entry& entry)>;
  // OK: the entry's commit index. FAILED_PRECONDITION: not leader, leader
  // known (LeaderHint). UNAVAILABLE: no leader known, transfer in progress,
  // leadership lost before commit (the entry may still commit: an ambiguous
  // outcome, as with any consensus system), or shutting down.
  // RESOURCE_EXHAUSTED: too much queued or uncommitted. NOT_FOUND: no group.
  using ProposeCallback = std::function<void(absl::StatusOr<uint64_t> index)>;
  using DoneCallback = std::function<void(absl::Status)>;

  RaftHost(RaftHostOptions options, Transport* transport, ApplyFn apply);
  ~RaftHost();  // Stop()
  RaftHost(const RaftHost&) = delete;
  RaftHost& operator=(const RaftHost&) = delete;

  // Restores the group's core from its storage. ALREADY_EXISTS, or the
  // core's error (e.g. DATA_LOSS for inconsistent storage).
  absl::Status AddGroup(GroupOptions options);
  // Drops the group (its storage is the caller's to delete): pending
  // proposals fail with UNAVAILABLE, later messages for it are counted as
  // unknown. NOT_FOUND if absent. Must not be called on the loop thread.
  absl::Status RemoveGroup(GroupId group);
  void Start();
  // Fails pending proposals and queued tasks with UNAVAILABLE, joins the
  // loop. Idempotent.
  void Stop();

  void Propose(GroupId group, std::string data, ProposeCallback done);
  std::future<absl::StatusOr<uint64_t>> Propose(GroupId group, std::string data);
  // Starts a graceful transfer (the leader catches `target` up, then tells
  // it to campaign). `done` reports whether it started; watch
  // GetGroupStatus for the outcome. Abandoned after an election timeout.
  void TransferLeadership(GroupId group, NodeId target, DoneCallback done);

  // Runs `fn` on the loop thread, between Readies, with the group's storage
  // and the index its core has applied: the hook for log compaction (fn may
  // call storage.Compact(i) for i <= applied, e.g. PartitionRaftLog's
  // RetentionIndex capped at applied; followers behind the new snapshot are
  // sent one). `done` gets fn's status; NOT_FOUND for no group, the group's
  // failure if it failed. A write that breaks the storage inside fn fails
  // the group at its next persist.
  using StorageFn = std::function<absl::Status(RaftStorage& storage, uint64_t applied)>;
  void WithStorage(GroupId group, StorageFn fn, DoneCallback done);

  // As of the end of the last loop iteration. NOT_FOUND for no group.
  absl::StatusOr<GroupStatus> GetGroupStatus(GroupId group) const;
  RaftHostStats stats() const;

  // Inbound path (the Transport handler): enqueue and return.
  void Deliver(NodeId from, std::vector<GroupMessage> messages);

 private:
  struct Pending {
    uint64_t term = 0;
    ProposeCallback done;
  };
  struct Group {
    GroupId id = 0;
    std::shared_ptr<RaftStorage> storage;
    std::unique_ptr<Raft> raft;
    std::map<uint64_t, Pending> pending;  // by index
    absl::Status failed;
    // What CountLeadership saw last.
    NodeId last_leader = kNoNode;
    uint64_t elections_seen = 0;
  };
  // A unit of loop work: called with OK to run, or with the reason it will
  // never run (host full or stopping), when it must fail its callback.
  using Task = std::function<void(const absl::Status& refused)>;

  absl::StatusOr<std::unique_ptr<Group>> MakeGroup(GroupOptions options) const;
  // Queues a task, or refuses it at once (calls it with the reason).
  void Post(Task task);
  void Run();
  bool WaitForWork(std::chrono::steady_clock::time_point deadline, std::vector<Task>* tasks,
                   std::vector<GroupMessage>* inbound);
  void StepInbound(std::vector<GroupMessage>& inbound);
  void TickAll(bool late);
  void ProcessReadies();
  void FinishReady(Group& g, Ready& rd, std::map<NodeId, std::vector<GroupMessage>>* outbox);
  void NotePersistTime(std::chrono::steady_clock::time_point start);
  void CompletePending(Group& g, const Entry& e);
  void DropStalePending(Group& g);
  void FailGroup(Group& g, const absl::Status& status);
  void DoPropose(GroupId group, std::string data, const ProposeCallback& done);
  void PublishStatus();
  // Adds leader changes and started elections since the last call to stats_.
  void CountLeadership();
  void Shutdown();

  const RaftHostOptions options_;
  Transport* const transport_;
  const ApplyFn apply_;
  std::thread thread_;

  // Loop-thread state.
  std::map<GroupId, std::unique_ptr<Group>> groups_;
  bool more_ready_ = false;  // a group still had a Ready after its round limit
  std::map<NodeId, std::chrono::steady_clock::time_point> last_heard_;  // by sender
  uint64_t max_persist_us_ = 0;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Task> tasks_ ABSL_GUARDED_BY(mu_);
  std::vector<GroupMessage> inbound_ ABSL_GUARDED_BY(mu_);
  size_t inbound_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  RaftHostStats stats_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex status_mu_;
  std::map<GroupId, GroupStatus> status_ ABSL_GUARDED_BY(status_mu_);
};

}  // namespace herald::replication
