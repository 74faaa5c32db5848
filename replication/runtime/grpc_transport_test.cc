// GrpcTransport over real sockets on 127.0.0.1 (label: integration).
#include "replication/runtime/grpc_transport.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "herald/internal/v1/raft.grpc.pb.h"

namespace herald::replication {
namespace {

namespace pb = herald::internal::v1;
using std::chrono::milliseconds;

// Collects what a transport delivers.
class Inbox {
 public:
  Transport::Handler handler() {
    return [this](NodeId from, std::vector<GroupMessage> messages) {
      absl::MutexLock lock(&mu_);
      for (GroupMessage& m : messages) received_.push_back(std::move(m));
    };
  }
  bool WaitFor(size_t count, milliseconds timeout) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return received_.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::FromChrono(timeout));
  }
  std::vector<GroupMessage> received() {
    absl::MutexLock lock(&mu_);
    return received_;
  }

 private:
  absl::Mutex mu_;
  std::vector<GroupMessage> received_ ABSL_GUARDED_BY(mu_);
};

GroupMessage Heartbeat(GroupId group, NodeId from, NodeId to, uint64_t commit) {
  GroupMessage m;
  m.group = group;
  m.msg.type = MessageType::kHeartbeat;
  m.msg.from = from;
  m.msg.to = to;
  m.msg.term = 1;
  m.msg.commit = commit;
  return m;
}

GrpcTransportOptions Options(NodeId id) {
  GrpcTransportOptions options;
  options.node_id = id;
  options.listen_address = "127.0.0.1:0";
  return options;
}

TEST(GrpcTransport, DeliversManyGroupsInOrderInFewBatches) {
  Inbox inbox;
  GrpcTransport b(Options(2));
  b.SetHandler(inbox.handler());
  ASSERT_TRUE(b.Start().ok());
  GrpcTransport a(Options(1));
  ASSERT_TRUE(a.Start().ok());
  a.SetPeer(2, absl::StrCat("127.0.0.1:", b.port()));

  std::vector<GroupMessage> out;
  for (uint64_t i = 0; i < 1000; ++i) out.push_back(Heartbeat(i % 5, 1, 2, i));
  a.Send(2, out);
  ASSERT_TRUE(inbox.WaitFor(1000, milliseconds(10'000)));
  std::vector<GroupMessage> got = inbox.received();
  ASSERT_EQ(got.size(), 1000u);
  for (uint64_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(got[i].group, i % 5);
    EXPECT_EQ(got[i].msg.commit, i);  // in order
  }
  // The sender counts after Write returns, which may be after delivery.
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(5000);
  while (a.peer_stats(2).sent_msgs < 1000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  PeerSenderStats stats = a.peer_stats(2);
  EXPECT_EQ(stats.sent_msgs, 1000u);
  EXPECT_LE(stats.sent_batches, 2u) << "one Send should travel as one or two requests";
  EXPECT_EQ(stats.dropped_msgs, 0u);
  EXPECT_EQ(b.inbound_stats().messages, 1000u);
}

TEST(GrpcTransport, QueueToADownPeerStaysWithinItsBound) {
  // A port nobody listens on: bind one, then release it.
  int dead_port = 0;
  {
    GrpcTransport probe(Options(9));
    ASSERT_TRUE(probe.Start().ok());
    dead_port = probe.port();
  }
  GrpcTransportOptions options = Options(1);
  options.max_queue_msgs_per_peer = 100;
  options.max_batch_msgs = 10;
  options.peers[2] = absl::StrCat("127.0.0.1:", dead_port);
  GrpcTransport a(options);
  ASSERT_TRUE(a.Start().ok());
  for (int round = 0; round < 50; ++round) {
    std::vector<GroupMessage> out;
    for (int i = 0; i < 100; ++i) out.push_back(Heartbeat(1, 1, 2, i));
    a.Send(2, out);
    EXPECT_LE(a.peer_stats(2).queued_msgs, 100u);
    std::this_thread::sleep_for(milliseconds(2));
  }
  PeerSenderStats stats = a.peer_stats(2);
  EXPECT_LE(stats.max_queued_msgs, 100u);
  EXPECT_GE(stats.dropped_msgs, 4000u);  // at most 100 queued + a few batches lost to the void
  EXPECT_GT(stats.stream_failures, 0u);
  std::printf("down peer: dropped %lu of 5000, max queued %zu, stream failures %lu\n",
              static_cast<unsigned long>(stats.dropped_msgs), stats.max_queued_msgs,
              static_cast<unsigned long>(stats.stream_failures));
  a.Send(3, {Heartbeat(1, 1, 3, 0)});  // no address for node 3
  EXPECT_EQ(a.inbound_stats().unknown_peer_msgs, 1u);
}

TEST(GrpcTransport, QueueBytesToADownPeerStayWithinTheByteBound) {
  int dead_port = 0;
  {
    GrpcTransport probe(Options(9));
    ASSERT_TRUE(probe.Start().ok());
    dead_port = probe.port();
  }
  GrpcTransportOptions options = Options(1);
  options.max_queue_bytes_per_peer = 64 << 10;
  options.max_batch_msgs = 1;
  options.peers[2] = absl::StrCat("127.0.0.1:", dead_port);
  GrpcTransport a(options);
  ASSERT_TRUE(a.Start().ok());
  GroupMessage append = Heartbeat(1, 1, 2, 0);
  append.msg.type = MessageType::kAppend;
  append.msg.term = 1;
  append.msg.entries = {Entry{1, 1, EntryType::kNormal, std::string(10'000, 'x')}};
  for (int i = 0; i < 200; ++i) {
    a.Send(2, {append});
    EXPECT_LE(a.peer_stats(2).queued_bytes, size_t{64 << 10});
  }
  EXPECT_LE(a.peer_stats(2).max_queued_msgs, 7u);
  EXPECT_GE(a.peer_stats(2).dropped_msgs, 150u);
}

TEST(GrpcTransport, ReconnectsWhenThePeerComesBack) {
  Inbox inbox;
  auto b = std::make_unique<GrpcTransport>(Options(2));
  ASSERT_TRUE(b->Start().ok());
  const int port = b->port();
  b.reset();  // peer down before the sender ever connects
  GrpcTransport a(Options(1));
  ASSERT_TRUE(a.Start().ok());
  a.SetPeer(2, absl::StrCat("127.0.0.1:", port));
  a.Send(2, {Heartbeat(1, 1, 2, 0)});
  std::this_thread::sleep_for(milliseconds(100));

  GrpcTransportOptions again = Options(2);
  again.listen_address = absl::StrCat("127.0.0.1:", port);
  GrpcTransport b2(again);
  b2.SetHandler(inbox.handler());
  ASSERT_TRUE(b2.Start().ok());
  // Raft-style: keep sending until something arrives.
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(10'000);
  while (!inbox.WaitFor(1, milliseconds(50)) && std::chrono::steady_clock::now() < deadline) {
    a.Send(2, {Heartbeat(1, 1, 2, 1)});
  }
  EXPECT_GE(inbox.received().size(), 1u);
}

TEST(GrpcTransport, MalformedAndMisroutedInputIsDroppedAndCounted) {
  Inbox inbox;
  GrpcTransport b(Options(2));
  b.SetHandler(inbox.handler());
  ASSERT_TRUE(b.Start().ok());

  // A hand-written client: the transport must survive whatever a peer sends.
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", b.port()), grpc::InsecureChannelCredentials());
  auto stub = pb::RaftTransport::NewStub(channel);
  grpc::ClientContext context;
  pb::RaftStreamSummary summary;
  auto writer = stub->Send(&context, &summary);
  pb::RaftBatch batch;
  batch.set_from_node(1);
  batch.set_to_node(2);
  pb::RaftMessage* good = batch.add_messages();
  good->set_group_id(3);
  good->set_type(pb::RAFT_MESSAGE_TYPE_HEARTBEAT);
  good->set_from(1);
  good->set_to(2);
  pb::RaftMessage* bad_type = batch.add_messages();
  *bad_type = *good;
  bad_type->set_type(static_cast<pb::RaftMessageType>(1234));
  pb::RaftMessage* spoofed = batch.add_messages();  // claims another sender
  *spoofed = *good;
  spoofed->set_from(3);
  pb::RaftMessage* elsewhere = batch.add_messages();  // for node 3
  *elsewhere = *good;
  elsewhere->set_to(3);
  ASSERT_TRUE(writer->Write(batch));
  pb::RaftBatch wrong_node = batch;  // the whole batch is for node 7
  wrong_node.set_to_node(7);
  ASSERT_TRUE(writer->Write(wrong_node));
  ASSERT_TRUE(writer->WritesDone());
  EXPECT_TRUE(writer->Finish().ok());

  ASSERT_TRUE(inbox.WaitFor(1, milliseconds(5000)));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(inbox.received().size(), 1u);
  EXPECT_EQ(inbox.received()[0].group, 3u);
  TransportInboundStats stats = b.inbound_stats();
  EXPECT_EQ(stats.batches, 2u);
  EXPECT_EQ(stats.malformed_msgs, 4u);  // bad type and spoofed sender, in both batches
  EXPECT_EQ(stats.misrouted_msgs, 3u);  // for node 3 (1st batch); good and for-3 (2nd batch)
  EXPECT_EQ(stats.messages, 1u);
}

}  // namespace
}  // namespace herald::replication
