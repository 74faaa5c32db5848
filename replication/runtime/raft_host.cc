#include "replication/runtime/raft_host.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace herald::replication {
namespace {

constexpr char kLeaderHintPayload[] = "type.herald.dev/raft.leader_hint";

}  // namespace

absl::Status WithLeaderHint(absl::Status status, NodeId leader) {
  if (leader != kNoNode) status.SetPayload(kLeaderHintPayload, absl::Cord(absl::StrCat(leader)));
  return status;
}

NodeId LeaderHint(const absl::Status& status) {
  auto payload = status.GetPayload(kLeaderHintPayload);
  NodeId leader = kNoNode;
  if (!payload) return kNoNode;
  const std::string text(*payload);
  if (!absl::SimpleAtoi(text, &leader)) return kNoNode;
  return leader;
}

RaftHost::RaftHost(RaftHostOptions options, Transport* transport, ApplyFn apply)
    : options_(std::move(options)), transport_(transport), apply_(std::move(apply)) {
  transport_->SetHandler([this](NodeId from, std::vector<GroupMessage> messages) {
    Deliver(from, std::move(messages));
  });
}

RaftHost::~RaftHost() { Stop(); }

absl::StatusOr<std::unique_ptr<RaftHost::Group>> RaftHost::MakeGroup(GroupOptions options) const {
  if (options.storage == nullptr) return absl::InvalidArgumentError("group without storage");
  RaftConfig config = options_.raft;
  config.id = options_.node_id;
  config.voters = options.voters;
  config.applied = options.applied;
  // Distinct per node and group, so election timeouts do not line up.
  config.seed = options_.node_id * 0x9E3779B97F4A7C15ull + options.group * 1000003ull + 1;
  auto group = std::make_unique<Group>();
  group->id = options.group;
  group->storage = std::move(options.storage);
  absl::StatusOr<std::unique_ptr<Raft>> raft = Raft::Create(config, &group->storage->log());
  if (!raft.ok()) return raft.status();
  group->raft = *std::move(raft);
  return group;
}

absl::Status RaftHost::AddGroup(GroupOptions options) {
  const GroupId id = options.group;
  absl::StatusOr<std::unique_ptr<Group>> group = MakeGroup(std::move(options));
  if (!group.ok()) return group.status();
  bool started;
  {
    absl::MutexLock lock(&mu_);
    started = started_;
  }
  if (!started) {  // the loop is not running: groups_ is ours
    if (!groups_.emplace(id, *std::move(group)).second) {
      return absl::AlreadyExistsError(absl::StrCat("group ", id));
    }
    return absl::OkStatus();
  }
  auto done = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> result = done->get_future();
  auto owned = std::make_shared<std::unique_ptr<Group>>(*std::move(group));
  Post([this, id, owned, done](const absl::Status& refused) {
    if (!refused.ok()) return done->set_value(refused);
    bool added = groups_.emplace(id, std::move(*owned)).second;
    if (added) PublishStatus();  // visible to GetGroupStatus once AddGroup returns
    done->set_value(added ? absl::OkStatus()
                          : absl::AlreadyExistsError(absl::StrCat("group ", id)));
  });
  return result.get();
}

absl::Status RaftHost::RemoveGroup(GroupId group) {
  auto done = std::make_shared<std::promise<absl::Status>>();
  std::future<absl::Status> result = done->get_future();
  Post([this, group, done](const absl::Status& refused) {
    if (!refused.ok()) return done->set_value(refused);
    auto it = groups_.find(group);
    if (it == groups_.end())
      return done->set_value(absl::NotFoundError(absl::StrCat("group ", group)));
    std::unique_ptr<Group> removed = std::move(it->second);
    groups_.erase(it);
    for (auto& [index, pending] : removed->pending) {
      pending.done(absl::UnavailableError(absl::StrCat("group ", group, " was removed")));
    }
    {
      absl::MutexLock lock(&status_mu_);
      status_.erase(group);
    }
    done->set_value(absl::OkStatus());
  });
  return result.get();
}

void RaftHost::Start() {
  absl::MutexLock lock(&mu_);
  if (started_ || stopping_) return;
  started_ = true;
  PublishStatus();
  thread_ = std::thread([this] { Run(); });
}

void RaftHost::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  Shutdown();
}

// Runs after the loop has exited (or never started): fails every callback.
void RaftHost::Shutdown() {
  std::vector<Task> tasks;
  {
    absl::MutexLock lock(&mu_);
    tasks.swap(tasks_);
    inbound_.clear();
    inbound_bytes_ = 0;
  }
  for (Task& task : tasks) task(absl::UnavailableError("raft host stopped"));
  for (auto& [id, g] : groups_) {
    for (auto& [index, p] : g->pending) p.done(absl::UnavailableError("raft host stopping"));
    g->pending.clear();
  }
}

void RaftHost::Post(Task task) {
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::UnavailableError("raft host stopped");
    } else if (tasks_.size() >= options_.max_queued_tasks) {
      refused = absl::ResourceExhaustedError("raft host task queue full");
    } else {
      tasks_.push_back(std::move(task));
      return;
    }
  }
  task(refused);  // outside mu_: the callback may call back into the host
}

void RaftHost::Deliver(NodeId from, std::vector<GroupMessage> messages) {
  absl::MutexLock lock(&mu_);
  for (GroupMessage& m : messages) {
    const size_t bytes = ApproxMessageBytes(m.msg);
    if (stopping_ || inbound_.size() >= options_.max_inbound_msgs ||
        (!inbound_.empty() && inbound_bytes_ + bytes > options_.max_inbound_bytes)) {
      ++stats_.inbound_dropped_full;
      continue;
    }
    inbound_bytes_ += bytes;
    inbound_.push_back(std::move(m));
  }
}

void RaftHost::Propose(GroupId group, std::string data, ProposeCallback done) {
  auto shared_data = std::make_shared<std::string>(std::move(data));
  Post([this, group, shared_data, done = std::move(done)](const absl::Status& refused) {
    if (!refused.ok()) return done(refused);
    DoPropose(group, std::move(*shared_data), done);
  });
}

std::future<absl::StatusOr<uint64_t>> RaftHost::Propose(GroupId group, std::string data) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<uint64_t>>>();
  std::future<absl::StatusOr<uint64_t>> result = promise->get_future();
  Propose(group, std::move(data),
          [promise](absl::StatusOr<uint64_t> index) { promise->set_value(std::move(index)); });
  return result;
}

void RaftHost::TransferLeadership(GroupId group, NodeId target, DoneCallback done) {
  Post([this, group, target, done = std::move(done)](const absl::Status& refused) {
    if (!refused.ok()) return done(refused);
    auto it = groups_.find(group);
    if (it == groups_.end()) return done(absl::NotFoundError(absl::StrCat("group ", group)));
    if (!it->second->failed.ok()) return done(it->second->failed);
    done(it->second->raft->TransferLeadership(target));
  });
}

void RaftHost::WithStorage(GroupId group, StorageFn fn, DoneCallback done) {
  Post([this, group, fn = std::move(fn), done = std::move(done)](const absl::Status& refused) {
    if (!refused.ok()) return done(refused);
    auto it = groups_.find(group);
    if (it == groups_.end()) return done(absl::NotFoundError(absl::StrCat("group ", group)));
    Group& g = *it->second;
    if (!g.failed.ok()) return done(g.failed);
    done(fn(*g.storage, g.raft->log().applied()));
  });
}

absl::StatusOr<GroupStatus> RaftHost::GetGroupStatus(GroupId group) const {
  absl::MutexLock lock(&status_mu_);
  auto it = status_.find(group);
  if (it == status_.end()) return absl::NotFoundError(absl::StrCat("group ", group));
  return it->second;
}

RaftHostStats RaftHost::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace herald::replication
