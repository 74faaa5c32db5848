#pragma once
// CheckHistory: the pure checker of a fault test's history (Jepsen's Kafka
// workload rules, see /work/shared/guides/reliability.md item 4). The final
// log is the set of kFinalRead ops: every partition read from the earliest
// offset after the faults were healed.
//
// Rules (the letter is Violation::rule):
//   a  each (partition, offset) holds one value across every read (polls and
//      the final log)
//   b  every ok send is in the final log at its acknowledged offset
//   c  no value whose send definitely failed, or that nobody sent, is read
//   d  an unknown send appears at most once in the final log
//   e  no value appears twice in the final log (idempotent producer)
//   f  every polled record is in the final log at the same offset (nothing
//      read that later vanished)
//   g  per consumer and partition, polled offsets strictly increase between
//      the consumer's kReset ops
//   h  per (group, partition) the committed offset never goes backwards: a
//      fetch that starts after an acked commit (or an earlier fetch) ended
//      returns at least that offset, unless a commit of exactly the returned
//      offset may have been applied in between
// Pure: no I/O, no clock; deterministic for a given history.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/fault/history.h"

namespace herald::fault {

struct Violation {
  char rule = '?';
  std::string detail;
};

struct CheckResult {
  std::vector<Violation> violations;
  // Counts, for the report.
  int64_t sends_ok = 0;
  int64_t sends_failed = 0;
  int64_t sends_unknown = 0;
  int64_t unknown_in_log = 0;
  int64_t polls = 0;
  int64_t final_records = 0;
  int64_t commits_ok = 0;
  int64_t fetches = 0;

  bool ok() const { return violations.empty(); }
  bool Has(char rule) const;
  // The counts, then up to max_violations violations.
  std::string Summary(size_t max_violations = 30) const;
};

CheckResult CheckHistory(const std::vector<Op>& history);

}  // namespace herald::fault
