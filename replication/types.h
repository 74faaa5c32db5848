#pragma once
// Plain data exchanged between the Raft core (raft.h) and its owner: log
// entries, the durable hard state, messages and the Ready batch.
//
// Everything here is a value type with no behaviour beyond comparison, so the
// owner can serialize it however its transport and storage like; the core
// never does I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace herald::replication {

// Node ids are non-zero; kNoNode means "nobody" (no vote, no known leader).
using NodeId = uint64_t;
inline constexpr NodeId kNoNode = 0;

enum class EntryType : uint8_t {
  kNormal = 0,  // a client proposal: data is opaque to Raft
  kNoop = 1,    // appended by every new leader so it can commit in its own term
  // A membership change (conf_change.h): data = EncodeConfChange(...). It
  // takes effect on every node as soon as it is in that node's log.
  kConfChange = 2,
};

// One replicated log entry. Raft indexes are dense (1, 2, 3, ...). See
// README.md "Partition log as the Raft log" for how they map to partition
// offsets.
struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  std::string data;

  friend bool operator==(const Entry& a, const Entry& b) {
    return a.term == b.term && a.index == b.index && a.type == b.type && a.data == b.data;
  }
};

// What must be durable before the messages of the same Ready are sent.
struct HardState {
  uint64_t term = 0;
  NodeId vote = kNoNode;
  uint64_t commit = 0;

  friend bool operator==(const HardState& a, const HardState& b) {
    return a.term == b.term && a.vote == b.vote && a.commit == b.commit;
  }
  friend bool operator!=(const HardState& a, const HardState& b) { return !(a == b); }
};

// Metadata of a compacted log prefix: every entry <= index is gone from the
// log and covered by the owner's state-machine snapshot. Raft only moves the
// metadata; shipping the state itself is the owner's job.
struct SnapshotMeta {
  uint64_t index = 0;
  uint64_t term = 0;
  // Opaque to Raft: set by the owner's RaftLog::Snapshot() on the leader and
  // carried unchanged to the follower's Ready.snapshot (transports must ship
  // it). The partition log stores the offset where entry index + 1 starts.
  uint64_t owner_position = 0;
  // The voters in effect at `index` (sorted). Empty = no config entry was
  // ever compacted into this snapshot: RaftConfig::voters (the bootstrap
  // set) applies. The owner persists it with the snapshot and, when it
  // compacts, sets it from the last kConfChange entry <= index
  // (MemoryRaftLog::Compact does). Transports must ship it. (The explicit
  // initializer lets existing aggregate inits like {index, term} omit it.)
  std::vector<NodeId> voters = {};
};

enum class MessageType : uint8_t {
  kPreVote,
  kPreVoteResp,
  kVote,
  kVoteResp,
  kAppend,
  kAppendResp,
  kHeartbeat,
  kHeartbeatResp,
  kSnapshot,
  kTimeoutNow,
};

const char* MessageTypeName(MessageType type);

// One Raft message. Fields not listed for a type are zero.
//   PreVote/Vote:  index/log_term = candidate's last entry; transfer = campaign
//                  started by TimeoutNow (bypasses the followers' leader lease).
//   *VoteResp:     reject.
//   Append:        index/log_term = entry before `entries`; commit.
//   AppendResp:    success: index = last matching index. reject: index = the
//                  rejected prev index, reject_hint/log_term = follower's
//                  best guess of the last index whose term may match.
//   Heartbeat:     commit = min(leader commit, follower match). It carries no
//                  log data, so a transport may coalesce the heartbeats of all
//                  groups between one node pair into one message.
//   Snapshot:      snapshot.
struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  uint64_t term = 0;
  uint64_t log_term = 0;
  uint64_t index = 0;
  std::vector<Entry> entries;
  uint64_t commit = 0;
  bool reject = false;
  uint64_t reject_hint = 0;
  bool transfer = false;
  SnapshotMeta snapshot;
};

inline Message MakeMessage(MessageType type, NodeId to) {
  Message m;
  m.type = type;
  m.to = to;
  return m;
}

// The core's output. The owner must, in this order:
//   1. durably persist `snapshot` (if set), then `entries` (dropping every
//      stored entry with index >= entries.front().index first), then
//      `hard_state` (if set) -- atomically (one synced write batch) or in
//      exactly this order, and sync;
//   2. only then send `messages` and apply `committed_entries`;
//   3. call Raft::Advance(ready).
struct Ready {
  std::optional<SnapshotMeta> snapshot;
  std::vector<Entry> entries;
  std::optional<HardState> hard_state;
  std::vector<Message> messages;
  std::vector<Entry> committed_entries;

  bool Empty() const {
    return !snapshot && entries.empty() && !hard_state && messages.empty() &&
           committed_entries.empty();
  }
};

}  // namespace herald::replication
