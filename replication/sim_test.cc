// The deterministic simulation over many seeds, the regression seeds, and
// proof that the checker catches deliberately broken Raft behaviour.
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "replication/sim/simulator.h"

namespace herald::replication::sim {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  uint64_t parsed = 0;
  return value != nullptr && absl::SimpleAtoi(value, &parsed) ? parsed : fallback;
}

// Under ASan (an unoptimized build) a seed costs ~50x more; there the run
// is about memory errors, the optimized build covers the seed range.
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kDefaultSeeds = 1000;
#else
constexpr uint64_t kDefaultSeeds = 2000;
#endif

TEST(RaftSimulation, ManySeedsKeepEveryInvariant) {
  const uint64_t seeds = EnvOr("HERALD_SIM_SEEDS", kDefaultSeeds);
  const uint64_t first = EnvOr("HERALD_SIM_FIRST_SEED", 1);
  std::vector<std::string> failures;
  size_t committed = 0, acks = 0, config_changes = 0;
  int elections = 0, crashes = 0;
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    SimResult r = RunSimulation(OptionsForSeed(seed));
    if (!r.status.ok()) {
      failures.push_back(std::string(r.status.message()));
      std::cerr << "FAILING SEED " << seed << ": " << r.status.message() << "\n";
    }
    committed += r.committed;
    acks += r.acks;
    elections += r.elections;
    crashes += r.crashes;
    config_changes += r.config_changes;
  }
  std::cerr << seeds << " seeds: " << committed << " committed entries, " << acks
            << " client acks, " << elections << " leader terms, " << crashes << " crashes, "
            << config_changes << " committed membership changes\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " failing seeds, e.g.:\n"
                                << absl::StrJoin(
                                       failures.begin(),
                                       failures.begin() + std::min<size_t>(5, failures.size()),
                                       "\n");
  // The runs must exercise something, or passing means nothing.
  EXPECT_GT(acks, seeds * 10);
  EXPECT_GT(static_cast<uint64_t>(elections), seeds * 2);
  EXPECT_GT(static_cast<uint64_t>(crashes), seeds);
  EXPECT_GT(config_changes, seeds / 2);
}

TEST(RaftSimulation, RegressionSeedsStillPass) {
  std::ifstream in(HERALD_SIM_REGRESSION_FILE);
  ASSERT_TRUE(in.good()) << HERALD_SIM_REGRESSION_FILE;
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    uint64_t seed = 0;
    if (!absl::SimpleAtoi(line, &seed)) continue;
    SimResult r = RunSimulation(OptionsForSeed(seed));
    EXPECT_TRUE(r.status.ok()) << r.status.message();
  }
}

TEST(RaftSimulation, SameSeedGivesTheSameRun) {
  SimResult a = RunSimulation(OptionsForSeed(42));
  SimResult b = RunSimulation(OptionsForSeed(42));
  EXPECT_EQ(a.committed, b.committed);
  EXPECT_EQ(a.acks, b.acks);
  EXPECT_EQ(a.elections, b.elections);
  EXPECT_EQ(a.crashes, b.crashes);
}

// Runs seeds with a broken option until the checker objects; returns the
// first violation ("" if none was found).
template <typename Breaker>
std::string FirstViolation(Breaker breaker, uint64_t max_seeds) {
  for (uint64_t seed = 1; seed <= max_seeds; ++seed) {
    SimOptions o = OptionsForSeed(seed);
    breaker(o);
    SimResult r = RunSimulation(o);
    if (!r.status.ok()) return std::string(r.status.message());
  }
  return "";
}

TEST(RaftSimulationChecker, CatchesALeaderCommittingOldTermsByCounting) {
  std::string v =
      FirstViolation([](SimOptions& o) { o.raft_knobs.commit_old_terms_by_counting = true; }, 500);
  std::cerr << v << "\n";
  EXPECT_NE(v, "");
}

TEST(RaftSimulationChecker, CatchesACommitCountingNonMembers) {
  // A leader that counts itself after removing itself, or a node whose
  // removal is still pending.
  std::string v = FirstViolation(
      [](SimOptions& o) {
        o.raft_knobs.count_non_member_acks = true;
        o.conf_change = 0.2;
      },
      500);
  std::cerr << v << "\n";
  EXPECT_NE(v, "");
}

TEST(RaftSimulationChecker, CatchesVotesThatAreNotPersisted) {
  std::string v = FirstViolation(
      [](SimOptions& o) {
        o.raft_knobs.skip_vote_persist = true;
        o.crash = 0.05;
        o.restart = 0.5;
      },
      2000);
  std::cerr << v << "\n";
  EXPECT_NE(v, "");
}

TEST(RaftSimulationChecker, CatchesMessagesSentBeforeTheSync) {
  std::string v = FirstViolation(
      [](SimOptions& o) {
        o.send_before_persist = true;
        o.crash_in_ready = 0.05;
      },
      500);
  std::cerr << v << "\n";
  EXPECT_NE(v, "");
}

}  // namespace
}  // namespace herald::replication::sim
