#include "broker/topic_registry.h"

#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "broker/committed_offsets.h"
#include "common/names.h"

namespace herald::broker {
namespace {

constexpr char kClusterIdKey[] = "broker/cluster_id";
constexpr char kNextTopicIdKey[] = "broker/next_topic_id";
constexpr char kTopicPrefix[] = "topic/";

std::string TopicKey(const std::string& name) { return absl::StrCat(kTopicPrefix, name); }

std::string NewClusterId() {
  std::random_device rd;
  return absl::StrFormat("%08x%08x%08x%08x", rd(), rd(), rd(), rd());
}

absl::Status Corrupt(const std::string& name, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("metadata of topic \"", name, "\" is corrupt: ", what));
}

}  // namespace

absl::Status TopicNotFound(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("topic \"", name, "\" does not exist"));
}

std::string EncodeTopicValue(const TopicState& t) {
  return absl::StrCat("id=", t.topic_id, ";partitions=", t.partition_count,
                      ";rf=", t.replication_factor, ";retention_ms=", t.config.retention_ms,
                      ";retention_bytes=", t.config.retention_bytes,
                      ";max_message_bytes=", t.config.max_message_bytes,
                      ";timestamp_type=", static_cast<int>(t.config.timestamp_type));
}

absl::StatusOr<TopicState> DecodeTopicValue(const std::string& name, const std::string& value) {
  absl::flat_hash_map<std::string, int64_t> fields;
  for (absl::string_view part : absl::StrSplit(value, ';', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    int64_t v = 0;
    if (!absl::SimpleAtoi(kv.second, &v)) return Corrupt(name, part);
    fields[kv.first] = v;
  }
  for (const char* required : {"id", "partitions", "rf", "retention_ms", "retention_bytes",
                               "max_message_bytes", "timestamp_type"}) {
    if (!fields.contains(required)) return Corrupt(name, absl::StrCat("missing ", required));
  }
  TopicState t;
  t.name = name;
  t.topic_id = static_cast<uint64_t>(fields["id"]);
  t.partition_count = static_cast<int32_t>(fields["partitions"]);
  t.replication_factor = static_cast<int32_t>(fields["rf"]);
  t.config.retention_ms = fields["retention_ms"];
  t.config.retention_bytes = fields["retention_bytes"];
  t.config.max_message_bytes = static_cast<int32_t>(fields["max_message_bytes"]);
  t.config.timestamp_type = static_cast<TimestampType>(fields["timestamp_type"]);
  t.round_robin = std::make_shared<std::atomic<uint32_t>>(0);
  return t;
}

absl::Status ValidateTopicConfig(const TopicConfig& c, const BrokerOptions& options) {
  if (c.retention_ms < -1 || c.retention_ms == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retention_ms must be -1 (unlimited) or a positive number of ms, got ", c.retention_ms));
  }
  if (c.retention_bytes < -1 || c.retention_bytes == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("retention_bytes must be -1 (unlimited) or a positive number of bytes, got ",
                     c.retention_bytes));
  }
  if (c.max_message_bytes < 1 || c.max_message_bytes > options.max_message_bytes_limit) {
    return absl::InvalidArgumentError(absl::StrCat("max_message_bytes must be between 1 and ",
                                                   options.max_message_bytes_limit, ", got ",
                                                   c.max_message_bytes));
  }
  if (c.timestamp_type != TimestampType::kCreateTime &&
      c.timestamp_type != TimestampType::kLogAppendTime) {
    return absl::InvalidArgumentError(
        absl::StrCat("timestamp_type must be CREATE_TIME or LOG_APPEND_TIME, got ",
                     static_cast<int>(c.timestamp_type)));
  }
  return absl::OkStatus();
}

TopicConfig ApplyConfigUpdate(TopicConfig c, const TopicConfigUpdate& u) {
  if (u.retention_ms) c.retention_ms = *u.retention_ms;
  if (u.retention_bytes) c.retention_bytes = *u.retention_bytes;
  if (u.max_message_bytes) c.max_message_bytes = *u.max_message_bytes;
  if (u.timestamp_type) c.timestamp_type = *u.timestamp_type;
  return c;
}

TopicRegistry::TopicRegistry(storage::LogStore* store, const BrokerOptions& options)
    : store_(store), options_(options) {}

absl::Status TopicRegistry::LoadClusterId() {
  auto stored = store_->GetMetadata(kClusterIdKey);
  if (!stored.ok()) return stored.status();
  if (stored->has_value()) {
    if (!options_.cluster_id.empty() && options_.cluster_id != **stored) {
      return absl::FailedPreconditionError(
          absl::StrCat("configured cluster_id \"", options_.cluster_id,
                       "\" does not match the stored cluster_id \"", **stored, "\""));
    }
    cluster_id_ = **stored;
    return absl::OkStatus();
  }
  cluster_id_ = options_.cluster_id.empty() ? NewClusterId() : options_.cluster_id;
  return store_->WriteMetadata({{kClusterIdKey, cluster_id_}});
}

absl::Status TopicRegistry::Load() {
  std::lock_guard<std::mutex> admin(admin_mu_);
  if (auto s = LoadClusterId(); !s.ok()) return s;
  auto next = store_->GetMetadata(kNextTopicIdKey);
  if (!next.ok()) return next.status();
  uint64_t next_id = 1;
  if (next->has_value() && !absl::SimpleAtoi(**next, &next_id)) {
    return absl::DataLossError("metadata broker/next_topic_id is corrupt");
  }
  auto scanned = store_->ScanMetadata(kTopicPrefix);
  if (!scanned.ok()) return scanned.status();
  absl::flat_hash_map<std::string, TopicState> topics;
  absl::flat_hash_map<uint64_t, int32_t> partitions_by_id;
  for (const auto& [key, value] : *scanned) {
    const std::string name = key.substr(sizeof(kTopicPrefix) - 1);
    auto topic = DecodeTopicValue(name, value);
    if (!topic.ok()) return topic.status();
    for (int32_t p = 0; p < topic->partition_count; ++p) {
      if (auto s = store_->CreatePartition(topic->Key(p)); !s.ok()) return s;
    }
    partitions_by_id[topic->topic_id] = topic->partition_count;
    if (topic->topic_id >= next_id) next_id = topic->topic_id + 1;
    topics.emplace(name, *std::move(topic));
  }
  // Partitions of a topic whose deletion (or creation) was interrupted.
  for (const storage::PartitionKey& key : store_->ListPartitions()) {
    auto it = partitions_by_id.find(key.topic_id);
    if (it == partitions_by_id.end() || key.partition >= it->second) {
      if (auto s = store_->DeletePartition(key); !s.ok() && !absl::IsNotFound(s)) return s;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  next_topic_id_ = next_id;
  topics_ = std::move(topics);
  return absl::OkStatus();
}

absl::Status TopicRegistry::ValidateCounts(int32_t partitions, int32_t rf) const {
  if (partitions < 1 || partitions > options_.max_partitions_per_topic) {
    return absl::InvalidArgumentError(absl::StrCat("partitions must be between 1 and ",
                                                   options_.max_partitions_per_topic, ", got ",
                                                   partitions));
  }
  // Every partition is replicated on every node (no placement yet).
  const int32_t brokers = BrokerCount();
  if (rf != brokers) {
    return absl::InvalidArgumentError(
        absl::StrCat("replication_factor ", rf, " is not possible: the cluster has ", brokers,
                     brokers == 1 ? " broker, so it must be 1"
                                  : " brokers and every partition is replicated "
                                    "on all of them, so it must be ",
                     brokers == 1 ? "" : absl::StrCat(brokers)));
  }
  return absl::OkStatus();
}

absl::Status TopicRegistry::Persist(const TopicState& topic,
                                    std::vector<storage::MetadataWrite> extra) {
  extra.push_back({TopicKey(topic.name), EncodeTopicValue(topic)});
  return store_->WriteMetadata(extra);
}

absl::StatusOr<TopicState> TopicRegistry::Create(const std::string& name, int32_t partitions,
                                                 int32_t replication_factor,
                                                 const TopicConfigUpdate& update,
                                                 const BeforePublish& before_publish) {
  if (auto s = ValidateTopicName(name); !s.ok()) return s;
  if (partitions == 0) partitions = options_.default_partitions;
  if (replication_factor == 0) {
    replication_factor = store_->replicated() ? BrokerCount() : options_.default_replication_factor;
  }
  if (auto s = ValidateCounts(partitions, replication_factor); !s.ok()) return s;
  TopicState t;
  t.name = name;
  t.partition_count = partitions;
  t.replication_factor = replication_factor;
  t.config = ApplyConfigUpdate(options_.default_topic_config, update);
  t.round_robin = std::make_shared<std::atomic<uint32_t>>(0);
  if (auto s = ValidateTopicConfig(t.config, options_); !s.ok()) return s;

  std::lock_guard<std::mutex> admin(admin_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (topics_.contains(name)) {
      return absl::AlreadyExistsError(absl::StrCat("topic \"", name, "\" already exists"));
    }
    t.topic_id = next_topic_id_;
  }
  for (int32_t p = 0; p < partitions; ++p) {
    if (auto s = store_->CreatePartition(t.Key(p)); !s.ok()) return s;
  }
  // The id counter and the topic are written together, so an id is never
  // handed out twice even across crashes.
  if (auto s = Persist(t, {{kNextTopicIdKey, absl::StrCat(t.topic_id + 1)}}); !s.ok()) return s;
  if (before_publish) before_publish(t);
  std::lock_guard<std::mutex> lock(mu_);
  next_topic_id_ = t.topic_id + 1;
  topics_[name] = t;
  return t;
}

absl::StatusOr<TopicState> TopicRegistry::Delete(const std::string& name) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  auto topic = Get(name);
  if (!topic.ok()) return topic.status();
  auto writes = DeleteOffsetsOfTopic(store_, topic->topic_id);
  if (!writes.ok()) return writes.status();
  writes->push_back({TopicKey(name), std::nullopt});
  if (auto s = store_->WriteMetadata(*writes); !s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    topics_.erase(name);
  }
  for (int32_t p = 0; p < topic->partition_count; ++p) {
    // Deliberately ignored: the topic is already gone from metadata (the
    // caller must still see success and wake its waiters), and Load()
    // deletes partitions that belong to no topic at the next start.
    (void)store_->DeletePartition(topic->Key(p));
  }
  return topic;
}

absl::StatusOr<TopicConfig> TopicRegistry::AlterConfig(const std::string& name,
                                                       const TopicConfigUpdate& update) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  auto topic = Get(name);
  if (!topic.ok()) return topic.status();
  topic->config = ApplyConfigUpdate(topic->config, update);
  if (auto s = ValidateTopicConfig(topic->config, options_); !s.ok()) return s;
  if (auto s = Persist(*topic, {}); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  topics_[name] = *topic;
  return topic->config;
}

absl::StatusOr<std::pair<TopicState, TopicState>> TopicRegistry::GrowPartitions(
    const std::string& name, int32_t total, const BeforePublish& before_publish) {
  std::lock_guard<std::mutex> admin(admin_mu_);
  auto before = Get(name);
  if (!before.ok()) return before.status();
  if (total <= before->partition_count) {
    return absl::InvalidArgumentError(absl::StrCat(
        "topic \"", name, "\" has ", before->partition_count,
        " partitions; the new total must be larger (partitions only grow), got ", total));
  }
  if (total > options_.max_partitions_per_topic) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partitions must be at most ", options_.max_partitions_per_topic, ", got ", total));
  }
  TopicState after = *before;
  after.partition_count = total;
  for (int32_t p = before->partition_count; p < total; ++p) {
    if (auto s = store_->CreatePartition(after.Key(p)); !s.ok()) return s;
  }
  if (auto s = Persist(after, {}); !s.ok()) return s;
  if (before_publish) before_publish(after);
  std::lock_guard<std::mutex> lock(mu_);
  topics_[name] = after;
  return std::make_pair(*std::move(before), std::move(after));
}

int32_t TopicRegistry::BrokerCount() const {
  const size_t nodes = store_->Nodes().size();
  return nodes == 0 ? 1 : static_cast<int32_t>(nodes);
}

absl::StatusOr<TopicRegistry::TopicChange> TopicRegistry::Refresh(
    const std::string& name, const BeforePublish& before_publish) {
  auto stored = store_->GetMetadata(TopicKey(name));
  if (!stored.ok()) return stored.status();
  TopicChange change;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = topics_.find(name); it != topics_.end()) change.before = it->second;
  }
  if (!stored->has_value()) {
    if (!change.before.has_value()) return change;
    {
      std::lock_guard<std::mutex> lock(mu_);
      topics_.erase(name);
    }
    for (int32_t p = 0; p < change.before->partition_count; ++p) {
      (void)store_->DeletePartition(change.before->Key(p));  // leftovers: Load collects them
    }
    return change;
  }
  auto after = DecodeTopicValue(name, **stored);
  if (!after.ok()) return after.status();
  if (change.before.has_value() && change.before->topic_id == after->topic_id) {
    after->round_robin = change.before->round_robin;
  }
  for (int32_t p = 0; p < after->partition_count; ++p) {
    if (auto s = store_->CreatePartition(after->Key(p)); !s.ok()) return s;
  }
  if (before_publish) before_publish(*after);
  std::lock_guard<std::mutex> lock(mu_);
  if (after->topic_id >= next_topic_id_) next_topic_id_ = after->topic_id + 1;
  topics_[name] = *after;
  change.after = *std::move(after);
  return change;
}

absl::StatusOr<TopicState> TopicRegistry::Get(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return TopicNotFound(name);
  return it->second;
}

std::vector<TopicState> TopicRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TopicState> out;
  out.reserve(topics_.size());
  for (const auto& [name, t] : topics_) out.push_back(t);
  std::sort(out.begin(), out.end(),
            [](const TopicState& a, const TopicState& b) { return a.name < b.name; });
  return out;
}

std::string TopicRegistry::NameOf(uint64_t topic_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, t] : topics_) {
    if (t.topic_id == topic_id) return name;
  }
  return "";
}

}  // namespace herald::broker
