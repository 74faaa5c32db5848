#pragma once
// A deterministic simulation of one Raft group: N nodes in one process, a
// seeded PRNG driving a lossy, reordering, duplicating, partitionable
// network, simulated disks that lose unsynced writes on crash, crashes and
// restarts, and clients proposing values. The Checker verifies the safety
// invariants after every step; at the end all faults heal and the group must
// commit a final value (liveness).
//
// The same seed always produces the same run, so a failing seed is a
// reproducible bug report: add it to sim/regression_seeds.txt.
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "replication/raft.h"

namespace herald::replication::sim {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 3;        // founding voters 1..nodes
  int spare_nodes = 1;  // nodes+1..: start empty, no config, may be added
  // Membership changes (per step, at the leader): add a non-voter or remove
  // a voter (maybe the leader itself), keeping min..max voters.
  double conf_change = 0.02;
  int min_voters = 3;
  int max_voters = 5;
  int steps = 300;         // faulty phase
  int settle_steps = 400;  // healed phase: a final value must commit
  // Network (per message).
  double drop = 0.05;
  double duplicate = 0.03;
  int max_delay_steps = 3;
  // Faults (per step).
  double crash = 0.01;
  double restart = 0.1;
  double partition = 0.01;
  double heal = 0.05;
  double defer_ready = 0.2;      // a slow disk: the Ready waits a step
  double crash_in_ready = 0.01;  // power loss between write and sync
  double io_error = 0.003;       // sync fails: fatal, the node stops
  bool torn_writes = true;       // a crash may tear the first unsynced batch
  double compact = 0.02;
  double transfer = 0.005;       // graceful leader hand-off
  uint64_t max_msg_entries = 8;  // small, so flow control and probing get exercised
  // Clients.
  double propose = 0.3;
  // Deliberately broken behaviour, to prove the checker catches it.
  RaftTestingKnobs raft_knobs;
  bool send_before_persist = false;  // runtime sends a Ready's messages before syncing
  bool check_commit_rule = true;     // see Checker
};

struct SimResult {
  absl::Status status;  // the first violated invariant, with its step
  int elections = 0;    // distinct leader terms seen
  size_t committed = 0;
  size_t acks = 0;
  int crashes = 0;
  size_t config_changes = 0;  // committed membership changes
};

// Options derived from a seed: node count 3..5 and fault rates vary.
SimOptions OptionsForSeed(uint64_t seed);
SimResult RunSimulation(const SimOptions& options);

}  // namespace herald::replication::sim
