#include "broker/broker_impl.h"

#include "absl/strings/str_cat.h"
#include "broker/subscription.h"
#include "common/crc32c.h"

namespace herald::broker {
namespace {

constexpr size_t kMaxQueuedFetches = 4096;
constexpr size_t kMaxParkedFetches = 10000;
// Log tail read per partition at open to rebuild producer sequence state.
constexpr int64_t kRecoverTailBytes = 4 << 20;

absl::Status ShuttingDown() { return absl::UnavailableError("broker is shutting down"); }

}  // namespace

BrokerContext::BrokerContext(const BrokerOptions& opts,
                             std::unique_ptr<storage::LogStore> log_store)
    : options(opts),
      store(std::move(log_store)),
      registry(store.get(), options),
      pool(options.read_threads, kMaxQueuedFetches) {}

BrokerImpl::BrokerImpl(std::shared_ptr<BrokerContext> ctx, std::shared_ptr<GroupManager> groups,
                       std::unique_ptr<ProducerStateGuard> idempotence)
    : ctx_(std::move(ctx)),
      fetcher_(ctx_, kMaxParkedFetches),
      groups_(std::move(groups)),
      idempotence_(std::move(idempotence)) {}

BrokerImpl::~BrokerImpl() { Shutdown(); }

absl::Status BrokerImpl::Start() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (shut_down_) return ShuttingDown();
  if (started_) return absl::OkStatus();
  started_ = true;
  retention_thread_ = std::thread([this] { RetentionLoop(); });
  groups_->Start();
  return absl::OkStatus();
}

void BrokerImpl::Shutdown() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (shut_down_) return;
  shut_down_ = true;
  shutting_down_.store(true);
  {
    std::lock_guard<std::mutex> retention_lock(retention_mu_);
    retention_stop_ = true;
  }
  retention_cv_.notify_all();
  if (retention_thread_.joinable()) retention_thread_.join();
  // Before the store closes: no coordinator write may follow it.
  groups_->Stop();
  // End subscriptions first so their errors are delivered while the pool
  // still runs; then parked fetches; then drain the pool; then the store
  // (which completes in-flight appends).
  std::vector<std::shared_ptr<SubscriptionCore>> subs;
  {
    std::lock_guard<std::mutex> subs_lock(ctx_->subs_mu);
    ctx_->subs_closed = true;
    for (auto& [ptr, weak] : ctx_->subs) {
      if (auto sub = weak.lock()) subs.push_back(std::move(sub));
    }
  }
  for (auto& sub : subs) sub->Fail(ShuttingDown());
  fetcher_.Stop();
  ctx_->pool.Stop();
  ctx_->store->Close();
}

// --- topics ---

TopicInfo BrokerImpl::Describe(const TopicState& topic, bool with_partitions) {
  TopicInfo info;
  info.name = topic.name;
  info.topic_id = topic.topic_id;
  info.partition_count = topic.partition_count;
  info.replication_factor = topic.replication_factor;
  info.config = topic.config;
  if (!with_partitions) return info;
  const int32_t node = ctx_->options.node_id;
  for (int32_t p = 0; p < topic.partition_count; ++p) {
    PartitionInfo pi;
    pi.partition = p;
    pi.leader = node;
    pi.replicas = {node};
    pi.in_sync_replicas = {node};
    FillReplicas(topic, &pi);
    if (auto stats = ctx_->store->Stats(topic.Key(p)); stats.ok()) {
      pi.log_start_offset = stats->log_start_offset;
      pi.size_bytes = stats->size_bytes;
    }
    pi.high_watermark = ctx_->monitor.HighWatermark(topic.Key(p)).value_or(0);
    info.partitions.push_back(std::move(pi));
  }
  return info;
}

absl::StatusOr<TopicInfo> BrokerImpl::CreateTopic(const std::string& name, int32_t partitions,
                                                  int32_t replication_factor,
                                                  const TopicConfigUpdate& config) {
  if (shutting_down_.load()) return ShuttingDown();
  if (auto s = CheckController("topic administration"); !s.ok()) return s;
  auto track = [this](const TopicState& t) {
    for (int32_t p = 0; p < t.partition_count; ++p) ctx_->monitor.AddPartition(t.Key(p), 0);
  };
  auto topic = ctx_->registry.Create(name, partitions, replication_factor, config, track);
  if (!topic.ok()) return topic.status();
  groups_->OnTopicsChanged();  // pattern subscriptions may now match it
  return Describe(*topic, /*with_partitions=*/false);
}

absl::Status BrokerImpl::DeleteTopic(const std::string& name) {
  if (shutting_down_.load()) return ShuttingDown();
  if (auto s = CheckController("topic administration"); !s.ok()) return s;
  auto topic = ctx_->registry.Delete(name);
  if (!topic.ok()) return topic.status();
  // Waiters (subscriptions, parked fetches) get OnDeleted -> NOT_FOUND.
  for (int32_t p = 0; p < topic->partition_count; ++p) {
    ctx_->monitor.RemovePartition(topic->Key(p));
    idempotence_->state()->ForgetPartition(topic->Key(p));
  }
  groups_->OnTopicsChanged();
  return absl::OkStatus();
}

std::vector<TopicInfo> BrokerImpl::ListTopics() {
  std::vector<TopicInfo> out;
  for (const TopicState& t : ctx_->registry.List()) out.push_back(Describe(t, false));
  return out;
}

absl::StatusOr<TopicInfo> BrokerImpl::DescribeTopic(const std::string& name) {
  auto topic = ctx_->registry.Get(name);
  if (!topic.ok()) return topic.status();
  return Describe(*topic, /*with_partitions=*/true);
}

absl::StatusOr<TopicConfig> BrokerImpl::AlterTopicConfig(const std::string& name,
                                                         const TopicConfigUpdate& update) {
  if (shutting_down_.load()) return ShuttingDown();
  if (auto s = CheckController("topic administration"); !s.ok()) return s;
  return ctx_->registry.AlterConfig(name, update);
}

absl::StatusOr<TopicInfo> BrokerImpl::CreatePartitions(const std::string& name,
                                                       int32_t total_partitions) {
  if (shutting_down_.load()) return ShuttingDown();
  if (auto s = CheckController("topic administration"); !s.ok()) return s;
  int32_t from = 0;
  auto track = [this, &from](const TopicState& t) {
    for (int32_t p = from; p < t.partition_count; ++p) ctx_->monitor.AddPartition(t.Key(p), 0);
  };
  auto before = ctx_->registry.Get(name);
  if (!before.ok()) return before.status();
  from = before->partition_count;
  auto grown = ctx_->registry.GrowPartitions(name, total_partitions, track);
  if (!grown.ok()) return grown.status();
  const TopicState& after = grown->second;
  NotifyTopicGrew(grown->first, after);
  groups_->OnTopicsChanged();
  return Describe(after, /*with_partitions=*/false);
}

ClusterInfo BrokerImpl::DescribeCluster() {
  ClusterInfo info;
  info.cluster_id = ctx_->registry.cluster_id();
  info.controller_id = ctx_->options.node_id;
  const std::vector<storage::ClusterNode> nodes = ctx_->store->Nodes();
  if (nodes.empty()) {
    info.nodes.push_back(
        {ctx_->options.node_id, ctx_->options.advertised_address, ctx_->options.rack});
    return info;
  }
  for (const storage::ClusterNode& n : nodes) {
    info.nodes.push_back(
        {n.id, n.address, n.id == ctx_->options.node_id ? ctx_->options.rack : ""});
  }
  auto controller = ctx_->store->MetadataReplica();
  info.controller_id = controller.has_value() ? controller->leader : -1;
  return info;
}

// --- produce ---

absl::Status BrokerImpl::CheckPartition(const TopicState& topic, int32_t partition) const {
  if (partition >= 0 && partition < topic.partition_count) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("topic \"", topic.name, "\" has ", topic.partition_count,
                                          " partitions; partition ", partition, " does not exist"));
}

absl::StatusOr<int32_t> BrokerImpl::ChoosePartition(const TopicState& topic,
                                                    const ProduceBatch& batch,
                                                    const PayloadSummary& summary) {
  if (batch.partition.has_value()) {
    if (auto s = CheckPartition(topic, *batch.partition); !s.ok()) return s;
    return *batch.partition;
  }
  if (summary.key_partition == PayloadSummary::kMixedKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("the batch's record keys map to different partitions of topic \"", topic.name,
                     "\"; set an explicit partition or split the batch by key partition"));
  }
  if (summary.key_partition >= 0) return summary.key_partition;
  // Keyless: whole batches round-robin over the partitions.
  return static_cast<int32_t>(topic.round_robin->fetch_add(1) %
                              static_cast<uint32_t>(topic.partition_count));
}

absl::StatusOr<storage::AppendRequest> BrokerImpl::BuildAppend(ProduceBatch& batch) {
  auto topic = ctx_->registry.Get(batch.topic);
  if (!topic.ok()) return topic.status();
  PayloadLimits limits;
  limits.max_batch_bytes = topic->config.max_message_bytes;
  const int32_t key_partitions = batch.partition.has_value() ? 0 : topic->partition_count;
  auto summary = ValidateRecordBatchPayload(batch.payload, limits, key_partitions);
  if (!summary.ok()) return summary.status();
  auto partition = ChoosePartition(*topic, batch, *summary);
  if (!partition.ok()) return partition.status();

  storage::AppendRequest req;
  req.partition = topic->Key(*partition);
  BatchHeader& h = req.header;
  h.timestamp_type = topic->config.timestamp_type;
  // 0 lets the store use the append time, which is what log-append-time
  // topics and batches without record timestamps must carry.
  h.max_timestamp_ms =
      h.timestamp_type == TimestampType::kLogAppendTime ? 0 : summary->max_timestamp_ms;
  h.producer_id = batch.producer_id;
  h.producer_epoch = batch.producer_epoch;
  h.base_sequence = batch.base_sequence;
  h.record_count = summary->record_count;
  // The expensive checksum runs here, on the caller's thread, not on the
  // storage writer thread.
  h.payload_crc = Crc32c(batch.payload);
  req.sync = batch.acks == Acks::kAll;
  req.payload = std::move(batch.payload);
  return req;
}

void BrokerImpl::Produce(ProduceBatch batch, ProduceCallback done) {
  if (shutting_down_.load()) return done(ShuttingDown());
  const int64_t bytes = static_cast<int64_t>(batch.payload.size());
  const int64_t limit = ctx_->options.max_pending_produce_bytes;
  if (pending_produce_bytes_.fetch_add(bytes) + bytes > limit) {
    pending_produce_bytes_.fetch_sub(bytes);
    return done(absl::ResourceExhaustedError(
        absl::StrCat("more than ", limit, " bytes of produce requests are pending; retry later")));
  }
  auto release = [this, bytes] { pending_produce_bytes_.fetch_sub(bytes); };
  auto req = BuildAppend(batch);  // takes the payload
  if (!req.ok()) {
    release();
    return done(req.status());
  }
  if (!batch.forwarded && MaybeForward(*req, batch, done)) return release();
  if (req->header.producer_id >= 0) {
    return ProduceIdempotent(*std::move(req), std::move(release), std::move(done));
  }
  const storage::PartitionKey key = req->partition;
  const BatchHeader header = req->header;
  ctx_->store->Append(*std::move(req), [this, release, key, header, done = std::move(done)](
                                           absl::StatusOr<storage::AppendResult> r) mutable {
    release();
    done(FinishAppend(key, header, std::move(r)));
  });
}

namespace {

// The completion of an idempotent append. The in-memory store completes
// inside Append, i.e. under the partition lock; `done` must not run there
// (it may produce again), so it is deferred until the lock is released.
struct DeferredDone {
  std::mutex mu;
  bool inside_lock = true;
  std::optional<absl::StatusOr<ProduceResult>> result;
  ProduceCallback done;
};

}  // namespace

// The sequence check and the store enqueue happen under one per-partition
// lock, so batches are checked in exactly the order they are appended.
void BrokerImpl::ProduceIdempotent(storage::AppendRequest req, std::function<void()> release,
                                   ProduceCallback done) {
  const storage::PartitionKey key = req.partition;
  const BatchHeader header = req.header;
  auto deferred = std::make_shared<DeferredDone>();
  deferred->done = std::move(done);
  absl::StatusOr<std::optional<ProduceResult>> check;
  {
    std::lock_guard<std::mutex> lock(partition_locks_.For(key));
    check = idempotence_->Check(key, header);
    if (check.ok() && !check->has_value()) {
      ctx_->store->Append(std::move(req), [this, release, key, header,
                                           deferred](absl::StatusOr<storage::AppendResult> r) {
        release();
        absl::StatusOr<ProduceResult> result = FinishAppend(key, header, std::move(r));
        std::unique_lock<std::mutex> d(deferred->mu);
        if (deferred->inside_lock) {
          deferred->result = std::move(result);
          return;
        }
        d.unlock();
        deferred->done(std::move(result));
      });
    }
  }
  if (!check.ok() || check->has_value()) {
    release();
    if (!check.ok()) return deferred->done(RetriableInCluster(check.status()));
    return deferred->done(**check);
  }
  std::unique_lock<std::mutex> d(deferred->mu);
  deferred->inside_lock = false;
  if (!deferred->result.has_value()) return;  // completes later, on the writer thread
  d.unlock();
  deferred->done(*std::move(deferred->result));
}

// A sequence verdict is only as good as this node's producer state. In a
// cluster, a leader cut off from its peers keeps answering until it is
// deposed, while a new leader may already have committed the batches it has
// not seen: its "out of order" or "cannot be deduplicated" is then wrong,
// and a definite failure would make the client give up on a batch that is
// in the log. So there it is a retriable UNAVAILABLE: the retry reaches the
// real leader, whose state is complete (a genuine gap fails at the client's
// delivery timeout instead of at once).
absl::Status BrokerImpl::RetriableInCluster(const absl::Status& status) const {
  if (!ctx_->store->replicated()) return status;
  if (!absl::IsOutOfRange(status) && !absl::IsFailedPrecondition(status)) return status;
  return absl::UnavailableError(absl::StrCat(
      status.message(), " (this node may have just lost the partition's leadership; retry)"));
}

absl::StatusOr<ProduceResult> BrokerImpl::FinishAppend(
    storage::PartitionKey key, const BatchHeader& header,
    absl::StatusOr<storage::AppendResult> appended) {
  if (!appended.ok()) {
    if (header.producer_id >= 0) idempotence_->OnAppendFailed(key, header);
    return appended.status();
  }
  // The store may run this callback before its append listener: raise the
  // high watermark here too, so a producer can read its own write at once.
  ctx_->monitor.OnAppend(key, appended->base_offset + header.record_count);
  ProduceResult r;
  r.partition = key.partition;
  r.base_offset = appended->base_offset;
  r.append_time_ms = appended->append_time_ms;
  r.record_count = header.record_count;
  if (header.producer_id >= 0) idempotence_->OnAppended(key, header, r);
  return r;
}

// --- reads ---

void BrokerImpl::Fetch(const FetchRequest& request, FetchCallback done) {
  if (shutting_down_.load()) return done(ShuttingDown());
  auto topic = ctx_->registry.Get(request.topic);
  if (!topic.ok()) return done(topic.status());
  fetcher_.Fetch(*topic, request, std::move(done));
}

absl::StatusOr<std::unique_ptr<Subscription>> BrokerImpl::Subscribe(const SubscribeOptions& options,
                                                                    SubscriptionSink* sink) {
  if (shutting_down_.load()) return ShuttingDown();
  if (!options.group.empty()) {
    if (auto s = CheckController("consumer-group coordination"); !s.ok()) return s;
    return groups_->Subscribe(options, sink);
  }
  if (!options.topic_pattern.empty()) {
    return absl::InvalidArgumentError("topic_pattern needs a consumer group");
  }
  return OpenSubscription(ctx_, options, sink);
}

absl::StatusOr<ProducerId> BrokerImpl::InitProducer(const std::string& transactional_id) {
  if (shutting_down_.load()) return ShuttingDown();
  auto id = idempotence_->state()->InitProducer(transactional_id);
  if (!id.ok()) return id.status();
  return ProducerId{id->producer_id, id->epoch};
}

absl::StatusOr<std::unique_ptr<Broker>> OpenBroker(const BrokerOptions& options,
                                                   std::unique_ptr<storage::LogStore> store) {
  if (store == nullptr) return absl::InvalidArgumentError("OpenBroker: store is null");
  if (options.clock == nullptr) return absl::InvalidArgumentError("OpenBroker: clock is null");
  if (options.read_threads < 1 || options.max_delivery_bytes < 1 ||
      options.retention_check_interval_ms < 1 || options.max_partitions_per_topic < 1) {
    return absl::InvalidArgumentError(
        "read_threads, max_delivery_bytes, retention_check_interval_ms and "
        "max_partitions_per_topic must be positive");
  }
  auto ctx = std::make_shared<BrokerContext>(options, std::move(store));
  if (auto s = ctx->registry.Load(); !s.ok()) return s;
  // High watermarks come back from the store: on one node everything in
  // the log is committed.
  for (const TopicState& t : ctx->registry.List()) {
    for (int32_t p = 0; p < t.partition_count; ++p) {
      auto stats = ctx->store->Stats(t.Key(p));
      if (!stats.ok()) return stats.status();
      ctx->monitor.AddPartition(t.Key(p), stats->log_end_offset);
    }
  }
  OffsetMonitor* monitor = &ctx->monitor;  // the store is owned by ctx: no dangling
  ctx->store->SetAppendListener(
      [monitor](storage::PartitionKey key, int64_t end) { monitor->OnAppend(key, end); });
  coordination::ProducerStateOptions producer_options;
  // In a cluster every node hands out producer ids from its own range (the
  // id blocks are node-local metadata), so no two nodes share an id.
  if (ctx->store->replicated()) {
    producer_options.first_id = int64_t{options.node_id} << 40;
    producer_options.check_allocated = false;
  }
  auto producers = coordination::ProducerStateManager::Open(producer_options, ctx->store.get());
  if (!producers.ok()) return producers.status();
  // Producer id 0 is never handed out: on the wire (proto3) 0 means "not
  // idempotent". Ids are never reused, so burning one per open only
  // matters when it is 0, i.e. on a fresh store.
  if (auto burned = (*producers)->InitProducer(""); !burned.ok()) return burned.status();
  std::vector<storage::PartitionKey> keys;
  for (const TopicState& t : ctx->registry.List()) {
    for (int32_t p = 0; p < t.partition_count; ++p) keys.push_back(t.Key(p));
  }
  if (auto s = RecoverProducerState(ctx->store.get(), producers->get(), keys, kRecoverTailBytes);
      !s.ok()) {
    return s;
  }
  auto groups = GroupManager::Open(ctx);
  if (!groups.ok()) return groups.status();
  auto broker =
      std::make_unique<BrokerImpl>(std::move(ctx), *std::move(groups),
                                   std::make_unique<ProducerStateGuard>(*std::move(producers)));
  broker->AttachToStore();
  return std::unique_ptr<Broker>(std::move(broker));
}

}  // namespace herald::broker
