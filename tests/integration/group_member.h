#pragma once
// GroupMember: one consumer-group member over a raw Subscribe stream, driven
// by the test thread (Pump). It behaves like a well-written client: it reads
// only what it owns, commits what it processed when told to revoke, then
// confirms with RevokeDone. Everything it saw is kept for the test to check.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/harness/client_helpers.h"

namespace herald::testing {

using TopicPartition = std::pair<std::string, int32_t>;

struct GroupMemberOptions {
  std::string group;
  std::vector<std::string> topics;
  std::string instance_id;
  int32_t session_timeout_ms = 0;
  // Commit the position of revoked partitions and send RevokeDone. Off: the
  // member ignores Revokes (a stuck member).
  bool confirm_revokes = true;
};

class GroupMember {
 public:
  GroupMember(herald::v1::Broker::Stub* stub, GroupMemberOptions options);

  // Handles events until `done` holds (true) or timeout_ms passes (false).
  bool PumpUntil(const std::function<bool()>& done, int64_t timeout_ms);
  // Handles whatever arrives within timeout_ms.
  void PumpFor(int64_t timeout_ms);

  // Commits the current position of every owned partition (or of `only`)
  // in-band and waits for the CommitResult; the per-partition errors.
  std::vector<herald::v1::PartitionResult> Commit(const std::set<TopicPartition>& only = {});
  // Commits exactly these offsets in-band and waits for the CommitResult.
  std::vector<herald::v1::PartitionResult> CommitOffsets(
      const std::map<TopicPartition, int64_t>& offsets);
  // A CommitOffsets RPC with explicit fencing fields.
  herald::v1::CommitOffsetsResponse CommitRpc(const TopicPartition& tp, int64_t offset,
                                              int64_t generation, const std::string& member_id);

  void Cancel() { stream_->Cancel(); }
  std::optional<grpc::Status> WaitDone(int64_t timeout_ms) { return stream_->WaitDone(timeout_ms); }

  const std::set<TopicPartition>& owned() const { return owned_; }
  int64_t generation() const { return generation_; }
  const std::string& member_id() const { return member_id_; }
  int assignments() const { return assignments_; }
  // Every Revoke received, in order.
  const std::vector<std::set<TopicPartition>>& revokes() const { return revokes_; }
  // Records received per partition, in delivery order.
  const std::map<TopicPartition, std::vector<int64_t>>& offsets() const { return offsets_; }
  int64_t record_count() const;
  // Owned partitions, offsets read, revokes: for failure messages.
  std::string DebugString() const;
  // Next offset to process per partition (what a commit would store).
  const std::map<TopicPartition, int64_t>& positions() const { return positions_; }
  // Batches for partitions this member did not own when they arrived.
  int unowned_deliveries() const { return unowned_deliveries_; }

 private:
  void Handle(const herald::v1::SubscribeResponse& event);
  void OnRevoke(const herald::v1::Revoke& revoke);
  void OnBatches(const herald::v1::RecordBatches& batches);
  // Current positions of `partitions` (those with one).
  std::map<TopicPartition, int64_t> PositionsOf(const std::set<TopicPartition>& partitions) const;
  void SendCommit(const std::map<TopicPartition, int64_t>& offsets, uint64_t request_id);

  herald::v1::Broker::Stub* stub_;
  GroupMemberOptions options_;
  std::unique_ptr<SubscribeClient> stream_;
  std::set<TopicPartition> owned_;
  int64_t generation_ = 0;
  std::string member_id_;
  int assignments_ = 0;
  std::vector<std::set<TopicPartition>> revokes_;
  std::map<TopicPartition, std::vector<int64_t>> offsets_;
  std::map<TopicPartition, int64_t> positions_;
  int unowned_deliveries_ = 0;
  uint64_t next_commit_id_ = 1;
  int64_t last_heartbeat_ms_ = 0;
  std::map<uint64_t, herald::v1::CommitResult> commit_results_;
};

}  // namespace herald::testing
