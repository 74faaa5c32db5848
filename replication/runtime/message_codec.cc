#include "replication/runtime/message_codec.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace herald::replication {
namespace {

namespace pb = herald::internal::v1;

pb::RaftMessageType TypeToProto(MessageType type) {
  switch (type) {
    case MessageType::kPreVote:
      return pb::RAFT_MESSAGE_TYPE_PRE_VOTE;
    case MessageType::kPreVoteResp:
      return pb::RAFT_MESSAGE_TYPE_PRE_VOTE_RESP;
    case MessageType::kVote:
      return pb::RAFT_MESSAGE_TYPE_VOTE;
    case MessageType::kVoteResp:
      return pb::RAFT_MESSAGE_TYPE_VOTE_RESP;
    case MessageType::kAppend:
      return pb::RAFT_MESSAGE_TYPE_APPEND;
    case MessageType::kAppendResp:
      return pb::RAFT_MESSAGE_TYPE_APPEND_RESP;
    case MessageType::kHeartbeat:
      return pb::RAFT_MESSAGE_TYPE_HEARTBEAT;
    case MessageType::kHeartbeatResp:
      return pb::RAFT_MESSAGE_TYPE_HEARTBEAT_RESP;
    case MessageType::kSnapshot:
      return pb::RAFT_MESSAGE_TYPE_SNAPSHOT;
    case MessageType::kTimeoutNow:
      return pb::RAFT_MESSAGE_TYPE_TIMEOUT_NOW;
  }
  return pb::RAFT_MESSAGE_TYPE_UNSPECIFIED;  // unreachable for valid enums
}

absl::StatusOr<MessageType> TypeFromProto(int type) {
  switch (type) {
    case pb::RAFT_MESSAGE_TYPE_PRE_VOTE:
      return MessageType::kPreVote;
    case pb::RAFT_MESSAGE_TYPE_PRE_VOTE_RESP:
      return MessageType::kPreVoteResp;
    case pb::RAFT_MESSAGE_TYPE_VOTE:
      return MessageType::kVote;
    case pb::RAFT_MESSAGE_TYPE_VOTE_RESP:
      return MessageType::kVoteResp;
    case pb::RAFT_MESSAGE_TYPE_APPEND:
      return MessageType::kAppend;
    case pb::RAFT_MESSAGE_TYPE_APPEND_RESP:
      return MessageType::kAppendResp;
    case pb::RAFT_MESSAGE_TYPE_HEARTBEAT:
      return MessageType::kHeartbeat;
    case pb::RAFT_MESSAGE_TYPE_HEARTBEAT_RESP:
      return MessageType::kHeartbeatResp;
    case pb::RAFT_MESSAGE_TYPE_SNAPSHOT:
      return MessageType::kSnapshot;
    case pb::RAFT_MESSAGE_TYPE_TIMEOUT_NOW:
      return MessageType::kTimeoutNow;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown raft message type ", type));
  }
}

absl::StatusOr<EntryType> EntryTypeFromProto(int type) {
  switch (type) {
    case pb::RAFT_ENTRY_TYPE_NORMAL:
      return EntryType::kNormal;
    case pb::RAFT_ENTRY_TYPE_NOOP:
      return EntryType::kNoop;
    case pb::RAFT_ENTRY_TYPE_CONF_CHANGE:
      return EntryType::kConfChange;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown raft entry type ", type));
  }
}

void EntryToProto(const Entry& in, pb::RaftEntry* out) {
  out->set_term(in.term);
  out->set_index(in.index);
  switch (in.type) {
    case EntryType::kNoop:
      out->set_type(pb::RAFT_ENTRY_TYPE_NOOP);
      break;
    case EntryType::kConfChange:
      out->set_type(pb::RAFT_ENTRY_TYPE_CONF_CHANGE);
      break;
    case EntryType::kNormal:
      out->set_type(pb::RAFT_ENTRY_TYPE_NORMAL);
      break;
  }
  out->set_data(in.data);
}

}  // namespace

void ToProto(const GroupMessage& in, pb::RaftMessage* out) {
  const Message& m = in.msg;
  out->set_group_id(in.group);
  out->set_type(TypeToProto(m.type));
  out->set_from(m.from);
  out->set_to(m.to);
  out->set_term(m.term);
  out->set_log_term(m.log_term);
  out->set_index(m.index);
  out->mutable_entries()->Reserve(static_cast<int>(m.entries.size()));
  for (const Entry& e : m.entries) EntryToProto(e, out->add_entries());
  out->set_commit(m.commit);
  out->set_reject(m.reject);
  out->set_reject_hint(m.reject_hint);
  out->set_transfer(m.transfer);
  out->set_snapshot_index(m.snapshot.index);
  out->set_snapshot_term(m.snapshot.term);
  out->set_snapshot_owner_position(m.snapshot.owner_position);
  for (NodeId voter : m.snapshot.voters) out->add_snapshot_voters(voter);
}

absl::StatusOr<GroupMessage> FromProto(const pb::RaftMessage& in) {
  absl::StatusOr<MessageType> type = TypeFromProto(in.type());
  if (!type.ok()) return type.status();
  if (in.from() == kNoNode || in.to() == kNoNode) {
    return absl::InvalidArgumentError("raft message without sender or receiver");
  }
  if (in.entries_size() > 0 && *type != MessageType::kAppend) {
    return absl::InvalidArgumentError("raft message carries entries but is not an append");
  }
  GroupMessage out;
  out.group = in.group_id();
  Message& m = out.msg;
  m.type = *type;
  m.from = in.from();
  m.to = in.to();
  m.term = in.term();
  m.log_term = in.log_term();
  m.index = in.index();
  m.entries.reserve(static_cast<size_t>(in.entries_size()));
  for (const pb::RaftEntry& e : in.entries()) {
    absl::StatusOr<EntryType> entry_type = EntryTypeFromProto(e.type());
    if (!entry_type.ok()) return entry_type.status();
    m.entries.push_back(Entry{e.term(), e.index(), *entry_type, e.data()});
  }
  m.commit = in.commit();
  m.reject = in.reject();
  m.reject_hint = in.reject_hint();
  m.transfer = in.transfer();
  m.snapshot = SnapshotMeta{in.snapshot_index(), in.snapshot_term(), in.snapshot_owner_position()};
  m.snapshot.voters.assign(in.snapshot_voters().begin(), in.snapshot_voters().end());
  return out;
}

}  // namespace herald::replication
