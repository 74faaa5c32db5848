// Consumer groups end to end against a real server: cooperative rebalancing,
// no partition read by two members, commits fenced by generation, members
// that vanish (cancel, SIGKILL), static membership, restarts, group admin.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tests/harness/child_process.h"
#include "tests/integration/fixture.h"
#include "tests/integration/group_member.h"

namespace herald::testing {
namespace {

constexpr char kChildAddressEnv[] = "HERALD_IT_GROUP_CHILD_ADDRESS";
constexpr int64_t kWaitMs = 15'000;

std::set<TopicPartition> AllPartitions(const std::string& topic, int32_t n) {
  std::set<TopicPartition> out;
  for (int32_t p = 0; p < n; ++p) out.insert({topic, p});
  return out;
}

bool Disjoint(const std::set<TopicPartition>& a, const std::set<TopicPartition>& b) {
  return std::none_of(a.begin(), a.end(), [&](const TopicPartition& tp) { return b.count(tp); });
}

std::set<TopicPartition> Union(const std::set<TopicPartition>& a,
                               const std::set<TopicPartition>& b) {
  std::set<TopicPartition> out = a;
  out.insert(b.begin(), b.end());
  return out;
}

// Pumps every member in turn until `done` holds.
bool PumpAll(const std::vector<GroupMember*>& members, const std::function<bool()>& done,
             int64_t timeout_ms = kWaitMs) {
  const int64_t deadline_ms = SteadyNowMs() + timeout_ms;
  while (!done()) {
    if (SteadyNowMs() >= deadline_ms) return false;
    for (GroupMember* m : members) m->PumpFor(10);
  }
  return true;
}

void ExpectAllOk(const std::vector<herald::v1::PartitionResult>& results, size_t count) {
  EXPECT_EQ(results.size(), count);
  for (const auto& r : results) {
    EXPECT_EQ(r.error().code(), 0)
        << r.topic() << "/" << r.partition() << ": " << r.error().message();
  }
}

class Groups : public IntegrationTest {
 protected:
  ServerOptions Options() override {
    ServerOptions o;
    o.extra_flags = {"--group_tick_interval_ms=50", "--group_min_session_timeout_ms=200",
                     "--group_default_session_timeout_ms=3000", "--group_revoke_timeout_ms=3000"};
    o.restart_on_same_ports = true;
    return o;
  }

  // `count` records to every partition of `topic`, one batch each.
  void ProduceEach(const std::string& topic, int32_t partitions, int count) {
    for (int32_t p = 0; p < partitions; ++p) {
      auto r = ProduceOnce(broker_.get(), topic, p, MakeBatch(count, absl::StrCat("p", p)));
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_FALSE(r->has_error()) << r->error().message();
    }
  }

  GroupMemberOptions Member(const std::string& group, const std::string& instance_id = "",
                            int32_t session_timeout_ms = 0) {
    return {group, {"orders"}, instance_id, session_timeout_ms};
  }

  // Two members of `group` that have settled on 3 + 3 partitions of "orders".
  void JoinTwo(std::unique_ptr<GroupMember>* a, std::unique_ptr<GroupMember>* b,
               GroupMemberOptions b_options) {
    *a = std::make_unique<GroupMember>(broker_.get(), Member(b_options.group));
    ASSERT_TRUE((*a)->PumpUntil([&] { return (*a)->owned().size() == 6; }, kWaitMs));
    *b = std::make_unique<GroupMember>(broker_.get(), b_options);
    ASSERT_TRUE(PumpAll({a->get(), b->get()},
                        [&] { return (*a)->owned().size() == 3 && (*b)->owned().size() == 3; }))
        << "a owns " << (*a)->owned().size() << ", b owns " << (*b)->owned().size();
    // The split is visible before the last assignment event arrives: wait
    // until both members have the group's current generation, so a commit
    // with it is not a stale one.
    ASSERT_TRUE(PumpAll({a->get(), b->get()}, [&] {
      auto d = Describe(b_options.group);
      return d.ok() && (*a)->generation() == d->generation() &&
             (*b)->generation() == d->generation();
    })) << "members did not settle on the group's generation";
  }

  absl::StatusOr<herald::v1::DescribeGroupResponse> Describe(const std::string& group) {
    grpc::ClientContext context;
    herald::v1::DescribeGroupRequest request;
    request.set_group(group);
    herald::v1::DescribeGroupResponse response;
    const grpc::Status s = admin_->DescribeGroup(&context, request, &response);
    if (!s.ok())
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    return response;
  }
};

TEST_F(Groups, MembersSplitPartitionsAndOnlyMovedPartitionsAreRevoked) {
  MakeTopic("orders", 6);
  ProduceEach("orders", 6, 10);
  GroupMember a(broker_.get(), Member("billing"));
  ASSERT_TRUE(
      a.PumpUntil([&] { return a.owned().size() == 6 && a.record_count() == 60; }, kWaitMs));
  ExpectAllOk(a.Commit(), 6);
  const std::set<TopicPartition> before = a.owned();

  GroupMember b(broker_.get(), Member("billing"));
  ASSERT_TRUE(PumpAll({&a, &b}, [&] { return a.owned().size() == 3 && b.owned().size() == 3; }));
  ASSERT_EQ(a.revokes().size(), 1u);
  EXPECT_EQ(a.revokes()[0].size(), 3u) << "cooperative: only the 3 moved partitions are revoked";
  EXPECT_TRUE(Disjoint(a.owned(), b.owned()));
  EXPECT_EQ(Union(a.owned(), b.owned()), before);
  EXPECT_EQ(b.owned(), a.revokes()[0]) << "the new member gets exactly what was revoked";

  ProduceEach("orders", 6, 10);
  ASSERT_TRUE(PumpAll({&a, &b}, [&] { return a.record_count() == 90 && b.record_count() == 30; }))
      << "a read " << a.record_count() << ", b read " << b.record_count();
  for (const auto& [tp, seen] : b.offsets()) {
    EXPECT_GE(*std::min_element(seen.begin(), seen.end()), 10)
        << "records committed by the previous owner were delivered again";
  }
  EXPECT_EQ(a.unowned_deliveries(), 0) << "a partition was delivered to a non-owner";
  EXPECT_EQ(b.unowned_deliveries(), 0) << "a partition was delivered to a non-owner";
}

TEST_F(Groups, EveryGroupSeesEveryRecord) {
  MakeTopic("orders", 6);
  ProduceEach("orders", 6, 5);
  GroupMember billing(broker_.get(), Member("billing"));
  GroupMember email(broker_.get(), Member("email"));
  ASSERT_TRUE(PumpAll({&billing, &email},
                      [&] { return billing.record_count() == 30 && email.record_count() == 30; }));
  EXPECT_EQ(billing.owned(), AllPartitions("orders", 6));
  EXPECT_EQ(email.owned(), AllPartitions("orders", 6));
}

TEST_F(Groups, CancelledMemberPartitionsMoveAndOnlyTheUncommittedTailIsRedelivered) {
  MakeTopic("orders", 6);
  std::unique_ptr<GroupMember> a, b;
  JoinTwo(&a, &b, Member("billing"));
  ProduceEach("orders", 6, 10);
  ASSERT_TRUE(PumpAll({a.get(), b.get()},
                      [&] { return a->record_count() == 30 && b->record_count() == 30; }));
  std::map<TopicPartition, int64_t> processed;
  for (const auto& tp : b->owned()) processed[tp] = 6;  // b processed 0..5 of each
  ExpectAllOk(b->CommitOffsets(processed), 3);
  const std::set<TopicPartition> moved = b->owned();

  const int64_t cancelled_ms = SteadyNowMs();
  b->Cancel();
  ASSERT_TRUE(a->PumpUntil(
      [&] {
        int64_t tail = 0;
        for (const auto& tp : moved) {
          auto it = a->offsets().find(tp);
          if (it != a->offsets().end()) tail += static_cast<int64_t>(it->second.size());
        }
        return a->owned().size() == 6 && tail == 12;
      },
      kWaitMs))
      << a->DebugString();
  EXPECT_LT(SteadyNowMs() - cancelled_ms, 3000) << "a closed stream should leave at once";
  for (const auto& tp : moved) {
    EXPECT_EQ(a->offsets().at(tp), (std::vector<int64_t>{6, 7, 8, 9}))
        << "the new owner must start at the commit: only the uncommitted tail again";
  }
}

// Run in a child process by the test below: joins the group and holds its
// partitions until SIGKILLed. Skipped when run directly.
TEST(GroupsChild, JoinAndHoldUntilKilled) {
  const char* address = getenv(kChildAddressEnv);
  if (address == nullptr) GTEST_SKIP() << "only run as a child of KilledMember...";
  auto stub =
      herald::v1::Broker::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  GroupMember member(stub.get(), {"billing", {"orders"}, "", 0});
  ASSERT_TRUE(member.PumpUntil([&] { return !member.owned().empty(); }, kWaitMs));
  std::cout << "CHILD-READY " << member.owned().size() << std::endl;
  member.PumpFor(600'000);  // keeps answering the group until SIGKILL
}

TEST_F(Groups, KilledMemberProcessLosesItsPartitions) {
  MakeTopic("orders", 6);
  GroupMember a(broker_.get(), Member("billing"));
  ASSERT_TRUE(a.PumpUntil([&] { return a.owned().size() == 6; }, kWaitMs));
  auto child = ChildTest::Spawn("GroupsChild.JoinAndHoldUntilKilled",
                                {{kChildAddressEnv, server_->address()}});
  ASSERT_TRUE(child.ok()) << child.status();
  // The child cannot finish joining until a confirms its Revoke.
  bool child_ready = false;
  ASSERT_TRUE(a.PumpUntil(
      [&] {
        child_ready = child_ready || (*child)->WaitForOutput("CHILD-READY", 10);
        return child_ready && a.owned().size() == 3;
      },
      kWaitMs))
      << "child output:\n"
      << (*child)->output();
  const int64_t killed_ms = SteadyNowMs();
  (*child)->Kill();
  ASSERT_TRUE(a.PumpUntil([&] { return a.owned().size() == 6; }, kWaitMs))
      << "the killed member's partitions never moved";
  // Bounded by the session timeout (3 s here) plus a tick, whichever way the
  // server notices first (TCP reset or silence).
  EXPECT_LT(SteadyNowMs() - killed_ms, 5000);
}

TEST_F(Groups, StaticMemberRejoiningWithinItsSessionKeepsItsPartitions) {
  MakeTopic("orders", 6);
  std::unique_ptr<GroupMember> a, s;
  JoinTwo(&a, &s, Member("billing", "inventory-1", 10'000));
  const std::set<TopicPartition> reserved = s->owned();
  const size_t a_revokes = a->revokes().size();
  s->Cancel();
  ASSERT_TRUE(s->WaitDone(kWaitMs).has_value());
  GroupMember again(broker_.get(), Member("billing", "inventory-1", 10'000));
  ASSERT_TRUE(again.PumpUntil([&] { return !again.owned().empty(); }, kWaitMs));
  EXPECT_EQ(again.owned(), reserved);
  a->PumpFor(500);
  EXPECT_EQ(a->revokes().size(), a_revokes) << "a static rejoin must not rebalance others";
  EXPECT_EQ(a->owned().size(), 3u);
}

TEST_F(Groups, StaleGenerationAndUnownedCommitsAreAborted) {
  MakeTopic("orders", 6);
  std::unique_ptr<GroupMember> a, b;
  JoinTwo(&a, &b, Member("billing"));
  const TopicPartition mine = *a->owned().begin();
  const TopicPartition theirs = *b->owned().begin();
  auto ok = a->CommitRpc(mine, 0, a->generation(), a->member_id());
  ASSERT_EQ(ok.results_size(), 1);
  EXPECT_EQ(ok.results(0).error().code(), 0) << ok.results(0).error().message();

  auto stale = a->CommitRpc(mine, 0, a->generation() - 1, a->member_id());
  ASSERT_EQ(stale.results_size(), 1);
  EXPECT_EQ(stale.results(0).error().code(), grpc::StatusCode::ABORTED);

  auto unowned = a->CommitRpc(theirs, 0, a->generation(), a->member_id());
  ASSERT_EQ(unowned.results_size(), 1);
  EXPECT_EQ(unowned.results(0).error().code(), grpc::StatusCode::ABORTED);

  auto standalone = a->CommitRpc(mine, 0, 0, "");
  ASSERT_EQ(standalone.results_size(), 1);
  EXPECT_NE(standalone.results(0).error().code(), 0)
      << "a commit without member id must not overwrite an active group's offsets";
}

TEST_F(Groups, CommittedOffsetsSurviveARestart) {
  MakeTopic("orders", 6);
  ProduceEach("orders", 6, 10);
  {
    GroupMember a(broker_.get(), Member("billing"));
    ASSERT_TRUE(a.PumpUntil([&] { return a.record_count() == 60; }, kWaitMs));
    std::map<TopicPartition, int64_t> processed;
    for (const auto& tp : a.owned()) processed[tp] = 7;
    ExpectAllOk(a.CommitOffsets(processed), 6);
  }
  RestartServer();
  GroupMember b(broker_.get(), Member("billing"));
  ASSERT_TRUE(b.PumpUntil([&] { return b.record_count() == 18; }, kWaitMs)) << b.DebugString();
  b.PumpFor(300);
  EXPECT_EQ(b.record_count(), 18) << "only offsets 7..9 of each partition are uncommitted";
  for (const auto& [tp, seen] : b.offsets()) {
    EXPECT_EQ(seen, (std::vector<int64_t>{7, 8, 9})) << tp.first << "/" << tp.second;
  }
}

TEST_F(Groups, AdminDescribesResetsAndDeletesGroups) {
  MakeTopic("orders", 6);
  ProduceEach("orders", 6, 10);
  auto a = std::make_unique<GroupMember>(broker_.get(), Member("billing"));
  ASSERT_TRUE(a->PumpUntil([&] { return a->record_count() == 60; }, kWaitMs));
  std::map<TopicPartition, int64_t> processed;
  for (const auto& tp : a->owned()) processed[tp] = 4;
  ExpectAllOk(a->CommitOffsets(processed), 6);

  auto described = Describe("billing");
  ASSERT_TRUE(described.ok()) << described.status();
  EXPECT_EQ(described->state(), "STABLE");
  ASSERT_EQ(described->members_size(), 1);
  EXPECT_EQ(described->members(0).assignment_size(), 6);
  ASSERT_EQ(described->partitions_size(), 6);
  for (const auto& p : described->partitions()) {
    EXPECT_EQ(p.committed_offset(), 4);
    EXPECT_EQ(p.high_watermark(), 10);
    EXPECT_EQ(p.lag(), 6);
  }
  {
    grpc::ClientContext context;
    herald::v1::DeleteGroupRequest request;
    request.set_group("billing");
    herald::v1::DeleteGroupResponse response;
    EXPECT_EQ(admin_->DeleteGroup(&context, request, &response).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION)
        << "a group with members must not be deleted";
  }
  a.reset();  // leaves the group
  ASSERT_TRUE(Eventually(
      [&] {
        auto d = Describe("billing");
        return d.ok() && d->members_size() == 0;
      },
      kWaitMs));

  for (bool dry_run : {true, false}) {
    grpc::ClientContext context;
    herald::v1::ResetGroupOffsetsRequest request;
    request.set_group("billing");
    request.set_topic("orders");
    request.mutable_position()->set_named(herald::v1::StartPosition::NAMED_EARLIEST);
    request.set_dry_run(dry_run);
    herald::v1::ResetGroupOffsetsResponse response;
    ASSERT_TRUE(admin_->ResetGroupOffsets(&context, request, &response).ok());
    ASSERT_EQ(response.offsets_size(), 6);
    for (const auto& r : response.offsets()) {
      EXPECT_EQ(r.previous_offset(), 4);
      EXPECT_EQ(r.new_offset(), 0);
    }
    auto after = Describe("billing");
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->partitions(0).committed_offset(), dry_run ? 4 : 0);
  }
  {
    grpc::ClientContext context;
    herald::v1::DeleteGroupRequest request;
    request.set_group("billing");
    herald::v1::DeleteGroupResponse response;
    EXPECT_TRUE(admin_->DeleteGroup(&context, request, &response).ok());
  }
  EXPECT_EQ(Describe("billing").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace herald::testing
