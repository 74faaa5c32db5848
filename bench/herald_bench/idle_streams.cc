// S1: thousands of idle Subscribe streams over a 1,000-partition topic,
// server RSS, and L1 latency while they are open.
//
// Raw async stubs (herald_proto), not herald_client: a client Consumer owns
// a reader thread per stream, so 10,000 of them would measure this process's
// threads, not the server. One completion queue drives every stream here.
#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/herald_bench/scenario_util.h"
#include "bench/herald_bench/scenarios.h"
#include "grpcpp/grpcpp.h"
#include "herald/v1/broker.grpc.pb.h"

namespace herald::bench {
namespace {

using SubscribeStream = grpc::ClientAsyncReaderWriter<v1::SubscribeRequest, v1::SubscribeResponse>;

constexpr int32_t kStreamsPerChannel = 500;
enum Op : uintptr_t { kStarted = 0, kWritten = 1, kRead = 2, kFinished = 3 };

struct IdleStream {
  grpc::ClientContext context;
  std::unique_ptr<SubscribeStream> stream;
  v1::SubscribeResponse response;
  grpc::Status status;
};

void* Tag(size_t index, Op op) { return reinterpret_cast<void*>((index << 2) | op); }

// VmRSS of `pid` in bytes; -1 when unknown.
int64_t RssBytes(pid_t pid) {
  if (pid <= 0) return -1;
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

class IdleStreamSet {
 public:
  IdleStreamSet(const std::string& brokers, int32_t count) : streams_(count) {
    const int32_t channels = std::max(1, (count + kStreamsPerChannel - 1) / kStreamsPerChannel);
    for (int32_t c = 0; c < channels; ++c) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one TCP connection per channel
      args.SetInt("herald.bench.channel", c);
      stubs_.push_back(v1::Broker::NewStub(
          grpc::CreateCustomChannel(brokers, grpc::InsecureChannelCredentials(), args)));
    }
  }

  // Opens every stream (SubscribeStart on partition i % partitions, latest),
  // leaving one read pending on each. Returns how many are open.
  int32_t Open(const std::string& topic, int32_t partitions, int64_t timeout_ms) {
    for (size_t i = 0; i < streams_.size(); ++i) {
      streams_[i].stream =
          stubs_[i % stubs_.size()]->PrepareAsyncSubscribe(&streams_[i].context, &cq_);
      streams_[i].stream->StartCall(Tag(i, kStarted));
    }
    int32_t open = 0;
    const auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms);
    void* tag = nullptr;
    bool ok = false;
    while (open + failed_ < static_cast<int32_t>(streams_.size()) &&
           cq_.AsyncNext(&tag, &ok, deadline) == grpc::CompletionQueue::GOT_EVENT) {
      const size_t i = reinterpret_cast<uintptr_t>(tag) >> 2;
      const Op op = static_cast<Op>(reinterpret_cast<uintptr_t>(tag) & 3);
      if (!ok) {
        ++failed_;  // the stream will be finished in Close
      } else if (op == kStarted) {
        streams_[i].stream->Write(StartRequest(topic, static_cast<int32_t>(i) % partitions),
                                  Tag(i, kWritten));
      } else if (op == kWritten) {
        streams_[i].stream->Read(&streams_[i].response, Tag(i, kRead));
        ++open;
      } else if (op == kRead) {
        streams_[i].stream->Read(&streams_[i].response,
                                 Tag(i, kRead));  // unexpected data: keep reading
      }
    }
    return open;
  }

  // Cancels every stream and drains the queue.
  void Close() {
    for (IdleStream& s : streams_) s.context.TryCancel();
    for (size_t i = 0; i < streams_.size(); ++i) {
      if (streams_[i].stream) streams_[i].stream->Finish(&streams_[i].status, Tag(i, kFinished));
    }
    cq_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
    }
  }

 private:
  static v1::SubscribeRequest StartRequest(const std::string& topic, int32_t partition) {
    v1::SubscribeRequest request;
    v1::SubscribeStart* start = request.mutable_start();
    v1::SubscribeStart::PartitionStart* p = start->add_partitions();
    p->set_topic(topic);
    p->set_partition(partition);
    p->mutable_position()->set_named(v1::StartPosition::NAMED_LATEST);
    start->mutable_credit()->set_records(1000);
    start->mutable_credit()->set_bytes(1 << 20);
    return request;
  }

  std::vector<std::unique_ptr<v1::Broker::Stub>> stubs_;
  std::vector<IdleStream> streams_;
  grpc::CompletionQueue cq_;
  int32_t failed_ = 0;
};

}  // namespace

std::vector<Measurement> RunIdleStreams(const SuiteOptions& o) {
  const int32_t streams = std::max(10, static_cast<int32_t>(o.s1_streams * std::min(1.0, o.scale)));
  const int32_t partitions =
      std::max(1, static_cast<int32_t>(o.s1_partitions * std::min(1.0, o.scale)));
  const std::string name =
      absl::StrCat(streams, " idle Subscribe streams, ", partitions, " partitions");
  const int64_t rss_start = RssBytes(o.server_pid);
  auto topic = CreateBenchTopic(o.brokers, "S1", partitions);
  if (!topic.ok()) return {Failed("S1", name, topic.status())};
  const int64_t rss_topic = RssBytes(o.server_pid);
  IdleStreamSet set(o.brokers, streams);
  const int64_t open_start_ns = NowNs();
  const int32_t open = set.Open(*topic, partitions, 120'000);
  const double open_s = (NowNs() - open_start_ns) / 1e9;
  const int64_t rss_open = RssBytes(o.server_pid);
  Measurement latency = RunEndToEndLatency(o, "S1", o.duration_ms);
  latency.name = "L1 while the idle streams are open: " + latency.name;
  const int64_t rss_after_l1 = RssBytes(o.server_pid);
  set.Close();
  Measurement m;
  m.scenario = "S1";
  m.name = name;
  m.settings["topic"] = *topic;
  m.settings["rss_source"] = o.server_pid > 0
                                 ? absl::StrCat("/proc/", o.server_pid, "/status VmRSS")
                                 : "unknown server pid: RSS not measured";
  m.figures["streams_requested"] = streams;
  m.figures["streams_open"] = open;
  m.figures["open_s"] = open_s;
  m.figures["rss_start_mib"] = rss_start / kMiB;
  m.figures["rss_with_topic_mib"] = rss_topic / kMiB;
  m.figures["rss_streams_open_mib"] = rss_open / kMiB;
  m.figures["rss_after_l1_mib"] = rss_after_l1 / kMiB;
  if (open > 0 && rss_open > 0)
    m.figures["rss_per_stream_kib"] = (rss_open - rss_topic) / 1024.0 / open;
  if (open < streams) {
    m.ok = false;
    m.error = absl::StrCat("only ", open, " of ", streams, " streams opened");
  }
  return {m, latency};
}

}  // namespace herald::bench
