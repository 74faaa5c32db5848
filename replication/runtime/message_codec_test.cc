#include "replication/runtime/message_codec.h"

#include <gtest/gtest.h>

namespace herald::replication {
namespace {

namespace pb = herald::internal::v1;

GroupMessage FullAppend() {
  GroupMessage m;
  m.group = 0xFFFF'FFFF'0000'0007ull;
  m.msg.type = MessageType::kAppend;
  m.msg.from = 1;
  m.msg.to = 3;
  m.msg.term = 9;
  m.msg.log_term = 8;
  m.msg.index = 41;
  m.msg.entries = {Entry{9, 42, EntryType::kNoop, ""},
                   Entry{9, 43, EntryType::kNormal, std::string("a\0b", 3)}};
  m.msg.commit = 40;
  return m;
}

void ExpectSame(const GroupMessage& a, const GroupMessage& b) {
  EXPECT_EQ(a.group, b.group);
  const Message& x = a.msg;
  const Message& y = b.msg;
  EXPECT_EQ(x.type, y.type);
  EXPECT_EQ(x.from, y.from);
  EXPECT_EQ(x.to, y.to);
  EXPECT_EQ(x.term, y.term);
  EXPECT_EQ(x.log_term, y.log_term);
  EXPECT_EQ(x.index, y.index);
  EXPECT_EQ(x.entries, y.entries);
  EXPECT_EQ(x.commit, y.commit);
  EXPECT_EQ(x.reject, y.reject);
  EXPECT_EQ(x.reject_hint, y.reject_hint);
  EXPECT_EQ(x.transfer, y.transfer);
  EXPECT_EQ(x.snapshot.index, y.snapshot.index);
  EXPECT_EQ(x.snapshot.term, y.snapshot.term);
  EXPECT_EQ(x.snapshot.owner_position, y.snapshot.owner_position);
  EXPECT_EQ(x.snapshot.voters, y.snapshot.voters);
}

GroupMessage RoundTrip(const GroupMessage& m) {
  pb::RaftMessage proto;
  ToProto(m, &proto);
  // Through the wire bytes, as the transport does.
  pb::RaftMessage parsed;
  EXPECT_TRUE(parsed.ParseFromString(proto.SerializeAsString()));
  absl::StatusOr<GroupMessage> back = FromProto(parsed);
  EXPECT_TRUE(back.ok()) << back.status();
  return back.ok() ? *back : GroupMessage{};
}

TEST(RaftMessageCodec, AppendRoundTripsWithEntriesAndBinaryData) {
  GroupMessage m = FullAppend();
  ExpectSame(m, RoundTrip(m));
}

TEST(RaftMessageCodec, EveryMessageTypeRoundTrips) {
  const MessageType types[] = {MessageType::kPreVote,   MessageType::kPreVoteResp,
                               MessageType::kVote,      MessageType::kVoteResp,
                               MessageType::kAppend,    MessageType::kAppendResp,
                               MessageType::kHeartbeat, MessageType::kHeartbeatResp,
                               MessageType::kSnapshot,  MessageType::kTimeoutNow};
  for (MessageType type : types) {
    GroupMessage m;
    m.group = 5;
    m.msg.type = type;
    m.msg.from = 2;
    m.msg.to = 1;
    m.msg.term = 3;
    m.msg.reject = true;
    m.msg.reject_hint = 17;
    m.msg.transfer = true;
    m.msg.snapshot = SnapshotMeta{100, 2, 0x1'0000'0123ull};
    SCOPED_TRACE(MessageTypeName(type));
    ExpectSame(m, RoundTrip(m));
  }
}

// A follower installs the leader's snapshot at owner_position (the partition
// log pads its offsets up to it), so losing it on the wire breaks the install.
TEST(RaftMessageCodec, SnapshotCarriesOwnerPosition) {
  GroupMessage m;
  m.group = 9;
  m.msg.type = MessageType::kSnapshot;
  m.msg.from = 1;
  m.msg.to = 2;
  m.msg.term = 4;
  m.msg.snapshot = SnapshotMeta{1000, 3, 123456789012ull};
  GroupMessage back = RoundTrip(m);
  EXPECT_EQ(back.msg.snapshot.index, 1000u);
  EXPECT_EQ(back.msg.snapshot.term, 3u);
  EXPECT_EQ(back.msg.snapshot.owner_position, 123456789012ull);
}

// A membership change must reach followers as one (they switch config when
// they append it), and a snapshot must say which voters it was taken under.
TEST(RaftMessageCodec, ConfChangeEntriesAndSnapshotVotersRoundTrip) {
  GroupMessage append = FullAppend();
  append.msg.entries.push_back(Entry{9, 44, EntryType::kConfChange, std::string("\x01\x02", 2)});
  GroupMessage back = RoundTrip(append);
  ExpectSame(append, back);
  ASSERT_EQ(back.msg.entries.size(), append.msg.entries.size());
  EXPECT_EQ(back.msg.entries.back().type, EntryType::kConfChange);

  GroupMessage snapshot;
  snapshot.group = 9;
  snapshot.msg.type = MessageType::kSnapshot;
  snapshot.msg.from = 1;
  snapshot.msg.to = 4;
  snapshot.msg.term = 4;
  snapshot.msg.snapshot = SnapshotMeta{1000, 3, 77};
  snapshot.msg.snapshot.voters = {1, 2, 4};
  EXPECT_EQ(RoundTrip(snapshot).msg.snapshot.voters, (std::vector<NodeId>{1, 2, 4}));
}

TEST(RaftMessageCodec, UnknownOrMissingMessageTypeIsRejected) {
  pb::RaftMessage proto;
  ToProto(FullAppend(), &proto);
  proto.set_type(pb::RAFT_MESSAGE_TYPE_UNSPECIFIED);
  EXPECT_EQ(FromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
  proto.set_type(static_cast<pb::RaftMessageType>(999));  // a newer sender's type
  EXPECT_EQ(FromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RaftMessageCodec, UnknownEntryTypeIsRejected) {
  pb::RaftMessage proto;
  ToProto(FullAppend(), &proto);
  proto.mutable_entries(1)->set_type(static_cast<pb::RaftEntryType>(77));
  EXPECT_EQ(FromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
  proto.mutable_entries(1)->set_type(pb::RAFT_ENTRY_TYPE_UNSPECIFIED);
  EXPECT_EQ(FromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RaftMessageCodec, MissingNodeIdsAreRejected) {
  pb::RaftMessage proto;
  ToProto(FullAppend(), &proto);
  proto.set_from(0);
  EXPECT_EQ(FromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
  ToProto(FullAppend(), &proto);
  proto.set_to(0);
  EXPECT_EQ(FromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RaftMessageCodec, EntriesOnANonAppendAreRejected) {
  pb::RaftMessage proto;
  ToProto(FullAppend(), &proto);
  proto.set_type(pb::RAFT_MESSAGE_TYPE_HEARTBEAT);
  EXPECT_EQ(FromProto(proto).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RaftMessageCodec, GarbageBytesNeverCrash) {
  // Random byte strings that happen to parse must convert or be rejected.
  uint64_t rng = 12345;
  int parsed = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string bytes(static_cast<size_t>(i % 64), '\0');
    for (char& c : bytes) {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      c = static_cast<char>(rng >> 56);
    }
    pb::RaftMessage proto;
    if (!proto.ParseFromString(bytes)) continue;
    ++parsed;
    absl::StatusOr<GroupMessage> m = FromProto(proto);
    if (m.ok()) {
      EXPECT_NE(m->msg.from, kNoNode);
      EXPECT_NE(m->msg.to, kNoNode);
    }
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace herald::replication
