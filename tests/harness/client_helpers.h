#pragma once
// Small client-side helpers for black-box tests: they speak the herald.v1
// gRPC API through the generated stubs only (deliberately not the C++ client
// library), plus raw HTTP for /metrics and generic calls for health,
// reflection and malformed payloads.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "grpcpp/support/sync_stream.h"
#include "herald/v1/admin.grpc.pb.h"
#include "herald/v1/broker.grpc.pb.h"

namespace herald::testing {

// ---- records ----

struct TestRecord {
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  int64_t timestamp_ms = 0;
};

herald::v1::RecordBatch MakeBatch(const std::vector<TestRecord>& records);
// `count` records with values "<value_prefix>-<i>" and the given key (may be empty).
herald::v1::RecordBatch MakeBatch(int count, const std::string& value_prefix,
                                  const std::string& key = "");

// A record as read back, with its offset and batch metadata.
struct ReadRecord {
  int64_t offset = 0;
  int32_t partition = 0;
  int64_t append_time_ms = 0;
  herald::v1::Record record;
};

// Flattens delivered batches into records at offsets >= min_offset.
void AppendRecords(const herald::v1::ConsumedBatch& batch, int64_t min_offset,
                   std::vector<ReadRecord>* out);

// ---- admin ----

grpc::Status CreateTopic(herald::v1::Admin::Stub* admin, const std::string& name,
                         int32_t partitions, const herald::v1::TopicConfig& config = {},
                         int32_t replication_factor = 0);
absl::StatusOr<herald::v1::TopicDescription> DescribeTopic(herald::v1::Admin::Stub* admin,
                                                           const std::string& name);

// ---- produce ----

// One Produce stream: Send() writes (pipelining is fine), a reader thread
// collects responses by request_id. Responses are bounded by what was sent.
class ProduceClient {
 public:
  explicit ProduceClient(herald::v1::Broker::Stub* stub, int64_t deadline_ms = 120'000);
  ~ProduceClient();  // Cancels the stream if Finish was not called.

  // False once the stream is broken (the server ended it).
  bool Send(const herald::v1::ProduceRequest& request);
  // Convenience: builds the request with a fresh request_id, returns that id.
  std::optional<uint64_t> Send(const std::string& topic, std::optional<int32_t> partition,
                               const herald::v1::RecordBatch& batch,
                               herald::v1::Acks acks = herald::v1::ACKS_ALL);
  // Waits for the response to `request_id`. DEADLINE_EXCEEDED on timeout,
  // UNAVAILABLE if the stream ended first (with the stream's status).
  absl::StatusOr<herald::v1::ProduceResponse> Wait(uint64_t request_id,
                                                   int64_t timeout_ms = 10'000);
  // Every response received so far, in arrival order.
  std::vector<herald::v1::ProduceResponse> Responses();
  // WritesDone, drain, Finish. Idempotent; returns the stream status.
  grpc::Status Finish();
  void Cancel() { context_.TryCancel(); }

 private:
  void ReadLoop();

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<herald::v1::ProduceRequest, herald::v1::ProduceResponse>>
      stream_;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<herald::v1::ProduceResponse> responses_;  // bounded by requests sent
  std::map<uint64_t, size_t> by_id_;
  bool read_done_ = false;
  bool finished_ = false;
  grpc::Status finish_status_;
  uint64_t next_request_id_ = 1;
};

// Opens a stream, sends one batch, waits for its response, finishes.
absl::StatusOr<herald::v1::ProduceResponse> ProduceOnce(
    herald::v1::Broker::Stub* stub, const std::string& topic, std::optional<int32_t> partition,
    const herald::v1::RecordBatch& batch, herald::v1::Acks acks = herald::v1::ACKS_ALL);

// ---- consume ----

// Reads records [offset, offset + count) of one partition via Fetch (fewer if
// the deadline passes first; then DEADLINE_EXCEEDED with what was read).
absl::StatusOr<std::vector<ReadRecord>> FetchRecords(herald::v1::Broker::Stub* stub,
                                                     const std::string& topic, int32_t partition,
                                                     int64_t offset, int64_t count,
                                                     int64_t timeout_ms = 10'000);

// One Subscribe stream driven by the callback API (so thousands of them need
// no threads). Responses queue up (bounded by server credit) for Next().
class SubscribeClient
    : public grpc::ClientBidiReactor<herald::v1::SubscribeRequest, herald::v1::SubscribeResponse> {
 public:
  // Starts the call and sends `first` (normally a start request).
  SubscribeClient(herald::v1::Broker::Stub* stub, const herald::v1::SubscribeRequest& first);
  ~SubscribeClient() override;  // Cancels and waits for the call to end.

  // Queues a request; writes go out one at a time.
  void Send(const herald::v1::SubscribeRequest& request);
  void AddCredit(int64_t records, int64_t bytes = 1 << 30);
  // Next response, or nullopt after timeout_ms or once the stream ended.
  std::optional<herald::v1::SubscribeResponse> Next(int64_t timeout_ms);
  // Reads batches until `count` records at offsets >= min_offset arrived.
  std::vector<ReadRecord> ReadRecords(size_t count, int64_t timeout_ms, int64_t min_offset = 0);
  // Records received in batches so far (counted by the reactor).
  int64_t records_received();
  void Cancel() { context_.TryCancel(); }
  // Waits for the stream to end; its status, or nullopt on timeout.
  std::optional<grpc::Status> WaitDone(int64_t timeout_ms);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  void MaybeWriteLocked();

  grpc::ClientContext context_;
  herald::v1::SubscribeResponse incoming_;
  herald::v1::SubscribeRequest outgoing_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<herald::v1::SubscribeRequest> to_send_;
  std::deque<herald::v1::SubscribeResponse> received_;
  bool writing_ = false;
  bool write_failed_ = false;
  bool read_closed_ = false;    // the server ended its side (or the call failed)
  bool hold_released_ = false;  // RemoveHold done: no new writes may start
  int64_t records_received_ = 0;
  std::optional<grpc::Status> done_status_;
};

herald::v1::SubscribeRequest StartRequest(
    const std::vector<std::pair<std::string, int32_t>>& partitions,
    const herald::v1::StartPosition& position, int64_t credit_records,
    int64_t credit_bytes = 1 << 30);
herald::v1::StartPosition Earliest();
herald::v1::StartPosition Latest();
herald::v1::StartPosition AtOffset(int64_t offset);
herald::v1::StartPosition AtTime(int64_t timestamp_ms);

// ---- raw / generic access ----

struct HttpResponse {
  int status_code = 0;
  std::string body;
};
// HTTP/1.0 GET over a plain socket to 127.0.0.1:port.
absl::StatusOr<HttpResponse> HttpGet(int port, const std::string& path, int64_t timeout_ms = 5000);

// Sum of the samples of metric `name` whose label set contains every
// `label="value"` pair given (an exact sample name match). nullopt if none.
std::optional<double> MetricValue(
    const std::string& exposition, const std::string& name,
    const std::vector<std::pair<std::string, std::string>>& labels = {});
// Checks Prometheus text exposition syntax line by line; describes the first error.
absl::Status ValidatePrometheusText(const std::string& exposition);

// grpc.health.v1.Health/Check: the ServingStatus enum value (1 = SERVING).
absl::StatusOr<int> HealthCheck(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& service = "");
// Service names listed by grpc.reflection.v1alpha.ServerReflection.
absl::StatusOr<std::vector<std::string>> ListReflectionServices(
    const std::shared_ptr<grpc::Channel>& channel);

struct GenericResult {
  grpc::Status status;
  std::vector<std::string> responses;
};
// Unary call with raw request bytes.
GenericResult GenericUnary(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                           const std::string& request, int64_t timeout_ms = 10'000);
// Bidi call: writes each message, half-closes, reads everything, finishes.
GenericResult GenericBidi(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                          const std::vector<std::string>& requests, int64_t timeout_ms = 10'000);

}  // namespace herald::testing
