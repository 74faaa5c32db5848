#include "coordination/group_coordinator.h"

#include "coordination/fake_metadata_store.h"
#include "gtest/gtest.h"

namespace herald::coordination {
namespace {

using Kind = MemberEvent::Kind;

PartitionSet Parts(const std::string& topic, std::vector<int32_t> ps) {
  PartitionSet out;
  for (int32_t p : ps) out.insert({topic, p});
  return out;
}

JoinOptions Opts(std::vector<std::string> topics, std::string instance_id = "") {
  JoinOptions o;
  o.topics = std::move(topics);
  o.instance_id = std::move(instance_id);
  o.client_id = "c";
  o.host = "10.0.0.1";
  o.session_timeout_ms = 10'000;
  return o;
}

// Events for one member, of one kind.
std::vector<MemberEvent> For(const std::vector<MemberEvent>& events, const std::string& member,
                             Kind kind) {
  std::vector<MemberEvent> out;
  for (const auto& e : events) {
    if (e.member_id == member && e.kind == kind) out.push_back(e);
  }
  return out;
}

class GroupCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    coord_.reset();
    GroupCoordinatorOptions options;
    options.revoke_timeout_ms = 5'000;
    auto c = GroupCoordinator::Open(options, &store_, now_ms_);
    ASSERT_TRUE(c.ok()) << c.status();
    coord_ = std::move(*c);
    coord_->OnTopicMetadata({{"t", 4}, {"u", 2}}, now_ms_);
  }
  JoinResult MustJoin(const JoinOptions& o, const std::string& group = "g") {
    auto r = coord_->Join(group, o, now_ms_);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : JoinResult{};
  }

  testing::FakeMetadataStore store_;
  std::unique_ptr<GroupCoordinator> coord_;
  int64_t now_ms_ = 1'000'000;
};

TEST_F(GroupCoordinatorTest, FirstMemberIsAssignedEveryPartitionAtOnce) {
  JoinResult a = MustJoin(Opts({"t"}));
  auto assigns = For(a.events, a.member_id, Kind::kAssign);
  ASSERT_EQ(assigns.size(), 1u);
  EXPECT_EQ(assigns[0].partitions, Parts("t", {0, 1, 2, 3}));
  EXPECT_EQ(assigns[0].generation, a.generation);
  EXPECT_EQ(coord_->Describe("g").state, GroupState::kStable);
}

TEST_F(GroupCoordinatorTest, JoinRevokesFirstAndAssignsOnlyAfterRevokeDone) {
  JoinResult a = MustJoin(Opts({"t"}));
  JoinResult b = MustJoin(Opts({"t"}));
  auto revokes = For(b.events, a.member_id, Kind::kRevoke);
  ASSERT_EQ(revokes.size(), 1u);
  EXPECT_EQ(revokes[0].partitions.size(), 2u);
  EXPECT_EQ(revokes[0].deadline_ms, now_ms_ + 5'000);
  auto b_assign = For(b.events, b.member_id, Kind::kAssign);
  ASSERT_EQ(b_assign.size(), 1u);
  EXPECT_TRUE(b_assign[0].partitions.empty()) << "nothing is free until A confirms";
  EXPECT_EQ(coord_->Describe("g").state, GroupState::kRebalancing);

  auto done =
      coord_->RevokeDone("g", a.member_id, revokes[0].generation, revokes[0].partitions, now_ms_);
  ASSERT_TRUE(done.ok()) << done.status();
  b_assign = For(*done, b.member_id, Kind::kAssign);
  ASSERT_EQ(b_assign.size(), 1u);
  EXPECT_EQ(b_assign[0].partitions, revokes[0].partitions);
  EXPECT_EQ(coord_->Describe("g").state, GroupState::kStable);
}

TEST_F(GroupCoordinatorTest, RevokeDeadlineTakesPartitionsFromSlowMember) {
  JoinResult a = MustJoin(Opts({"t"}));
  JoinResult b = MustJoin(Opts({"t"}));
  auto revoked = For(b.events, a.member_id, Kind::kRevoke).at(0).partitions;
  EXPECT_TRUE(coord_->Tick(now_ms_ + 4'999).empty());
  now_ms_ += 5'000;
  ASSERT_TRUE(coord_->Heartbeat("g", a.member_id, now_ms_).ok());
  ASSERT_TRUE(coord_->Heartbeat("g", b.member_id, now_ms_).ok());
  auto events = coord_->Tick(now_ms_);
  auto a_assign = For(events, a.member_id, Kind::kAssign);
  ASSERT_EQ(a_assign.size(), 1u);
  EXPECT_EQ(a_assign[0].partitions.size(), 2u);
  EXPECT_EQ(For(events, b.member_id, Kind::kAssign).at(0).partitions, revoked);
  // The slow member can no longer commit what was taken away.
  EXPECT_EQ(
      coord_->ValidateCommit("g", a.member_id, a_assign[0].generation, revoked, now_ms_).code(),
      absl::StatusCode::kAborted);
}

TEST_F(GroupCoordinatorTest, DynamicLeaveHandsPartitionsOverImmediately) {
  JoinResult a = MustJoin(Opts({"t"}));
  JoinResult b = MustJoin(Opts({"t"}));
  auto revoke = For(b.events, a.member_id, Kind::kRevoke).at(0);
  ASSERT_TRUE(
      coord_->RevokeDone("g", a.member_id, revoke.generation, revoke.partitions, now_ms_).ok());
  auto events = coord_->Leave("g", a.member_id, now_ms_);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(For(*events, b.member_id, Kind::kAssign).at(0).partitions, Parts("t", {0, 1, 2, 3}));
}

TEST_F(GroupCoordinatorTest, SilentMemberIsFencedAfterSessionTimeout) {
  JoinResult a = MustJoin(Opts({"t"}));
  JoinResult b = MustJoin(Opts({"t"}));
  auto revoke = For(b.events, a.member_id, Kind::kRevoke).at(0);
  ASSERT_TRUE(
      coord_->RevokeDone("g", a.member_id, revoke.generation, revoke.partitions, now_ms_).ok());
  ASSERT_TRUE(coord_->Heartbeat("g", b.member_id, now_ms_ + 9'000).ok());
  EXPECT_TRUE(coord_->Tick(now_ms_ + 10'000).empty());
  auto events = coord_->Tick(now_ms_ + 10'001);
  EXPECT_EQ(For(events, a.member_id, Kind::kFenced).size(), 1u);
  EXPECT_EQ(For(events, b.member_id, Kind::kAssign).at(0).partitions, Parts("t", {0, 1, 2, 3}));
  EXPECT_EQ(coord_->Heartbeat("g", a.member_id, now_ms_ + 10'002).code(),
            absl::StatusCode::kAborted);
}

TEST_F(GroupCoordinatorTest, StaticMemberReconnectGetsSamePartitionsWithoutRebalance) {
  JoinResult a = MustJoin(Opts({"t"}, "inst-a"));
  JoinResult b = MustJoin(Opts({"t"}));
  auto revoke = For(b.events, a.member_id, Kind::kRevoke).at(0);
  ASSERT_TRUE(
      coord_->RevokeDone("g", a.member_id, revoke.generation, revoke.partitions, now_ms_).ok());
  const GroupDescription before = coord_->Describe("g");
  PartitionSet a_owned;
  for (const auto& m : before.members) {
    if (m.member_id == a.member_id) a_owned = m.owned;
  }
  auto left = coord_->Leave("g", a.member_id, now_ms_);
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty()) << "partitions stay reserved";
  EXPECT_TRUE(coord_->Tick(now_ms_ + 9'000).empty());

  now_ms_ += 9'000;
  ASSERT_TRUE(coord_->Heartbeat("g", b.member_id, now_ms_).ok());
  JoinResult a2 = MustJoin(Opts({"t"}, "inst-a"));
  EXPECT_NE(a2.member_id, a.member_id);
  ASSERT_EQ(a2.events.size(), 1u) << "no event for anyone else";
  EXPECT_EQ(a2.events[0].partitions, a_owned);
  EXPECT_EQ(coord_->Describe("g").generation, before.generation);
  EXPECT_EQ(coord_->ValidateCommit("g", a.member_id, a2.generation, {}, now_ms_).code(),
            absl::StatusCode::kAborted)
      << "the old incarnation is fenced";
}

TEST_F(GroupCoordinatorTest, SecondCopyOfStaticInstanceFencesTheFirst) {
  JoinResult a = MustJoin(Opts({"t"}, "inst"));
  JoinResult a2 = MustJoin(Opts({"t"}, "inst"));
  EXPECT_EQ(For(a2.events, a.member_id, Kind::kFenced).size(), 1u);
  EXPECT_EQ(For(a2.events, a2.member_id, Kind::kAssign).at(0).partitions.size(), 4u);
}

TEST_F(GroupCoordinatorTest, ReservedStaticMemberExpiresAfterSessionTimeout) {
  JoinResult a = MustJoin(Opts({"t"}, "inst-a"));
  JoinResult b = MustJoin(Opts({"t"}));
  auto revoke = For(b.events, a.member_id, Kind::kRevoke).at(0);
  ASSERT_TRUE(
      coord_->RevokeDone("g", a.member_id, revoke.generation, revoke.partitions, now_ms_).ok());
  ASSERT_TRUE(coord_->Leave("g", a.member_id, now_ms_).ok());
  ASSERT_TRUE(coord_->Heartbeat("g", b.member_id, now_ms_ + 10'000).ok());
  auto events = coord_->Tick(now_ms_ + 10'000);
  EXPECT_TRUE(For(events, a.member_id, Kind::kFenced).empty()) << "it has no stream";
  EXPECT_EQ(For(events, b.member_id, Kind::kAssign).at(0).partitions, Parts("t", {0, 1, 2, 3}));
}

TEST_F(GroupCoordinatorTest, CommitsAreFencedByMemberGenerationAndOwnership) {
  JoinResult a = MustJoin(Opts({"t"}));
  EXPECT_TRUE(
      coord_->ValidateCommit("g", a.member_id, a.generation, Parts("t", {0}), now_ms_).ok());
  absl::Status stale =
      coord_->ValidateCommit("g", a.member_id, a.generation - 1, Parts("t", {0}), now_ms_);
  EXPECT_EQ(stale.code(), absl::StatusCode::kAborted);
  EXPECT_NE(stale.message().find("stale generation"), std::string::npos) << stale;
  absl::Status not_owned =
      coord_->ValidateCommit("g", a.member_id, a.generation, Parts("u", {0}), now_ms_);
  EXPECT_EQ(not_owned.code(), absl::StatusCode::kAborted);
  EXPECT_NE(not_owned.message().find("does not own u-0"), std::string::npos) << not_owned;
  EXPECT_EQ(coord_->ValidateCommit("g", "", 0, Parts("t", {0}), now_ms_).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(coord_->ValidateCommit("other", "", 0, Parts("t", {0}), now_ms_).ok());
  EXPECT_EQ(coord_->ValidateCommit("g", "ghost", 1, {}, now_ms_).code(),
            absl::StatusCode::kAborted);
}

TEST_F(GroupCoordinatorTest, PatternSubscriptionFollowsNewTopicsAndPartitions) {
  JoinOptions o = Opts({});
  o.topic_regex = "ev-.*";
  JoinResult a = MustJoin(o);
  EXPECT_TRUE(For(a.events, a.member_id, Kind::kAssign).at(0).partitions.empty());
  auto events = coord_->OnTopicMetadata({{"t", 4}, {"ev-1", 2}, {"other", 3}}, now_ms_);
  EXPECT_EQ(For(events, a.member_id, Kind::kAssign).at(0).partitions, Parts("ev-1", {0, 1}));
  events = coord_->OnTopicMetadata({{"t", 4}, {"ev-1", 3}}, now_ms_);
  EXPECT_EQ(For(events, a.member_id, Kind::kAssign).at(0).partitions, Parts("ev-1", {0, 1, 2}));
  EXPECT_GT(For(events, a.member_id, Kind::kAssign).at(0).generation, a.generation);
}

TEST_F(GroupCoordinatorTest, DeletedTopicIsRevoked) {
  JoinResult a = MustJoin(Opts({"t", "u"}));
  auto events = coord_->OnTopicMetadata({{"t", 4}}, now_ms_);
  EXPECT_EQ(For(events, a.member_id, Kind::kRevoke).at(0).partitions, Parts("u", {0, 1}));
}

TEST_F(GroupCoordinatorTest, JoinRejectsBadInput) {
  JoinOptions bad_regex = Opts({});
  bad_regex.topic_regex = "(";
  EXPECT_EQ(coord_->Join("g", bad_regex, now_ms_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(coord_->Join("g", Opts({}), now_ms_).status().code(),
            absl::StatusCode::kInvalidArgument);
  JoinOptions bad_timeout = Opts({"t"});
  bad_timeout.session_timeout_ms = 5;
  EXPECT_EQ(coord_->Join("g", bad_timeout, now_ms_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(coord_->Join("", Opts({"t"}), now_ms_).status().code(),
            absl::StatusCode::kInvalidArgument);
  MustJoin(Opts({"t"}));
  JoinOptions range = Opts({"t"});
  range.strategy = AssignmentStrategy::kRange;
  EXPECT_EQ(coord_->Join("g", range, now_ms_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(GroupCoordinatorTest, AdminViewsReportStateMembersAndMetrics) {
  JoinResult a = MustJoin(Opts({"t"}));
  GroupDescription d = coord_->Describe("g");
  EXPECT_EQ(GroupStateName(d.state), "STABLE");
  EXPECT_EQ(StrategyName(d.strategy), "sticky");
  ASSERT_EQ(d.members.size(), 1u);
  EXPECT_EQ(d.members[0].client_id, "c");
  EXPECT_EQ(d.members[0].host, "10.0.0.1");
  EXPECT_EQ(coord_->Describe("nope").state, GroupState::kDead);
  EXPECT_EQ(coord_->Delete("g").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(coord_->Leave("g", a.member_id, now_ms_).ok());
  auto list = coord_->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, GroupState::kEmpty);
  auto metrics = coord_->Metrics();
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].members, 0);
  EXPECT_EQ(metrics[0].rebalances, 1);
  EXPECT_TRUE(coord_->Delete("g").ok());
  EXPECT_EQ(coord_->Delete("g").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(coord_->List().empty());
}

TEST_F(GroupCoordinatorTest, RestartKeepsGroupsGenerationAndStaticAssignments) {
  JoinOptions o = Opts({"t"}, "inst-a");
  o.strategy = AssignmentStrategy::kRoundRobin;
  JoinResult a = MustJoin(o);
  JoinResult b = MustJoin(Opts({"t"}), "empty-later");
  ASSERT_TRUE(coord_->Leave("empty-later", b.member_id, now_ms_).ok());
  const int64_t generation = coord_->Describe("g").generation;

  Reopen();
  GroupDescription d = coord_->Describe("g");
  EXPECT_EQ(d.generation, generation);
  EXPECT_EQ(d.strategy, AssignmentStrategy::kRoundRobin);
  ASSERT_EQ(d.members.size(), 1u);
  EXPECT_FALSE(d.members[0].connected);
  EXPECT_EQ(d.members[0].owned, Parts("t", {0, 1, 2, 3}));
  EXPECT_EQ(coord_->Describe("empty-later").state, GroupState::kEmpty);

  JoinResult a2 = MustJoin(o);
  EXPECT_EQ(a2.events.size(), 1u);
  EXPECT_EQ(a2.events[0].partitions, Parts("t", {0, 1, 2, 3}));
  EXPECT_EQ(coord_->Describe("g").generation, generation);
  EXPECT_NE(a2.member_id, a.member_id) << "member ids are never reused across restarts";
}

TEST_F(GroupCoordinatorTest, MetadataWriteFailureIsCountedNotFatal) {
  store_.set_fail_writes(true);
  MustJoin(Opts({"t"}));
  EXPECT_EQ(coord_->persist_errors(), 1);
}

TEST_F(GroupCoordinatorTest, CorruptGroupRecordFailsOpenWithDataLoss) {
  store_.Put("coord/group/bad", "\x07garbage");
  auto c = GroupCoordinator::Open({}, &store_, now_ms_);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss);
}

TEST(CheckOffsetAdvance, RejectsRegressionUnlessAdminReset) {
  TopicPartition tp{"t", 1};
  EXPECT_TRUE(CheckOffsetAdvance(tp, -1, 0, false).ok());
  EXPECT_TRUE(CheckOffsetAdvance(tp, 5, 5, false).ok());
  absl::Status back = CheckOffsetAdvance(tp, 5, 4, false);
  EXPECT_EQ(back.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(back.message().find("from 5 to 4"), std::string::npos) << back;
  EXPECT_TRUE(CheckOffsetAdvance(tp, 5, 0, true).ok());
}

}  // namespace
}  // namespace herald::coordination
