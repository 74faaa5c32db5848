#include "cli/commands.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <istream>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/format.h"
#include "herald/client/admin.h"
#include "herald/client/consumer.h"
#include "herald/client/producer.h"

namespace herald::cli {
namespace {

using client::Admin;

struct Args {
  std::string brokers = "localhost:7420";
  int64_t timeout_ms = 10'000;
  std::string topic;
  int32_t partitions = 0;
  int32_t replicas = 0;
  std::vector<std::string> configs;
  int32_t total_partitions = 0;
  std::string key_separator;
  std::vector<std::string> headers;
  int32_t partition = -1;
  std::string acks = "all";
  std::string from = "earliest";
  int64_t count = -1;
  bool follow = false;
  std::string format = "%v";
  std::string group;
  std::vector<std::string> offsets;
  std::string reset_to;  // group reset: earliest | latest | OFFSET | @TIMESTAMP_MS
  int64_t shift_by = 0;
  bool dry_run = false;
};

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

// A failure reported by the server (or the connection to it).
int Fail(const absl::Status& status, Io& io) {
  io.err << ErrorLine(status) << "\n";
  return kExitServerError;
}

int UsageError(const std::string& message, Io& io) {
  io.err << "error: " << message << "\n";
  return kExitUsage;
}

client::ConnectionOptions Connection(const Args& a) {
  client::ConnectionOptions c;
  c.brokers = a.brokers;
  c.rpc_timeout_ms = a.timeout_ms;
  return c;
}

absl::StatusOr<std::unique_ptr<Admin>> MakeAdmin(const Args& a) {
  client::AdminOptions options;
  options.connection = Connection(a);
  return Admin::Create(options);
}

absl::StatusOr<v1::TopicConfig> ConfigFromArgs(const Args& a) {
  std::map<std::string, std::string> entries;
  for (const std::string& c : a.configs) {
    auto kv = ParseKeyValue(c);
    if (!kv.ok()) return absl::InvalidArgumentError(absl::StrCat("-c ", kv.status().message()));
    entries[kv->first] = kv->second;
  }
  auto config = client::ParseTopicConfig(entries);
  return config;
}

void PrintConfig(const v1::TopicConfig& c, std::ostream& out) {
  if (c.has_retention_ms()) out << "  retention_ms       " << c.retention_ms() << "\n";
  if (c.has_retention_bytes()) out << "  retention_bytes    " << c.retention_bytes() << "\n";
  if (c.has_max_message_bytes()) out << "  max_message_bytes  " << c.max_message_bytes() << "\n";
  if (c.has_timestamp_type()) {
    out << "  timestamp_type     "
        << (c.timestamp_type() == v1::TIMESTAMP_TYPE_LOG_APPEND_TIME ? "log_append_time"
                                                                     : "create_time")
        << "\n";
  }
}

void PrintTopic(const v1::TopicDescription& t, std::ostream& out) {
  out << "name                 " << t.name() << "\n"
      << "id                   " << t.topic_id() << "\n"
      << "replication_factor   " << t.replication_factor() << "\n"
      << "partitions           " << t.partitions_size() << "\n"
      << "config\n";
  PrintConfig(t.config(), out);
  out << "PARTITION  LEADER  EPOCH  LOG_START  HIGH_WATERMARK  SIZE_BYTES\n";
  for (const auto& p : t.partitions()) {
    out << absl::StrCat(p.partition(), "  ", p.leader(), "  ", p.leader_epoch(), "  ",
                        p.log_start_offset(), "  ", p.high_watermark(), "  ", p.size_bytes())
        << "\n";
  }
}

int TopicCreate(const Args& a, Io& io) {
  auto config = ConfigFromArgs(a);
  if (!config.ok()) return UsageError(std::string(config.status().message()), io);
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto topic = (*admin)->CreateTopic(a.topic, a.partitions, a.replicas, *config);
  if (!topic.ok()) return Fail(topic.status(), io);
  io.out << "created topic " << a.topic << "\n";
  return kExitOk;
}

int TopicList(const Args& a, Io& io) {
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto topics = (*admin)->ListTopics();
  if (!topics.ok()) return Fail(topics.status(), io);
  io.out << "NAME  PARTITIONS  REPLICAS\n";
  for (const auto& t : *topics) {
    io.out << t.name() << "  " << t.partitions() << "  " << t.replication_factor() << "\n";
  }
  return kExitOk;
}

int TopicDescribe(const Args& a, Io& io) {
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto topic = (*admin)->DescribeTopic(a.topic);
  if (!topic.ok()) return Fail(topic.status(), io);
  PrintTopic(*topic, io.out);
  return kExitOk;
}

int TopicAlter(const Args& a, Io& io) {
  if (a.configs.empty()) return UsageError("topic alter: give at least one -c key=value", io);
  auto config = ConfigFromArgs(a);
  if (!config.ok()) return UsageError(std::string(config.status().message()), io);
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto effective = (*admin)->AlterTopicConfig(a.topic, *config);
  if (!effective.ok()) return Fail(effective.status(), io);
  io.out << "altered topic " << a.topic << "\n";
  PrintConfig(*effective, io.out);
  return kExitOk;
}

int TopicDelete(const Args& a, Io& io) {
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  if (auto s = (*admin)->DeleteTopic(a.topic); !s.ok()) return Fail(s, io);
  io.out << "deleted topic " << a.topic << "\n";
  return kExitOk;
}

int TopicAddPartitions(const Args& a, Io& io) {
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto topic = (*admin)->CreatePartitions(a.topic, a.total_partitions);
  if (!topic.ok()) return Fail(topic.status(), io);
  io.out << "topic " << a.topic << " now has " << topic->partitions_size() << " partitions\n";
  return kExitOk;
}

// Collects the first delivery failure of an asynchronous produce.
class FirstError {
 public:
  void Record(const absl::Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.ok()) status_ = s;
    failed_.store(true);
  }
  bool failed() const { return failed_.load(); }
  absl::Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  std::mutex mu_;
  absl::Status status_;
  std::atomic<bool> failed_{false};
};

int Produce(const Args& a, Io& io) {
  auto acks = ParseAcks(a.acks);
  if (!acks.ok()) return UsageError(std::string(acks.status().message()), io);
  std::vector<client::Header> headers;
  for (const std::string& h : a.headers) {
    auto kv = ParseKeyValue(h);
    if (!kv.ok()) return UsageError(absl::StrCat("--header ", kv.status().message()), io);
    headers.push_back({kv->first, kv->second});
  }
  client::ProducerOptions options;
  options.connection = Connection(a);
  options.acks = *acks;
  auto producer = client::Producer::Create(options);
  if (!producer.ok()) return Fail(producer.status(), io);
  FirstError errors;
  std::atomic<int64_t> delivered{0};
  std::optional<int32_t> partition;
  if (a.partition >= 0) partition = a.partition;
  std::string line;
  while (!errors.failed() && std::getline(io.in, line)) {
    auto [key, value] = SplitKeyValue(line, a.key_separator);
    client::Record record{std::move(key), std::move(value), headers, 0};
    (*producer)->Send(a.topic, std::move(record), partition, [&](const client::DeliveryResult& r) {
      if (r.ok()) {
        delivered.fetch_add(1);
      } else {
        errors.Record(r.status());
      }
    });
  }
  absl::Status flushed = (*producer)->Flush(options.delivery_timeout_ms);
  (*producer)->Close(0);
  if (errors.failed()) return Fail(errors.status(), io);
  if (!flushed.ok()) return Fail(flushed, io);
  return kExitOk;
}

// Where each partition starts and (without --follow) ends.
struct ConsumePlan {
  std::vector<std::pair<client::TopicPartition, client::StartPosition>> starts;
  std::map<int32_t, int64_t> end_offsets;  // partitions still to read up to
};

absl::StatusOr<ConsumePlan> PlanConsume(const Args& a, client::StartPosition from, Admin& admin) {
  auto topic = admin.DescribeTopic(a.topic);
  if (!topic.ok()) return topic.status();
  std::vector<int32_t> partitions;
  for (const auto& p : topic->partitions()) {
    if (a.partition < 0 || p.partition() == a.partition) partitions.push_back(p.partition());
  }
  if (partitions.empty()) {
    return absl::NotFoundError(absl::StrCat("partition ", a.partition, " of topic \"", a.topic,
                                            "\" does not exist (", topic->partitions_size(),
                                            " partitions)"));
  }
  auto ends = admin.ListOffsets(a.topic, partitions, client::StartPosition::Latest());
  if (!ends.ok()) return ends.status();
  // Resolve named and timestamp starts to offsets up front, so "earliest"
  // and "latest" mean the log as it was when the command started.
  std::map<int32_t, int64_t> start_offsets;
  if (from.kind != client::StartPosition::Kind::kOffset) {
    auto starts = admin.ListOffsets(a.topic, partitions, from);
    if (!starts.ok()) return starts.status();
    for (const auto& s : *starts) start_offsets[s.partition] = s.offset;
  }
  ConsumePlan plan;
  for (const auto& e : *ends) {
    // An explicit offset applies to every partition, clamped to each log.
    int64_t start = from.kind == client::StartPosition::Kind::kOffset
                        ? std::clamp(from.value, e.log_start_offset, e.high_watermark)
                        : (start_offsets.count(e.partition) ? start_offsets[e.partition] : 0);
    plan.starts.push_back({{a.topic, e.partition}, client::StartPosition::Offset(start)});
    if (start < e.high_watermark) plan.end_offsets[e.partition] = e.high_watermark;
  }
  return plan;
}

// A group member: prints what the group assigns it and commits after
// printing (at-least-once), until Ctrl-C or --count records.
int ConsumeGroup(const Args& a, const client::StartPosition& reset, Io& io) {
  client::ConsumerOptions options;
  options.connection = Connection(a);
  options.group = a.group;
  auto consumer = client::Consumer::Create(options);
  if (!consumer.ok()) return Fail(consumer.status(), io);
  client::RebalanceListener listener;
  listener.on_assigned = [&io](const std::vector<client::TopicPartition>& owned) {
    io.err << "assigned " << owned.size() << " partition(s)\n";
  };
  if (auto s = (*consumer)->SubscribeGroup({a.topic}, reset, listener); !s.ok()) {
    return Fail(s, io);
  }
  int64_t printed = 0;
  while (a.count < 0 || printed < a.count) {
    auto records = (*consumer)->Poll(200, a.count < 0 ? 500 : a.count - printed);
    if (!records.ok()) return Fail(records.status(), io);
    for (const client::ConsumedRecord& r : *records) {
      io.out << (a.format == "json" ? JsonRecord(r) : FormatRecord(a.format, r)) << "\n";
      ++printed;
    }
    io.out.flush();
    if (!records->empty()) {
      if (auto s = (*consumer)->CommitPositions(); !s.ok()) return Fail(s, io);
    }
  }
  return kExitOk;
}

int Consume(const Args& a, Io& io) {
  auto from = ParseFrom(a.from);
  if (!from.ok()) return UsageError(std::string(from.status().message()), io);
  if (!a.group.empty()) {
    if (from->kind != client::StartPosition::Kind::kEarliest &&
        from->kind != client::StartPosition::Kind::kLatest) {
      return UsageError(
          "with --group, --from is earliest or latest (for partitions with no commit)", io);
    }
    return ConsumeGroup(a, *from, io);
  }
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto plan = PlanConsume(a, *from, **admin);
  if (!plan.ok()) return Fail(plan.status(), io);
  if (a.count == 0 || (!a.follow && plan->end_offsets.empty())) return kExitOk;
  client::ConsumerOptions options;
  options.connection = Connection(a);
  auto consumer = client::Consumer::Create(options);
  if (!consumer.ok()) return Fail(consumer.status(), io);
  if (auto s = (*consumer)->Assign(plan->starts); !s.ok()) return Fail(s, io);
  int64_t printed = 0;
  while (true) {
    auto records = (*consumer)->Poll(200);
    if (!records.ok()) return Fail(records.status(), io);
    for (const client::ConsumedRecord& r : *records) {
      auto end = plan->end_offsets.find(r.partition);
      if (!a.follow && (end == plan->end_offsets.end() || r.offset >= end->second)) continue;
      io.out << (a.format == "json" ? JsonRecord(r) : FormatRecord(a.format, r)) << "\n";
      if (a.count > 0 && ++printed >= a.count) return io.out.flush(), kExitOk;
      if (!a.follow && r.offset + 1 >= end->second) plan->end_offsets.erase(end);
    }
    io.out.flush();
    if (!a.follow && plan->end_offsets.empty()) return kExitOk;
  }
}

int OffsetsList(const Args& a, Io& io) {
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto offsets = (*admin)->ListOffsets(a.topic, {}, client::StartPosition::Earliest());
  if (!offsets.ok()) return Fail(offsets.status(), io);
  io.out << "PARTITION  LOG_START  HIGH_WATERMARK\n";
  for (const auto& o : *offsets) {
    io.out << o.partition << "  " << o.log_start_offset << "  " << o.high_watermark << "\n";
  }
  return kExitOk;
}

int OffsetsCommit(const Args& a, Io& io) {
  std::vector<client::PartitionOffset> offsets;
  for (const std::string& text : a.offsets) {
    auto kv = ParseKeyValue(text);
    int32_t partition = 0;
    int64_t offset = 0;
    if (!kv.ok() || !absl::SimpleAtoi(kv->first, &partition) ||
        !absl::SimpleAtoi(kv->second, &offset)) {
      return UsageError(absl::StrCat("--offset \"", text, "\": expected PARTITION=OFFSET"), io);
    }
    offsets.push_back({a.topic, partition, offset, ""});
  }
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  if (auto s = (*admin)->CommitOffsets(a.group, offsets); !s.ok()) return Fail(s, io);
  io.out << "committed " << offsets.size() << " offsets for group " << a.group << "\n";
  return kExitOk;
}

int OffsetsGet(const Args& a, Io& io) {
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto offsets = (*admin)->FetchCommittedOffsets(a.group, {});
  if (!offsets.ok()) return Fail(offsets.status(), io);
  io.out << "TOPIC  PARTITION  OFFSET\n";
  for (const auto& o : *offsets) {
    if (!a.topic.empty() && o.topic != a.topic) continue;
    io.out << o.topic << "  " << o.partition << "  " << o.offset << "\n";
  }
  return kExitOk;
}

int GroupList(const Args& a, Io& io) {
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto groups = (*admin)->ListGroups();
  if (!groups.ok()) return Fail(groups.status(), io);
  io.out << "GROUP  STATE  MEMBERS\n";
  for (const auto& g : groups->groups()) {
    io.out << g.group() << "  " << g.state() << "  " << g.members() << "\n";
  }
  return kExitOk;
}

int GroupDescribe(const Args& a, Io& io) {
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto g = (*admin)->DescribeGroup(a.group);
  if (!g.ok()) return Fail(g.status(), io);
  io.out << "group       " << g->group() << "\nstate       " << g->state() << "\ngeneration  "
         << g->generation() << "\nstrategy    " << g->strategy()
         << "\nMEMBER  INSTANCE  CLIENT  HOST  PARTITIONS\n";
  for (const auto& m : g->members()) {
    io.out << m.member_id() << "  " << (m.instance_id().empty() ? "-" : m.instance_id()) << "  "
           << (m.client_id().empty() ? "-" : m.client_id()) << "  " << m.host() << "  ";
    for (const auto& tp : m.assignment()) io.out << tp.topic() << "/" << tp.partition() << " ";
    io.out << "\n";
  }
  io.out << "TOPIC  PARTITION  COMMITTED  HIGH_WATERMARK  LAG  OWNER\n";
  for (const auto& p : g->partitions()) {
    io.out << p.topic() << "  " << p.partition() << "  " << p.committed_offset() << "  "
           << p.high_watermark() << "  " << p.lag() << "  "
           << (p.owner_member_id().empty() ? "-" : p.owner_member_id()) << "\n";
  }
  return kExitOk;
}

int GroupDelete(const Args& a, Io& io) {
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  if (auto s = (*admin)->DeleteGroup(a.group); !s.ok()) return Fail(s, io);
  io.out << "deleted group " << a.group << "\n";
  return kExitOk;
}

v1::StartPosition ResetPosition(const client::StartPosition& to) {
  v1::StartPosition out;
  switch (to.kind) {
    case client::StartPosition::Kind::kEarliest:
      out.set_named(v1::StartPosition::NAMED_EARLIEST);
      break;
    case client::StartPosition::Kind::kLatest:
      out.set_named(v1::StartPosition::NAMED_LATEST);
      break;
    case client::StartPosition::Kind::kCommitted:
      out.set_named(v1::StartPosition::NAMED_COMMITTED);
      break;
    case client::StartPosition::Kind::kOffset:
      out.set_offset(to.value);
      break;
    case client::StartPosition::Kind::kTimestamp:
      out.set_timestamp_ms(to.value);
      break;
  }
  return out;
}

int GroupReset(const Args& a, Io& io) {
  v1::ResetGroupOffsetsRequest request;
  request.set_group(a.group);
  request.set_topic(a.topic);
  request.set_dry_run(a.dry_run);
  if (a.reset_to.empty() == (a.shift_by == 0)) {
    return UsageError("give exactly one of --to or --shift-by", io);
  }
  if (!a.reset_to.empty()) {
    auto to = ParseFrom(a.reset_to);
    if (!to.ok()) return UsageError(std::string(to.status().message()), io);
    *request.mutable_position() = ResetPosition(*to);
  } else {
    request.set_shift_by(a.shift_by);
  }
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto reset = (*admin)->ResetGroupOffsets(request);
  if (!reset.ok()) return Fail(reset.status(), io);
  io.out << (a.dry_run ? "would reset (dry run)\n" : "reset\n")
         << "TOPIC  PARTITION  PREVIOUS  NEW\n";
  for (const auto& r : reset->offsets()) {
    io.out << r.topic() << "  " << r.partition() << "  " << r.previous_offset() << "  "
           << r.new_offset() << "\n";
  }
  return kExitOk;
}

int ClusterInfo(const Args& a, Io& io) {
  auto admin = MakeAdmin(a);
  if (!admin.ok()) return Fail(admin.status(), io);
  auto cluster = (*admin)->DescribeCluster();
  if (!cluster.ok()) return Fail(cluster.status(), io);
  io.out << "cluster_id     " << cluster->cluster_id() << "\n"
         << "controller_id  " << cluster->controller_id() << "\n"
         << "version        " << cluster->version() << "\n"
         << "ID  ADDRESS  RACK\n";
  for (const auto& b : cluster->brokers()) {
    io.out << b.id() << "  " << b.address() << "  " << b.rack() << "\n";
  }
  return kExitOk;
}

using Handler = std::function<int(const Args&, Io&)>;
using Commands = std::vector<std::pair<CLI::App*, Handler>>;

void AddTopicCommands(CLI::App& app, Args& a, Commands* commands) {
  CLI::App* topic = app.add_subcommand("topic", "Create, list, describe, alter and delete topics");
  topic->require_subcommand(1);
  CLI::App* create = topic->add_subcommand("create", "Create a topic");
  create->add_option("name", a.topic, "Topic name")->required();
  create->add_option("-p,--partitions", a.partitions, "Partitions (0: broker default)");
  create->add_option("-r,--replicas", a.replicas, "Replication factor (0: broker default)");
  create->add_option("-c,--config", a.configs,
                     "key=value (retention_ms, retention_bytes, "
                     "max_message_bytes, timestamp_type)");
  commands->push_back({create, TopicCreate});
  commands->push_back({topic->add_subcommand("list", "List topics"), TopicList});
  CLI::App* describe = topic->add_subcommand("describe", "Show a topic's partitions and config");
  describe->add_option("name", a.topic, "Topic name")->required();
  commands->push_back({describe, TopicDescribe});
  CLI::App* alter = topic->add_subcommand("alter", "Change a topic's config");
  alter->add_option("name", a.topic, "Topic name")->required();
  alter->add_option("-c,--config", a.configs, "key=value")->required();
  commands->push_back({alter, TopicAlter});
  CLI::App* del = topic->add_subcommand("delete", "Delete a topic and its records");
  del->add_option("name", a.topic, "Topic name")->required();
  commands->push_back({del, TopicDelete});
  CLI::App* add = topic->add_subcommand("add-partitions", "Grow a topic's partition count");
  add->add_option("name", a.topic, "Topic name")->required();
  add->add_option("--total", a.total_partitions, "New total partition count")->required();
  commands->push_back({add, TopicAddPartitions});
}

void AddDataCommands(CLI::App& app, Args& a, Commands* commands) {
  CLI::App* produce = app.add_subcommand("produce", "Produce one record per stdin line");
  produce->add_option("topic", a.topic, "Topic name")->required();
  produce->add_option("--key-separator", a.key_separator,
                      "Split each line into key and value at the first SEP");
  produce->add_option("-H,--header", a.headers, "Header k=v (repeatable)");
  produce->add_option("--partition", a.partition, "Target partition (default: by key / sticky)");
  produce->add_option("--acks", a.acks, "none | leader | all")->capture_default_str();
  commands->push_back({produce, Produce});
  CLI::App* consume = app.add_subcommand("consume", "Print records of a topic");
  consume->add_option("topic", a.topic, "Topic name")->required();
  consume->add_option("--partition", a.partition, "Only this partition");
  consume->add_option("--from", a.from, "earliest | latest | OFFSET | @TIMESTAMP_MS")
      ->capture_default_str();
  consume->add_option("-n,--count", a.count, "Stop after COUNT records");
  consume->add_option("-g,--group", a.group,
                      "Join this consumer group (partitions assigned by the broker, "
                      "commits after printing; --from applies where nothing is committed)");
  consume->add_flag("-f,--follow", a.follow, "Keep waiting for new records");
  consume
      ->add_option("--format", a.format,
                   "json, or a template: %t topic %p partition %o offset %T timestamp "
                   "%k key %v value %h headers")
      ->capture_default_str();
  commands->push_back({consume, Consume});
}

void AddGroupCommands(CLI::App& app, Args& a, Commands* commands) {
  CLI::App* group = app.add_subcommand("group", "Consumer groups");
  group->require_subcommand(1);
  commands->push_back({group->add_subcommand("list", "Groups, their state and size"), GroupList});
  CLI::App* describe =
      group->add_subcommand("describe", "Members, assignments, committed offsets and lag");
  describe->add_option("group", a.group, "Group")->required();
  commands->push_back({describe, GroupDescribe});
  CLI::App* del = group->add_subcommand("delete", "Delete a group with no members");
  del->add_option("group", a.group, "Group")->required();
  commands->push_back({del, GroupDelete});
  CLI::App* reset = group->add_subcommand("reset", "Move a group's offsets (no members)");
  reset->add_option("group", a.group, "Group")->required();
  reset->add_option("topic", a.topic, "Topic")->required();
  reset->add_option("--to", a.reset_to, "earliest | latest | OFFSET | @TIMESTAMP_MS");
  reset->add_option("--shift-by", a.shift_by, "Move each committed offset by N (may be < 0)");
  reset->add_flag("--dry-run", a.dry_run, "Show the new offsets without committing them");
  commands->push_back({reset, GroupReset});
}

void AddOffsetAndClusterCommands(CLI::App& app, Args& a, Commands* commands) {
  CLI::App* offsets = app.add_subcommand("offsets", "Partition and committed offsets");
  offsets->require_subcommand(1);
  CLI::App* list = offsets->add_subcommand("list", "Log start and high watermark per partition");
  list->add_option("topic", a.topic, "Topic name")->required();
  commands->push_back({list, OffsetsList});
  CLI::App* commit = offsets->add_subcommand("commit", "Commit offsets for a group");
  commit->add_option("--group", a.group, "Group")->required();
  commit->add_option("topic", a.topic, "Topic name")->required();
  commit->add_option("-o,--offset", a.offsets, "PARTITION=OFFSET (next offset to read)")
      ->required();
  commands->push_back({commit, OffsetsCommit});
  CLI::App* get = offsets->add_subcommand("get", "Show a group's committed offsets");
  get->add_option("--group", a.group, "Group")->required();
  get->add_option("topic", a.topic, "Only this topic");
  commands->push_back({get, OffsetsGet});
  CLI::App* cluster = app.add_subcommand("cluster", "Cluster information");
  cluster->require_subcommand(1);
  commands->push_back({cluster->add_subcommand("info", "Brokers and cluster id"), ClusterInfo});
}

}  // namespace

int Run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err) {
  Args a;
  Io io{in, out, err};
  CLI::App app{"herald: command line client for Herald brokers"};
  app.require_subcommand(1);
  app.add_option("--brokers", a.brokers, "Broker host:port")
      ->envname("HERALD_BROKERS")
      ->capture_default_str();
  app.add_option("--timeout-ms", a.timeout_ms, "Deadline of each admin call")
      ->capture_default_str();
  Commands commands;
  AddTopicCommands(app, a, &commands);
  AddDataCommands(app, a, &commands);
  AddOffsetAndClusterCommands(app, a, &commands);
  AddGroupCommands(app, a, &commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? kExitOk : kExitUsage;
  }
  for (const auto& [command, handler] : commands) {
    if (command->parsed()) return handler(a, io);
  }
  return UsageError("no command given (see --help)", io);
}

}  // namespace herald::cli
