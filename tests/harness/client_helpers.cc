#include "tests/harness/client_helpers.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace herald::testing {
namespace {

using herald::v1::Broker;
using herald::v1::ProduceRequest;
using herald::v1::ProduceResponse;
using herald::v1::SubscribeRequest;
using herald::v1::SubscribeResponse;

std::chrono::system_clock::time_point DeadlineIn(int64_t ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

absl::Status ToAbsl(const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace

// ---- records ----

herald::v1::RecordBatch MakeBatch(const std::vector<TestRecord>& records) {
  herald::v1::RecordBatch batch;
  for (const TestRecord& r : records) {
    herald::v1::Record* record = batch.add_records();
    record->set_key(r.key);
    record->set_value(r.value);
    record->set_timestamp_ms(r.timestamp_ms);
    for (const auto& [key, value] : r.headers) {
      herald::v1::Header* header = record->add_headers();
      header->set_key(key);
      header->set_value(value);
    }
  }
  return batch;
}

herald::v1::RecordBatch MakeBatch(int count, const std::string& value_prefix,
                                  const std::string& key) {
  std::vector<TestRecord> records;
  for (int i = 0; i < count; ++i) {
    TestRecord record;
    record.key = key;
    record.value = absl::StrCat(value_prefix, "-", i);
    records.push_back(std::move(record));
  }
  return MakeBatch(records);
}

void AppendRecords(const herald::v1::ConsumedBatch& batch, int64_t min_offset,
                   std::vector<ReadRecord>* out) {
  for (int i = 0; i < batch.records_size(); ++i) {
    const int64_t offset = batch.base_offset() + i;
    if (offset < min_offset) continue;  // Batches are served whole.
    ReadRecord record;
    record.offset = offset;
    record.partition = batch.partition();
    record.append_time_ms = batch.append_time_ms();
    record.record = batch.records(i);
    out->push_back(std::move(record));
  }
}

// ---- admin ----

grpc::Status CreateTopic(herald::v1::Admin::Stub* admin, const std::string& name,
                         int32_t partitions, const herald::v1::TopicConfig& config,
                         int32_t replication_factor) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(10'000));
  herald::v1::CreateTopicRequest request;
  request.set_name(name);
  request.set_partitions(partitions);
  request.set_replication_factor(replication_factor);
  *request.mutable_config() = config;
  herald::v1::CreateTopicResponse response;
  return admin->CreateTopic(&context, request, &response);
}

absl::StatusOr<herald::v1::TopicDescription> DescribeTopic(herald::v1::Admin::Stub* admin,
                                                           const std::string& name) {
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(10'000));
  herald::v1::DescribeTopicRequest request;
  request.set_name(name);
  herald::v1::DescribeTopicResponse response;
  const grpc::Status status = admin->DescribeTopic(&context, request, &response);
  if (!status.ok()) return ToAbsl(status);
  return response.topic();
}

// ---- produce ----

ProduceClient::ProduceClient(Broker::Stub* stub, int64_t deadline_ms) {
  context_.set_deadline(DeadlineIn(deadline_ms));
  stream_ = stub->Produce(&context_);
  reader_ = std::thread([this] { ReadLoop(); });
}

ProduceClient::~ProduceClient() {
  if (!finished_) {
    context_.TryCancel();
    Finish();
  }
}

void ProduceClient::ReadLoop() {
  ProduceResponse response;
  while (stream_->Read(&response)) {
    std::lock_guard<std::mutex> lock(mu_);
    by_id_[response.request_id()] = responses_.size();
    responses_.push_back(response);
    cv_.notify_all();
  }
  std::lock_guard<std::mutex> lock(mu_);
  read_done_ = true;
  cv_.notify_all();
}

bool ProduceClient::Send(const ProduceRequest& request) { return stream_->Write(request); }

std::optional<uint64_t> ProduceClient::Send(const std::string& topic,
                                            std::optional<int32_t> partition,
                                            const herald::v1::RecordBatch& batch,
                                            herald::v1::Acks acks) {
  ProduceRequest request;
  request.set_request_id(next_request_id_++);
  request.set_topic(topic);
  if (partition.has_value()) request.set_partition(*partition);
  *request.mutable_batch() = batch;
  request.set_acks(acks);
  if (!Send(request)) return std::nullopt;
  return request.request_id();
}

absl::StatusOr<ProduceResponse> ProduceClient::Wait(uint64_t request_id, int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool found = cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                  [&] { return by_id_.count(request_id) > 0 || read_done_; });
  if (by_id_.count(request_id) > 0) return responses_[by_id_[request_id]];
  if (!found) {
    return absl::DeadlineExceededError(
        absl::StrCat("no response to request ", request_id, " within ", timeout_ms, " ms"));
  }
  return absl::UnavailableError(absl::StrCat("stream ended before response to ", request_id));
}

std::vector<ProduceResponse> ProduceClient::Responses() {
  std::lock_guard<std::mutex> lock(mu_);
  return responses_;
}

grpc::Status ProduceClient::Finish() {
  if (finished_) return finish_status_;
  finished_ = true;
  stream_->WritesDone();
  reader_.join();
  finish_status_ = stream_->Finish();
  return finish_status_;
}

absl::StatusOr<ProduceResponse> ProduceOnce(Broker::Stub* stub, const std::string& topic,
                                            std::optional<int32_t> partition,
                                            const herald::v1::RecordBatch& batch,
                                            herald::v1::Acks acks) {
  ProduceClient client(stub, 30'000);
  const std::optional<uint64_t> id = client.Send(topic, partition, batch, acks);
  if (!id.has_value()) return ToAbsl(client.Finish());
  absl::StatusOr<ProduceResponse> response = client.Wait(*id);
  const grpc::Status status = client.Finish();
  if (!response.ok() && !status.ok()) return ToAbsl(status);
  return response;
}

// ---- consume ----

absl::StatusOr<std::vector<ReadRecord>> FetchRecords(Broker::Stub* stub, const std::string& topic,
                                                     int32_t partition, int64_t offset,
                                                     int64_t count, int64_t timeout_ms) {
  std::vector<ReadRecord> records;
  const int64_t deadline_ms = NowMs() + timeout_ms;
  int64_t next = offset;
  while (static_cast<int64_t>(records.size()) < count) {
    const int64_t remaining_ms = deadline_ms - NowMs();
    if (remaining_ms <= 0) {
      return absl::DeadlineExceededError(absl::StrCat("read ", records.size(), " of ", count,
                                                      " records from ", topic, "/", partition));
    }
    grpc::ClientContext context;
    context.set_deadline(DeadlineIn(remaining_ms + 1000));
    herald::v1::FetchRequest request;
    request.set_topic(topic);
    request.set_partition(partition);
    request.set_offset(next);
    request.set_max_wait_ms(static_cast<int32_t>(std::min<int64_t>(remaining_ms, 500)));
    herald::v1::FetchResponse response;
    const grpc::Status status = stub->Fetch(&context, request, &response);
    if (!status.ok()) return ToAbsl(status);
    for (const herald::v1::ConsumedBatch& batch : response.batches()) {
      AppendRecords(batch, next, &records);
      if (!records.empty()) next = records.back().offset + 1;
    }
  }
  records.resize(static_cast<size_t>(count));
  return records;
}

SubscribeClient::SubscribeClient(Broker::Stub* stub, const SubscribeRequest& first) {
  stub->async()->Subscribe(&context_, this);
  // The hold keeps the call alive while writes may still be started from
  // other threads; released once the server has closed its side.
  AddHold();
  to_send_.push_back(first);
  {
    std::lock_guard<std::mutex> lock(mu_);
    MaybeWriteLocked();
  }
  StartRead(&incoming_);
  StartCall();
}

SubscribeClient::~SubscribeClient() {
  context_.TryCancel();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return done_status_.has_value(); });
}

void SubscribeClient::MaybeWriteLocked() {
  if (writing_ || to_send_.empty() || write_failed_ || hold_released_) return;
  outgoing_ = std::move(to_send_.front());
  to_send_.pop_front();
  writing_ = true;
  StartWrite(&outgoing_);
}

void SubscribeClient::Send(const SubscribeRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  to_send_.push_back(request);
  MaybeWriteLocked();
}

void SubscribeClient::AddCredit(int64_t records, int64_t bytes) {
  SubscribeRequest request;
  request.mutable_credit()->set_records(records);
  request.mutable_credit()->set_bytes(bytes);
  Send(request);
}

void SubscribeClient::OnWriteDone(bool ok) {
  bool release = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      write_failed_ = true;
      to_send_.clear();
    }
    MaybeWriteLocked();
    release = read_closed_ && !writing_ && !hold_released_;
    if (release) hold_released_ = true;
  }
  if (release) RemoveHold();
}

void SubscribeClient::OnReadDone(bool ok) {
  if (ok) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (incoming_.has_batches()) {
        for (const auto& batch : incoming_.batches().batches()) {
          records_received_ += batch.records_size();
        }
      }
      received_.push_back(std::move(incoming_));
      cv_.notify_all();
    }
    incoming_.Clear();
    StartRead(&incoming_);
    return;
  }
  bool release = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    read_closed_ = true;
    release = !writing_ && !hold_released_;
    if (release) hold_released_ = true;
    cv_.notify_all();
  }
  if (release) RemoveHold();
}

void SubscribeClient::OnDone(const grpc::Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  done_status_ = status;
  cv_.notify_all();
}

std::optional<SubscribeResponse> SubscribeClient::Next(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [&] { return !received_.empty() || read_closed_; });
  if (received_.empty()) return std::nullopt;
  SubscribeResponse response = std::move(received_.front());
  received_.pop_front();
  return response;
}

std::vector<ReadRecord> SubscribeClient::ReadRecords(size_t count, int64_t timeout_ms,
                                                     int64_t min_offset) {
  std::vector<ReadRecord> records;
  const int64_t deadline_ms = NowMs() + timeout_ms;
  while (records.size() < count) {
    const int64_t remaining_ms = deadline_ms - NowMs();
    if (remaining_ms <= 0) break;
    std::optional<SubscribeResponse> response = Next(remaining_ms);
    if (!response.has_value()) break;
    if (!response->has_batches()) continue;
    for (const auto& batch : response->batches().batches()) {
      AppendRecords(batch, min_offset, &records);
    }
  }
  return records;
}

int64_t SubscribeClient::records_received() {
  std::lock_guard<std::mutex> lock(mu_);
  return records_received_;
}

std::optional<grpc::Status> SubscribeClient::WaitDone(int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [&] { return done_status_.has_value(); });
  return done_status_;
}

SubscribeRequest StartRequest(const std::vector<std::pair<std::string, int32_t>>& partitions,
                              const herald::v1::StartPosition& position, int64_t credit_records,
                              int64_t credit_bytes) {
  SubscribeRequest request;
  herald::v1::SubscribeStart* start = request.mutable_start();
  for (const auto& [topic, partition] : partitions) {
    auto* p = start->add_partitions();
    p->set_topic(topic);
    p->set_partition(partition);
  }
  *start->mutable_start() = position;
  start->mutable_credit()->set_records(credit_records);
  start->mutable_credit()->set_bytes(credit_bytes);
  return request;
}

herald::v1::StartPosition Earliest() {
  herald::v1::StartPosition p;
  p.set_named(herald::v1::StartPosition::NAMED_EARLIEST);
  return p;
}

herald::v1::StartPosition Latest() {
  herald::v1::StartPosition p;
  p.set_named(herald::v1::StartPosition::NAMED_LATEST);
  return p;
}

herald::v1::StartPosition AtOffset(int64_t offset) {
  herald::v1::StartPosition p;
  p.set_offset(offset);
  return p;
}

herald::v1::StartPosition AtTime(int64_t timestamp_ms) {
  herald::v1::StartPosition p;
  p.set_timestamp_ms(timestamp_ms);
  return p;
}

}  // namespace herald::testing
