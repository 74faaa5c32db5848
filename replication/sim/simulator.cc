#include "replication/sim/simulator.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "replication/sim/checker.h"
#include "replication/sim/sim_disk.h"

namespace herald::replication::sim {
namespace {

constexpr size_t kMaxInFlightMessages = 10000;  // the simulated network's buffer

// splitmix64: tiny, fast and good enough to drive a simulation.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  bool Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Below(i)]);
  }

 private:
  uint64_t state_;
};

struct SimNode {
  NodeId id = kNoNode;
  SimDisk disk;
  std::unique_ptr<Raft> raft;  // null while down
  uint64_t incarnation = 0;
  int group = 0;  // partition side
};

struct InFlight {
  uint64_t deliver_at = 0;
  Message message;
};

struct Proposer {
  NodeId node = kNoNode;
  uint64_t incarnation = 0;
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& options)
      : o_(options),
        rng_(options.seed),
        checker_(FoundingVoters(options), options.check_commit_rule) {
    for (int i = 1; i <= o_.nodes + o_.spare_nodes; ++i) {
      auto n = std::make_unique<SimNode>();
      n->id = static_cast<NodeId>(i);
      nodes_.push_back(std::move(n));
    }
    for (auto& n : nodes_) Restart(*n);
  }

  SimResult Run();

  static std::vector<NodeId> FoundingVoters(const SimOptions& o) {
    std::vector<NodeId> voters;
    for (int i = 1; i <= o.nodes; ++i) voters.push_back(static_cast<NodeId>(i));
    return voters;
  }

 private:
  void Step(bool faults);
  void InjectFaults();
  void ProposeConfChange();
  // Proposes to the leader with probability to_leader, else to any node.
  void ProposeRandom(const std::string& data, double to_leader = 0.7);
  void DeliverDue();
  void HandleReady(SimNode& n);
  void SendAll(std::vector<Message> messages);
  void Crash(SimNode& n);
  void Restart(SimNode& n);
  void Check();
  std::vector<NodeView> Views() const;
  SimNode* RandomNode(bool up);
  SimNode* Leader();

  SimOptions o_;
  Rng rng_;
  Checker checker_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::vector<InFlight> network_;
  uint64_t now_ = 0;
  uint64_t next_value_ = 0;
  std::map<std::string, Proposer> pending_;
  std::set<std::string> acked_;
  std::set<uint64_t> leader_terms_;
  int crashes_ = 0;
};

SimNode* Simulation::RandomNode(bool up) {
  std::vector<SimNode*> pick;
  for (auto& n : nodes_) {
    if ((n->raft != nullptr) == up) pick.push_back(n.get());
  }
  return pick.empty() ? nullptr : pick[rng_.Below(pick.size())];
}

SimNode* Simulation::Leader() {
  for (auto& n : nodes_) {
    if (n->raft && n->raft->role() == RaftRole::kLeader) return n.get();
  }
  return nullptr;
}

std::vector<NodeView> Simulation::Views() const {
  std::vector<NodeView> views;
  for (const auto& n : nodes_)
    views.push_back({n->id, n->incarnation, n->raft.get(), &n->disk.durable()});
  return views;
}

void Simulation::Restart(SimNode& n) {
  ++n.incarnation;
  RaftConfig c;
  c.id = n.id;
  // Founding members bootstrap with the founding voters; spare nodes with
  // none (they learn the config from the leader).
  if (n.id <= static_cast<NodeId>(o_.nodes)) c.voters = FoundingVoters(o_);
  c.seed = o_.seed * 31 + n.incarnation;
  c.max_msg_entries = o_.max_msg_entries;
  c.testing = o_.raft_knobs;
  absl::StatusOr<std::unique_ptr<Raft>> raft = Raft::Create(c, &n.disk);
  if (!raft.ok()) {
    checker_.Fail(absl::StrCat("node ", n.id, " cannot restart: ", raft.status().ToString()));
    return;
  }
  n.raft = std::move(*raft);
  checker_.OnRestart(n.id, n.disk.Snapshot().index);
}

void Simulation::Crash(SimNode& n) {
  // Power loss: some unsynced batches may have reached the platter.
  const size_t unsynced = n.disk.unsynced_batches();
  std::optional<size_t> torn;
  if (o_.torn_writes && rng_.Chance(0.5)) torn = rng_.Below(1 + 2 * o_.max_msg_entries);
  n.disk.Crash(rng_.Below(unsynced + 1), torn);
  n.raft.reset();
  ++crashes_;
}

void Simulation::SendAll(std::vector<Message> messages) {
  for (Message& m : messages) {
    if (rng_.Chance(o_.drop)) continue;
    const int copies = rng_.Chance(o_.duplicate) ? 2 : 1;
    for (int i = 0; i < copies && network_.size() < kMaxInFlightMessages; ++i) {
      network_.push_back({now_ + rng_.Below(o_.max_delay_steps + 1), m});
    }
  }
}

void Simulation::HandleReady(SimNode& n) {
  Ready rd = n.raft->GetReady();
  DiskBatch batch{rd.snapshot, rd.entries, rd.hard_state};
  if (batch.snapshot || !batch.entries.empty() || batch.hard_state) {
    if (absl::Status s = n.disk.Write(std::move(batch)); !s.ok()) {
      return checker_.Fail(absl::StrCat("node ", n.id, " Ready not writable: ", s.ToString()));
    }
  }
  if (rd.snapshot) checker_.OnRestart(n.id, rd.snapshot->index);
  if (o_.send_before_persist) SendAll(rd.messages);
  // Power loss before the sync, or a failed fsync: both stop the node (a
  // failed fsync is fatal: retrying it may "succeed" without the data).
  if (rng_.Chance(o_.crash_in_ready) || rng_.Chance(o_.io_error)) return Crash(n);
  n.disk.Sync();
  if (!o_.send_before_persist) SendAll(std::move(rd.messages));
  for (const Entry& e : rd.committed_entries) {
    checker_.OnApplied(n.id, n.raft->term(), e);
    auto it = pending_.find(e.data);
    if (e.type == EntryType::kNormal && it != pending_.end() && it->second.node == n.id &&
        it->second.incarnation == n.incarnation) {
      acked_.insert(e.data);
      pending_.erase(it);
      checker_.OnAck(e, Views());
    }
  }
  n.raft->Advance(rd);
}

void Simulation::DeliverDue() {
  std::vector<Message> due;
  auto keep = std::partition(network_.begin(), network_.end(),
                             [this](const InFlight& f) { return f.deliver_at > now_; });
  for (auto it = keep; it != network_.end(); ++it) due.push_back(std::move(it->message));
  network_.erase(keep, network_.end());
  rng_.Shuffle(due);
  for (const Message& m : due) {
    SimNode& to = *nodes_[m.to - 1];
    if (!to.raft || to.group != nodes_[m.from - 1]->group) continue;
    absl::Status s = to.raft->Step(m);
    // A node failure shows in status(), which Check() reports; our own nodes
    // never send malformed messages, so a refusal is a bug too.
    if (!s.ok() && to.raft->status().ok()) {
      checker_.Fail(
          absl::StrCat("node ", m.to, " refused ", MessageTypeName(m.type), ": ", s.ToString()));
    }
  }
}

void Simulation::ProposeRandom(const std::string& data, double to_leader) {
  SimNode* n = rng_.Chance(to_leader) ? Leader() : nullptr;
  if (n == nullptr) n = RandomNode(/*up=*/true);
  if (n == nullptr) return;
  if (n->raft->Propose(data).ok()) pending_[data] = {n->id, n->incarnation};
}

void Simulation::InjectFaults() {
  if (rng_.Chance(o_.crash)) {
    if (SimNode* n = RandomNode(/*up=*/true)) Crash(*n);
  }
  if (rng_.Chance(o_.restart)) {
    if (SimNode* n = RandomNode(/*up=*/false)) Restart(*n);
  }
  if (rng_.Chance(o_.partition)) {
    for (auto& n : nodes_) n->group = static_cast<int>(rng_.Below(2));
  }
  if (rng_.Chance(o_.heal)) {
    for (auto& n : nodes_) n->group = 0;
  }
  if (rng_.Chance(o_.compact)) {
    SimNode* n = RandomNode(/*up=*/true);
    if (n != nullptr && n->raft->log().applied() > 2) {
      (void)n->disk.Compact(n->raft->log().applied() - 2);  // OK to skip: compaction is optional
    }
  }
  if (rng_.Chance(o_.transfer)) {
    if (SimNode* l = Leader()) (void)l->raft->TransferLeadership(1 + rng_.Below(nodes_.size()));
  }
  if (rng_.Chance(o_.conf_change)) ProposeConfChange();
}

void Simulation::ProposeConfChange() {
  SimNode* l = Leader();
  if (l == nullptr) return;
  const std::vector<NodeId>& voters = l->raft->voters();
  std::vector<ConfChange> options;
  for (const auto& n : nodes_) {
    const bool member = std::binary_search(voters.begin(), voters.end(), n->id);
    if (!member && static_cast<int>(voters.size()) < o_.max_voters) {
      options.push_back({ConfChange::Type::kAddVoter, n->id});
    }
    if (member && static_cast<int>(voters.size()) > o_.min_voters) {
      options.push_back({ConfChange::Type::kRemoveVoter, n->id});
    }
  }
  if (options.empty()) return;
  // Refusals (pending change, no-op not committed yet) are expected.
  (void)l->raft->ProposeConfChange(options[rng_.Below(options.size())]);
}

void Simulation::Check() {
  for (auto& n : nodes_) {
    if (n->raft && n->raft->role() == RaftRole::kLeader) leader_terms_.insert(n->raft->term());
  }
  checker_.CheckStep(Views());
}

void Simulation::Step(bool faults) {
  ++now_;
  if (faults) InjectFaults();
  if (faults && rng_.Chance(o_.propose)) ProposeRandom(absl::StrCat("v", ++next_value_));
  DeliverDue();
  for (auto& n : nodes_) {
    if (n->raft && rng_.Chance(0.9)) n->raft->Tick();  // clocks drift
  }
  std::vector<SimNode*> order;
  for (auto& n : nodes_) order.push_back(n.get());
  rng_.Shuffle(order);
  for (SimNode* n : order) {
    if (n->raft && n->raft->HasReady() && !rng_.Chance(o_.defer_ready)) HandleReady(*n);
  }
  Check();
}

SimResult Simulation::Run() {
  SimResult result;
  int step = 0;
  for (; step < o_.steps && checker_.status().ok(); ++step) Step(/*faults=*/true);
  // Heal everything; the group must then make progress again.
  o_.drop = o_.duplicate = o_.crash_in_ready = o_.io_error = 0;
  for (auto& n : nodes_) {
    n->group = 0;
    if (!n->raft) Restart(*n);
  }
  bool done = false;
  for (int i = 0; i < o_.settle_steps && checker_.status().ok() && !done; ++i, ++step) {
    // A real client follows the leader hint: after the heal it finds the leader.
    if (i % 20 == 10) ProposeRandom(absl::StrCat("final", i), /*to_leader=*/1.0);

    Step(/*faults=*/false);
    for (const std::string& v : acked_) done = done || v.rfind("final", 0) == 0;
  }
  if (checker_.status().ok() && !done) {
    std::string state;
    for (const auto& n : nodes_) {
      const Raft& r = *n->raft;
      absl::StrAppend(&state, " [node ", n->id, " ", RaftRoleName(r.role()), " term ", r.term(),
                      " vote ", r.vote(), " lead ", r.leader(), " last ", r.log().LastIndex(), "/",
                      r.log().LastTerm(), " commit ", r.log().committed(), "]");
    }
    checker_.Fail("liveness: nothing committed after all faults healed;" + state);
  }
  if (!checker_.status().ok()) {
    result.status = absl::InternalError(
        absl::StrCat("seed ", o_.seed, " step ", step, ": ", checker_.status().message()));
  }
  result.elections = static_cast<int>(leader_terms_.size());
  result.committed = checker_.committed_entries();
  result.acks = checker_.acks();
  result.crashes = crashes_;
  result.config_changes = checker_.config_changes();
  return result;
}

}  // namespace

SimOptions OptionsForSeed(uint64_t seed) {
  SimOptions o;
  o.seed = seed;
  Rng rng(seed ^ 0xA5A5A5A5ULL);
  o.nodes = 3 + static_cast<int>(rng.Below(3));
  const double drops[] = {0.0, 0.05, 0.2};
  o.drop = drops[rng.Below(3)];
  o.crash = rng.Chance(0.5) ? 0.01 : 0.03;
  o.partition = rng.Chance(0.5) ? 0.01 : 0.03;
  o.max_delay_steps = 1 + static_cast<int>(rng.Below(5));
  o.conf_change = rng.Chance(0.3) ? 0.1 : 0.02;  // some seeds churn membership hard
  return o;
}

SimResult RunSimulation(const SimOptions& options) { return Simulation(options).Run(); }

}  // namespace herald::replication::sim
