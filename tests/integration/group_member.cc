#include "tests/integration/group_member.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace herald::testing {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Like a real client: silence would let the session expire (3 s in tests).
constexpr int64_t kHeartbeatIntervalMs = 500;

TopicPartition Key(const std::string& topic, int32_t partition) { return {topic, partition}; }

}  // namespace

GroupMember::GroupMember(herald::v1::Broker::Stub* stub, GroupMemberOptions options)
    : stub_(stub), options_(std::move(options)) {
  herald::v1::SubscribeRequest start;
  auto* s = start.mutable_start();
  for (const auto& t : options_.topics) s->add_topics(t);
  s->set_group(options_.group);
  s->set_instance_id(options_.instance_id);
  s->set_session_timeout_ms(options_.session_timeout_ms);
  s->set_reset(herald::v1::StartPosition::NAMED_EARLIEST);
  // Plenty for any test; flow control has tests of its own.
  s->mutable_credit()->set_records(1'000'000);
  s->mutable_credit()->set_bytes(1LL << 30);
  stream_ = std::make_unique<SubscribeClient>(stub_, start);
}

bool GroupMember::PumpUntil(const std::function<bool()>& done, int64_t timeout_ms) {
  const int64_t deadline_ms = NowMs() + timeout_ms;
  while (!done()) {
    const int64_t now_ms = NowMs();
    if (now_ms >= deadline_ms) return false;
    if (now_ms - last_heartbeat_ms_ >= kHeartbeatIntervalMs) {
      herald::v1::SubscribeRequest heartbeat;
      heartbeat.mutable_heartbeat();
      stream_->Send(heartbeat);
      last_heartbeat_ms_ = now_ms;
    }
    const int64_t wait_ms = std::min(deadline_ms - now_ms, kHeartbeatIntervalMs);
    std::optional<herald::v1::SubscribeResponse> event = stream_->Next(wait_ms);
    if (event.has_value()) {
      Handle(*event);
    } else if (stream_->WaitDone(0).has_value()) {
      return done();  // the stream ended: nothing more will arrive
    }
  }
  return true;
}

void GroupMember::PumpFor(int64_t timeout_ms) {
  PumpUntil([] { return false; }, timeout_ms);
}

void GroupMember::Handle(const herald::v1::SubscribeResponse& event) {
  switch (event.event_case()) {
    case herald::v1::SubscribeResponse::kAssignment: {
      const auto& a = event.assignment();
      generation_ = a.generation();
      member_id_ = a.member_id();
      owned_.clear();
      for (const auto& tp : a.partitions()) owned_.insert(Key(tp.topic(), tp.partition()));
      ++assignments_;
      break;
    }
    case herald::v1::SubscribeResponse::kRevoke:
      OnRevoke(event.revoke());
      break;
    case herald::v1::SubscribeResponse::kBatches:
      OnBatches(event.batches());
      break;
    case herald::v1::SubscribeResponse::kCommitResult:
      commit_results_[event.commit_result().request_id()] = event.commit_result();
      break;
    default:
      break;
  }
}

void GroupMember::OnRevoke(const herald::v1::Revoke& revoke) {
  std::set<TopicPartition> revoked;
  for (const auto& tp : revoke.partitions()) revoked.insert(Key(tp.topic(), tp.partition()));
  revokes_.push_back(revoked);
  if (!options_.confirm_revokes) return;
  for (const auto& tp : revoked) owned_.erase(tp);
  SendCommit(PositionsOf(revoked), next_commit_id_++);
  herald::v1::SubscribeRequest done;
  done.mutable_revoke_done()->set_generation(revoke.generation());
  *done.mutable_revoke_done()->mutable_partitions() = revoke.partitions();
  stream_->Send(done);
}

void GroupMember::OnBatches(const herald::v1::RecordBatches& batches) {
  for (const auto& batch : batches.batches()) {
    const TopicPartition tp = Key(batch.topic(), batch.partition());
    if (owned_.count(tp) == 0) ++unowned_deliveries_;
    auto& seen = offsets_[tp];
    for (int i = 0; i < batch.records_size(); ++i) seen.push_back(batch.base_offset() + i);
    positions_[tp] = batch.base_offset() + batch.records_size();
  }
}

std::map<TopicPartition, int64_t> GroupMember::PositionsOf(
    const std::set<TopicPartition>& partitions) const {
  std::map<TopicPartition, int64_t> out;
  for (const auto& tp : partitions) {
    auto pos = positions_.find(tp);
    if (pos != positions_.end()) out[tp] = pos->second;
  }
  return out;
}

void GroupMember::SendCommit(const std::map<TopicPartition, int64_t>& offsets,
                             uint64_t request_id) {
  herald::v1::SubscribeRequest request;
  auto* commit = request.mutable_commit();
  commit->set_request_id(request_id);
  for (const auto& [tp, offset] : offsets) {
    auto* o = commit->add_offsets();
    o->set_topic(tp.first);
    o->set_partition(tp.second);
    o->set_offset(offset);
  }
  stream_->Send(request);
}

std::vector<herald::v1::PartitionResult> GroupMember::Commit(const std::set<TopicPartition>& only) {
  return CommitOffsets(PositionsOf(only.empty() ? owned_ : only));
}

std::vector<herald::v1::PartitionResult> GroupMember::CommitOffsets(
    const std::map<TopicPartition, int64_t>& offsets) {
  const uint64_t id = next_commit_id_++;
  SendCommit(offsets, id);
  PumpUntil([&] { return commit_results_.count(id) > 0; }, 10'000);
  auto it = commit_results_.find(id);
  if (it == commit_results_.end()) return {};
  return {it->second.results().begin(), it->second.results().end()};
}

herald::v1::CommitOffsetsResponse GroupMember::CommitRpc(const TopicPartition& tp, int64_t offset,
                                                         int64_t generation,
                                                         const std::string& member_id) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  herald::v1::CommitOffsetsRequest request;
  request.set_group(options_.group);
  request.set_generation(generation);
  request.set_member_id(member_id);
  auto* o = request.add_offsets();
  o->set_topic(tp.first);
  o->set_partition(tp.second);
  o->set_offset(offset);
  herald::v1::CommitOffsetsResponse response;
  const grpc::Status status = stub_->CommitOffsets(&context, request, &response);
  if (!status.ok()) {
    auto* r = response.add_results();
    r->mutable_error()->set_code(status.error_code());
    r->mutable_error()->set_message(status.error_message());
  }
  return response;
}

std::string GroupMember::DebugString() const {
  std::string out = absl::StrCat("member ", member_id_, " gen ", generation_, " owns [");
  for (const auto& tp : owned_) absl::StrAppend(&out, tp.first, "/", tp.second, " ");
  absl::StrAppend(&out, "] read {");
  for (const auto& [tp, seen] : offsets_) {
    absl::StrAppend(&out, tp.first, "/", tp.second, ": ", absl::StrJoin(seen, ","), "; ");
  }
  absl::StrAppend(&out, "} revokes ", revokes_.size());
  return out;
}

int64_t GroupMember::record_count() const {
  int64_t n = 0;
  for (const auto& [tp, seen] : offsets_) n += static_cast<int64_t>(seen.size());
  return n;
}

}  // namespace herald::testing
