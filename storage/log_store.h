#pragma once
// storage::LogStore: the partitioned, durable log under the broker.
//
// A partition's log is a sequence of stored batches (common/batch_format.h)
// with dense offsets: batch n+1's base_offset == batch n's next_offset().
// Offsets are assigned by the store, in the order appends are queued.
//
// Threads: every method is thread-safe. Appends are queued to one writer
// thread that commits them in groups (one RocksDB WriteBatch, synced if any
// request of the group asked for sync), so acks=ALL costs one fsync per group,
// not per batch. Append callbacks and the append listener run on the writer
// thread: they must be quick and must not call back into Append synchronously
// in a way that waits for the writer.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/batch_format.h"
#include "common/clock.h"

namespace herald::storage {

// One partition's log. topic_id is a numeric id that is never reused, so a
// deleted and re-created topic never sees old data.
struct PartitionKey {
  uint64_t topic_id = 0;
  int32_t partition = 0;

  friend bool operator==(const PartitionKey& a, const PartitionKey& b) {
    return a.topic_id == b.topic_id && a.partition == b.partition;
  }
  friend bool operator<(const PartitionKey& a, const PartitionKey& b) {
    return a.topic_id != b.topic_id ? a.topic_id < b.topic_id : a.partition < b.partition;
  }
  template <typename H>
  friend H AbslHashValue(H h, const PartitionKey& k) {
    return H::combine(std::move(h), k.topic_id, k.partition);
  }
};

struct AppendRequest {
  PartitionKey partition;
  // base_offset and append_time_ms are assigned by the store (and
  // max_timestamp_ms raised to append_time_ms when 0). The caller sets the
  // rest, including payload_crc = Crc32c(payload).
  BatchHeader header;
  std::string payload;
  // true: the callback runs only after the batch is synced to disk.
  bool sync = true;
  // Replication (later): when set, the batch must land exactly at this
  // offset (FAILED_PRECONDITION otherwise) and append_time_ms is kept.
  std::optional<int64_t> expected_base_offset;
};

struct AppendResult {
  int64_t base_offset = 0;
  int64_t append_time_ms = 0;
};

using AppendCallback = absl::AnyInvocable<void(absl::StatusOr<AppendResult>)>;

struct ReadOptions {
  // Returns batches starting with the one that contains this offset.
  int64_t start_offset = 0;
  // Stops before a batch would pass this many stored bytes, but always
  // returns at least one batch when one is available.
  int64_t max_bytes = 1 << 20;
  // Exclusive upper bound on base offsets returned (e.g. a commit point).
  int64_t max_offset = INT64_MAX;
  // Verify both checksums of every batch read (DATA_LOSS on mismatch).
  bool verify_checksums = true;
};

struct ReadBatch {
  BatchHeader header;
  std::string stored;  // header || payload, exactly as stored
};

struct ReadResult {
  std::vector<ReadBatch> batches;
  int64_t log_start_offset = 0;
  int64_t log_end_offset = 0;
};

// A stored batch without its payload: what an index of the log needs.
struct BatchSummary {
  int64_t base_offset = 0;
  int64_t record_count = 0;
  int64_t stored_bytes = 0;  // header + payload
  int64_t max_timestamp_ms = 0;
  int64_t leader_epoch = 0;
};

struct PartitionStats {
  int64_t log_start_offset = 0;
  // The offset the next appended record will get.
  int64_t log_end_offset = 0;
  // Stored bytes (headers + payloads) of the batches in the log.
  int64_t size_bytes = 0;
  int64_t batch_count = 0;
};

struct RetentionPolicy {
  int64_t retention_ms = -1;     // -1: no time limit
  int64_t retention_bytes = -1;  // -1: no size limit
  // Also drops every batch whose next_offset <= this (exact prefix removal,
  // e.g. Raft log compaction); -1: none.
  int64_t truncate_before_offset = -1;
};

struct MetadataWrite {
  std::string key;
  std::optional<std::string> value;  // nullopt: delete
};

// --- Replication view (cluster mode; see cluster/README.md). A single-node
// store keeps LogStore's defaults: not replicated, no listener calls. ---

// Who leads one replicated log (a partition, or the cluster metadata).
struct ReplicaState {
  int32_t leader = -1;         // node id; -1 while no leader is known
  std::string leader_address;  // the leader's client address, if known
  int64_t leader_epoch = 0;    // the leader's Raft term
  bool local_is_leader = false;
  std::vector<int32_t> replicas;
  std::vector<int32_t> in_sync_replicas;  // leader only: all committed, heard from lately
  // Leader only: per replica, committed entries it has not stored yet
  // (commit index minus its match index, floored at 0; 0 = in sync).
  std::vector<std::pair<int32_t, int64_t>> replica_lag_entries;
};

// A fixed-bucket latency histogram: counts[i] holds the observations in
// (bounds[i-1], bounds[i]]; counts.back() those above the last bound.
struct LatencyHistogramSnapshot {
  std::vector<double> bounds_seconds;
  std::vector<uint64_t> counts;  // bounds_seconds.size() + 1 entries
  double sum_seconds = 0;
  uint64_t count = 0;
};

// One peer's node-to-node link, as this node sends to it.
struct ReplicationPeerStats {
  int32_t node = 0;
  uint64_t sent_batches = 0;
  uint64_t dropped_msgs = 0;     // its send queue was full
  uint64_t stream_failures = 0;  // streams that broke or never connected
  uint64_t queued_msgs = 0;      // now
};

// Raw numbers of a replicated store for metrics; counters are cumulative
// since the store opened. Plain data: the edge names and exports them.
struct ReplicationStats {
  int32_t node_id = 0;
  bool controller = false;  // this node leads the metadata log
  uint64_t leader_changes = 0;
  uint64_t elections_started = 0;
  uint64_t ticks = 0;
  uint64_t late_ticks = 0;
  uint64_t max_persist_us = 0;
  uint64_t inbound_dropped = 0;
  std::vector<ReplicationPeerStats> peers;
  // Append on the leader: proposed -> committed and applied here.
  LatencyHistogramSnapshot commit_latency;
};

// A status a replicated store returns when another node leads the log
// carries the leader's client address as this payload (absl::Status
// SetPayload), so the edge can tell clients where to go.
inline constexpr char kLeaderAddressPayload[] = "type.herald.dev/leader_address";

struct ClusterNode {
  int32_t id = 0;
  std::string address;  // client address
};

// Events of a replicated store, for the broker core. Called on the store's
// applier thread, one at a time, never while the store holds a lock; a call
// may use the store (CreatePartition, Read, WriteMetadata...).
class ReplicationListener {
 public:
  virtual ~ReplicationListener() = default;
  // These replicated metadata keys were written or deleted on this node
  // (by any node's WriteMetadata): refresh what is cached from them.
  virtual void OnMetadataApplied(const std::vector<std::string>& keys) = 0;
  // This node now leads `key` and has applied every earlier leader's
  // entries; until this returns, the store refuses appends to it. Rebuild
  // leader-only state (producer sequences) here.
  virtual void OnLeaderReady(PartitionKey key) = 0;
  // This node now leads the metadata log (it is the controller) and has
  // applied all of it: reload state kept only on the controller.
  virtual void OnControllerReady() {}
};

class LogStore {
 public:
  virtual ~LogStore() = default;

  // Idempotent. A new partition starts empty at offset 0.
  virtual absl::Status CreatePartition(PartitionKey key) = 0;
  // Removes the partition and all its data. NOT_FOUND if absent.
  virtual absl::Status DeletePartition(PartitionKey key) = 0;
  virtual std::vector<PartitionKey> ListPartitions() = 0;

  // Queues an append; `done` runs exactly once (on the writer thread), after
  // the batch is written (and synced if request.sync). NOT_FOUND for an
  // unknown partition; UNAVAILABLE once the store is shutting down.
  virtual void Append(AppendRequest request, AppendCallback done) = 0;

  // OUT_OF_RANGE if start_offset < log start or > log end (message gives both
  // bounds); an empty result when start_offset == log end.
  virtual absl::StatusOr<ReadResult> Read(PartitionKey key, const ReadOptions& options) = 0;
  // Up to max_batches summaries of the batches from start_offset (a batch
  // boundary) on, without reading payloads where the engine can avoid it
  // (RocksDB: its per-batch index). Same OUT_OF_RANGE rule as Read. The
  // default reads the batches.
  virtual absl::StatusOr<std::vector<BatchSummary>> ReadSummaries(PartitionKey key,
                                                                  int64_t start_offset,
                                                                  size_t max_batches) {
    ReadOptions options;
    options.start_offset = start_offset;
    options.verify_checksums = false;
    auto read = Read(key, options);
    if (!read.ok()) return read.status();
    std::vector<BatchSummary> out;
    for (const ReadBatch& b : read->batches) {
      if (out.size() >= max_batches) break;
      out.push_back({b.header.base_offset, b.header.record_count,
                     static_cast<int64_t>(b.stored.size()), b.header.max_timestamp_ms,
                     b.header.leader_epoch});
    }
    return out;
  }

  virtual absl::StatusOr<PartitionStats> Stats(PartitionKey key) = 0;

  // The first offset whose record timestamp is >= timestamp_ms (the
  // batch's append time for records without one, or for log-append-time
  // topics), or log end if there is none.
  virtual absl::StatusOr<int64_t> OffsetForTimestamp(PartitionKey key, int64_t timestamp_ms) = 0;

  // Deletes whole batches from the front that are older than retention_ms
  // (by max timestamp) or beyond retention_bytes (keeping the newest).
  // Never deletes the active (last) batch. Returns the new log start offset.
  virtual absl::StatusOr<int64_t> ApplyRetention(PartitionKey key, const RetentionPolicy& policy,
                                                 int64_t now_ms) = 0;

  // Removes every batch with base_offset >= offset (replication divergence).
  // `offset` must be a batch boundary or log end (INVALID_ARGUMENT otherwise).
  virtual absl::Status TruncateSuffix(PartitionKey key, int64_t offset) = 0;

  // Called on the writer thread after each group commit, once per partition
  // that grew, with its new log end offset. Set once, before appends start.
  virtual void SetAppendListener(std::function<void(PartitionKey, int64_t)> listener) = 0;

  // Small durable key/values for the layers above (topics, committed
  // offsets, producer state). Writes are atomic and synced.
  virtual absl::Status WriteMetadata(const std::vector<MetadataWrite>& writes) = 0;
  // The same, atomic but not synced: durable once any later synced write
  // returns (they share one log). For values that may be lost on a crash
  // but never seen torn (e.g. a Raft commit index, recomputed after restart).
  virtual absl::Status WriteMetadataUnsynced(const std::vector<MetadataWrite>& writes) {
    return WriteMetadata(writes);
  }
  virtual absl::StatusOr<std::optional<std::string>> GetMetadata(absl::string_view key) = 0;
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ScanMetadata(
      absl::string_view prefix) = 0;

  // Engine statistics for metrics (name -> value), e.g. RocksDB's
  // "rocksdb.estimate-live-data-size". Names are stable snake_case.
  virtual std::vector<std::pair<std::string, double>> EngineStats() = 0;

  // --- Replication (defaults: a single-node store). ---
  // True when appends go through consensus: Append completes on commit,
  // reads and Stats stop at the commit point, and some metadata keys are
  // replicated to every node.
  virtual bool replicated() const { return false; }
  // Set once by the broker after it has loaded its state; events from before
  // are delivered then. nullptr detaches (before the listener goes away).
  virtual void SetReplicationListener(ReplicationListener* /*listener*/) {}
  virtual std::optional<ReplicaState> Replica(PartitionKey /*key*/) { return std::nullopt; }
  // The metadata log's leader: the controller, which alone runs topic admin
  // and consumer-group coordination.
  virtual std::optional<ReplicaState> MetadataReplica() { return std::nullopt; }
  virtual std::vector<ClusterNode> Nodes() { return {}; }
  virtual std::optional<ReplicationStats> GetReplicationStats() { return std::nullopt; }
  // Before a planned stop: hands leadership of every log this node leads to
  // an up-to-date replica and waits (at most timeout_ms) until each moved,
  // so the stop stalls no writer for an election timeout. Best effort: the
  // store keeps working either way; DEADLINE_EXCEEDED names what did not
  // move in time.
  virtual absl::Status HandOffLeadership(int64_t /*timeout_ms*/) { return absl::OkStatus(); }

  // Drains queued appends (their callbacks run), then stops the writer.
  // Later Appends fail with UNAVAILABLE. Idempotent.
  virtual void Close() = 0;
};

struct RocksLogStoreOptions {
  std::string path;
  Clock* clock = Clock::Real();
  // Most bytes committed in one group (one WriteBatch).
  int64_t max_group_bytes = 8 << 20;
  // Most bytes queued for the writer; beyond it Append fails fast with
  // RESOURCE_EXHAUSTED (the caller backs off) instead of blocking.
  int64_t max_queued_bytes = 64 << 20;
  // Memory for memtables across the whole store.
  int64_t write_buffer_bytes = 128 << 20;
  int64_t block_cache_bytes = 256 << 20;
  // For tests: a RocksDB Env to run on (e.g. one that loses unsynced data).
  void* rocksdb_env = nullptr;  // rocksdb::Env*, kept opaque here
};

absl::StatusOr<std::unique_ptr<LogStore>> OpenRocksLogStore(const RocksLogStoreOptions& options);

// An in-memory LogStore with the same contract, for tests of upper layers.
std::unique_ptr<LogStore> NewMemoryLogStore(Clock* clock = Clock::Real());

}  // namespace herald::storage
