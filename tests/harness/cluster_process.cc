#include "tests/harness/cluster_process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace herald::testing {
namespace {

using herald::v1::ProduceRequest;
using herald::v1::ProduceResponse;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::chrono::system_clock::time_point DeadlineIn(int64_t ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

absl::Status ToAbsl(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

void Backoff() { std::this_thread::sleep_for(std::chrono::milliseconds(20)); }

const std::string& HostOf(const ClusterProcessOptions& options, int index) {
  static const std::string kLoopback = "127.0.0.1";
  return index < static_cast<int>(options.hosts.size()) ? options.hosts[index] : kLoopback;
}

absl::StatusOr<herald::v1::DescribeClusterResponse> DescribeCluster(herald::v1::Admin::Stub* admin,
                                                                    int64_t timeout_ms) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout_ms));
  herald::v1::DescribeClusterResponse response;
  const grpc::Status s = admin->DescribeCluster(&context, {}, &response);
  if (!s.ok()) return ToAbsl(s);
  return response;
}

struct LeaderView {
  int leader = 0;     // -1 / 0 when none is known
  int64_t epoch = 0;  // the leader epoch (Raft term) of that view
};

// The partition's leader in `admin`'s node's view.
absl::StatusOr<LeaderView> LeaderInViewOf(herald::v1::Admin::Stub* admin, const std::string& topic,
                                          int32_t partition, int64_t timeout_ms) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout_ms));
  herald::v1::DescribeTopicRequest request;
  request.set_name(topic);
  herald::v1::DescribeTopicResponse response;
  const grpc::Status s = admin->DescribeTopic(&context, request, &response);
  if (!s.ok()) return ToAbsl(s);
  for (const auto& p : response.topic().partitions()) {
    if (p.partition() == partition) return LeaderView{p.leader(), p.leader_epoch()};
  }
  return absl::NotFoundError(absl::StrCat("no partition ", partition, " in ", topic));
}

}  // namespace

std::shared_ptr<grpc::Channel> NewClusterChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  // Notice a paused or partitioned server on an idle connection.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<int> PickFreePort(const std::string& host) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  // A namespace address may not exist here: any local address gives a port
  // that is free on the loopback, which is as good a guess as any.
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("bind: ", strerror(errno)));
    }
  }
  socklen_t len = sizeof(addr);
  const int r = getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  if (r != 0) return absl::InternalError(absl::StrCat("getsockname: ", strerror(errno)));
  return static_cast<int>(ntohs(addr.sin_port));
}

absl::StatusOr<std::unique_ptr<ClusterProcesses>> ClusterProcesses::Start(
    ClusterProcessOptions options) {
  std::unique_ptr<ClusterProcesses> cluster(new ClusterProcesses());
  std::vector<std::string> entries;
  std::vector<int> client_ports;
  for (int i = 0; i < options.nodes; ++i) {
    const std::string& host = HostOf(options, i);
    absl::StatusOr<int> client = PickFreePort(host);
    if (!client.ok()) return client.status();
    absl::StatusOr<int> raft = PickFreePort(host);
    if (!raft.ok()) return raft.status();
    client_ports.push_back(*client);
    cluster->client_addresses_.push_back(absl::StrCat(host, ":", *client));
    entries.push_back(absl::StrCat(i + 1, "=", host, ":", *client, "/", host, ":", *raft));
  }
  cluster->peers_ = absl::StrJoin(entries, ",");
  // The ready file is written once the ports are bound, without waiting for
  // a quorum, so starting the nodes one after the other is fine.
  for (int i = 0; i < options.nodes; ++i) {
    ServerOptions node = options.base;
    node.listen_host = HostOf(options, i);
    node.grpc_port = client_ports[static_cast<size_t>(i)];
    node.restart_on_same_ports = true;
    if (i < static_cast<int>(options.command_prefixes.size())) {
      node.command_prefix = options.command_prefixes[static_cast<size_t>(i)];
    }
    std::vector<std::string> flags = {"--node_id",
                                      absl::StrCat(i + 1),
                                      "--peers",
                                      cluster->peers_,
                                      "--raft_tick_ms",
                                      absl::StrCat(options.raft_tick_ms),
                                      "--raft_election_ticks",
                                      absl::StrCat(options.raft_election_ticks)};
    node.extra_flags.insert(node.extra_flags.begin(), flags.begin(), flags.end());
    absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start(node);
    if (!server.ok()) {
      return absl::Status(server.status().code(),
                          absl::StrCat("node ", i + 1, ": ", server.status().message()));
    }
    cluster->servers_.push_back(std::move(*server));
  }
  cluster->current_ = std::make_unique<std::atomic<NodeStubs*>[]>(options.nodes);
  for (int id = 1; id <= options.nodes; ++id) cluster->RenewStubs(id);
  return cluster;
}

void ClusterProcesses::RenewStubs(int id) {
  auto channel = NewClusterChannel(client_address(id));
  auto stubs = std::make_unique<NodeStubs>();
  stubs->broker = herald::v1::Broker::NewStub(channel);
  stubs->admin = herald::v1::Admin::NewStub(channel);
  current_[static_cast<size_t>(id - 1)].store(stubs.get(), std::memory_order_release);
  all_stubs_.push_back(std::move(stubs));
}

absl::Status ClusterProcesses::Restart(int id) {
  absl::Status s = node(id).Restart();
  RenewStubs(id);
  return s;
}

ClusterProcesses::~ClusterProcesses() = default;

absl::StatusOr<int> ClusterProcesses::WaitForController(int64_t timeout_ms,
                                                        const std::set<int>& skip) {
  const int64_t deadline = NowMs() + timeout_ms;
  std::string last = "no node answered";
  while (NowMs() < deadline) {
    std::set<int> named, answered;
    for (int id = 1; id <= size(); ++id) {
      if (skip.count(id) > 0) continue;
      auto cluster = DescribeCluster(admin(id), 500);
      if (!cluster.ok()) continue;
      answered.insert(id);
      named.insert(cluster->controller_id());
    }
    if (named.size() == 1 && *named.begin() > 0 && answered.count(*named.begin()) > 0) {
      return *named.begin();
    }
    last = absl::StrCat("controllers named: ", absl::StrJoin(named, ","),
                        " by nodes: ", absl::StrJoin(answered, ","));
    Backoff();
  }
  return absl::DeadlineExceededError(absl::StrCat("no agreed controller: ", last));
}

absl::Status ClusterProcesses::CreateTopic(const std::string& name, int32_t partitions,
                                           int64_t timeout_ms) {
  const int64_t deadline = NowMs() + timeout_ms;
  absl::Status last = absl::DeadlineExceededError("no attempt");
  while (NowMs() < deadline) {
    absl::StatusOr<int> controller = WaitForController(deadline - NowMs());
    if (!controller.ok()) return controller.status();
    last = ToAbsl(testing::CreateTopic(admin(*controller), name, partitions));
    if (last.code() != absl::StatusCode::kUnavailable) return last;
    Backoff();
  }
  return last;
}

absl::StatusOr<int> ClusterProcesses::LeaderOf(const std::string& topic, int32_t partition,
                                               int64_t timeout_ms, const std::set<int>& skip) {
  const int64_t deadline = NowMs() + timeout_ms;
  while (NowMs() < deadline) {
    // A deposed leader that has not heard of the new term still claims the
    // partition: of several claims, the highest epoch wins.
    int best = 0;
    int64_t best_epoch = -1;
    for (int id = 1; id <= size(); ++id) {
      if (skip.count(id) > 0) continue;
      absl::StatusOr<LeaderView> view = LeaderInViewOf(admin(id), topic, partition, 500);
      if (view.ok() && view->leader == id && view->epoch > best_epoch) {
        best = id;
        best_epoch = view->epoch;
      }
    }
    if (best > 0) return best;
    Backoff();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no node leads ", topic, "/", partition, " within ", timeout_ms, " ms"));
}

absl::StatusOr<int> ClusterProcesses::WaitForAgreedLeader(const std::string& topic,
                                                          int32_t partition, int64_t timeout_ms,
                                                          const std::set<int>& skip) {
  const int64_t deadline = NowMs() + timeout_ms;
  while (NowMs() < deadline) {
    absl::StatusOr<int> leader = LeaderOf(topic, partition, deadline - NowMs(), skip);
    if (!leader.ok()) return leader.status();
    bool agreed = true;
    for (int id = 1; id <= size() && agreed; ++id) {
      if (skip.count(id) > 0) continue;
      absl::StatusOr<LeaderView> view = LeaderInViewOf(admin(id), topic, partition, 500);
      agreed = view.ok() && view->leader == *leader;
    }
    if (agreed) return *leader;
    Backoff();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("nodes do not agree on the leader of ", topic, "/", partition));
}

absl::StatusOr<ClusterProcesses::Produced> ClusterProcesses::ProduceToLeader(
    ProduceRequest request, int64_t timeout_ms, const std::set<int>& skip, int* leader_hint) {
  const int64_t deadline = NowMs() + timeout_ms;
  absl::Status last = absl::DeadlineExceededError("no attempt");
  bool use_hint = leader_hint != nullptr && *leader_hint > 0 && skip.count(*leader_hint) == 0;
  while (NowMs() < deadline) {
    absl::StatusOr<int> leader =
        use_hint ? absl::StatusOr<int>(*leader_hint)
                 : LeaderOf(request.topic(), request.partition(), deadline - NowMs(), skip);
    use_hint = false;  // Only the first attempt trusts the hint.
    if (!leader.ok()) return leader.status();
    if (leader_hint != nullptr) *leader_hint = *leader;
    absl::StatusOr<ProduceResponse> response =
        ProduceRequestOnce(broker(*leader), request,
                           std::max<int64_t>(1, std::min<int64_t>(3000, deadline - NowMs())));
    if (response.ok() && response->error().code() == 0) return Produced{*response, *leader};
    if (response.ok() &&
        response->error().code() != static_cast<int>(absl::StatusCode::kUnavailable)) {
      return Produced{*response, *leader};
    }
    if (leader_hint != nullptr) *leader_hint = 0;
    last = response.ok() ? absl::UnavailableError(response->error().message()) : response.status();
    Backoff();
  }
  return absl::DeadlineExceededError(absl::StrCat("produce not acknowledged: ", last.message()));
}

absl::StatusOr<ProduceResponse> ProduceRequestOnce(herald::v1::Broker::Stub* stub,
                                                   ProduceRequest request, int64_t timeout_ms) {
  ProduceClient client(stub, timeout_ms + 1000);
  if (request.request_id() == 0) request.set_request_id(1);
  if (!client.Send(request)) {
    const grpc::Status s = client.Finish();
    return absl::UnavailableError(absl::StrCat("produce stream broken: ", s.error_message()));
  }
  absl::StatusOr<ProduceResponse> response = client.Wait(request.request_id(), timeout_ms);
  if (response.ok()) {
    client.Finish();
    return response;
  }
  client.Cancel();
  const grpc::Status s = client.Finish();
  if (response.status().code() == absl::StatusCode::kUnavailable && !s.ok()) return ToAbsl(s);
  return response.status();
}

absl::StatusOr<std::vector<ReadRecord>> ReadWholePartition(herald::v1::Broker::Stub* stub,
                                                           const std::string& topic,
                                                           int32_t partition, int64_t timeout_ms) {
  std::vector<ReadRecord> records;
  int64_t next = 0;
  {
    // From the node's log start: it may differ between replicas (a follower
    // that never stored the first leader's no-op starts after it).
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(timeout_ms));
    herald::v1::ListOffsetsRequest request;
    request.set_topic(topic);
    request.add_partitions(partition);
    request.mutable_position()->set_named(herald::v1::StartPosition::NAMED_EARLIEST);
    herald::v1::ListOffsetsResponse response;
    const grpc::Status s = stub->ListOffsets(&context, request, &response);
    if (!s.ok()) return ToAbsl(s);
    for (const auto& p : response.partitions()) {
      if (p.partition() == partition) next = p.log_start_offset();
    }
  }
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(timeout_ms));
    herald::v1::FetchRequest request;
    request.set_topic(topic);
    request.set_partition(partition);
    request.set_offset(next);
    request.set_max_wait_ms(0);
    herald::v1::FetchResponse response;
    const grpc::Status s = stub->Fetch(&context, request, &response);
    if (!s.ok()) return ToAbsl(s);
    const size_t before = records.size();
    for (const herald::v1::ConsumedBatch& batch : response.batches()) {
      AppendRecords(batch, next, &records);
    }
    // Nothing new: only control batches (or nothing) left below the high
    // watermark.
    if (records.size() == before) return records;
    next = records.back().offset + 1;
    if (next >= response.high_watermark()) return records;
  }
}

absl::StatusOr<std::pair<int64_t, int32_t>> InitProducer(herald::v1::Broker::Stub* stub,
                                                         int64_t timeout_ms) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout_ms));
  herald::v1::InitProducerResponse response;
  const grpc::Status s = stub->InitProducer(&context, {}, &response);
  if (!s.ok()) return ToAbsl(s);
  return std::make_pair(response.producer_id(), response.producer_epoch());
}

}  // namespace herald::testing
