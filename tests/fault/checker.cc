#include "tests/fault/checker.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace herald::fault {
namespace {

using PartitionOffset = std::pair<int32_t, int64_t>;

std::string Where(int32_t partition, int64_t offset) {
  return absl::StrCat("partition ", partition, " offset ", offset);
}

// Everything the rules look up, built once from the history.
struct Index {
  // The final log: (partition, offset) -> values read there (one if sane).
  std::map<PartitionOffset, std::set<std::string>> final_at;
  // value -> every (partition, offset) it occupies in the final log.
  std::map<std::string, std::vector<PartitionOffset>> final_where;
  std::map<std::string, const Op*> send_of;  // by value (values are unique)
  std::vector<const Op*> polls;
};

Index BuildIndex(const std::vector<Op>& history, CheckResult* result) {
  Index index;
  for (const Op& op : history) {
    switch (op.type) {
      case OpType::kFinalRead:
        index.final_at[{op.partition, op.offset}].insert(op.value);
        index.final_where[op.value].push_back({op.partition, op.offset});
        ++result->final_records;
        break;
      case OpType::kSend:
        index.send_of[op.value] = &op;
        if (op.outcome == Outcome::kOk) ++result->sends_ok;
        if (op.outcome == Outcome::kFail) ++result->sends_failed;
        if (op.outcome == Outcome::kUnknown) ++result->sends_unknown;
        break;
      case OpType::kPoll:
        if (op.outcome == Outcome::kOk) index.polls.push_back(&op);
        break;
      case OpType::kCommit:
        if (op.outcome == Outcome::kOk) ++result->commits_ok;
        break;
      case OpType::kFetchCommitted:
        if (op.outcome == Outcome::kOk) ++result->fetches;
        break;
      case OpType::kReset:
        break;
    }
  }
  result->polls = static_cast<int64_t>(index.polls.size());
  return index;
}

void Add(CheckResult* result, char rule, std::string detail) {
  result->violations.push_back({rule, std::move(detail)});
}

// (a) one value per (partition, offset) across polls and the final log.
void CheckOneValuePerOffset(const Index& index, CheckResult* result) {
  std::map<PartitionOffset, std::set<std::string>> seen = index.final_at;
  for (const Op* poll : index.polls) seen[{poll->partition, poll->offset}].insert(poll->value);
  for (const auto& [where, values] : seen) {
    if (values.size() < 2) continue;
    std::string list;
    for (const std::string& v : values) absl::StrAppend(&list, list.empty() ? "" : ", ", v);
    Add(result, 'a',
        absl::StrCat(Where(where.first, where.second), " read with ", values.size(),
                     " different values: ", list));
  }
}

// (b) ok sends at their acked offset; (c) failed or never-sent values absent;
// (d) unknown sends at most once.
void CheckSends(const std::vector<Op>& history, const Index& index, CheckResult* result) {
  for (const Op& op : history) {
    if (op.type != OpType::kSend) continue;
    auto it = index.final_where.find(op.value);
    const size_t count = it == index.final_where.end() ? 0 : it->second.size();
    if (op.outcome == Outcome::kOk) {
      auto at = index.final_at.find({op.partition, op.offset});
      if (at == index.final_at.end() || at->second.count(op.value) == 0) {
        std::string found =
            count == 0
                ? "absent from the final log"
                : absl::StrCat("found at ", Where(it->second[0].first, it->second[0].second));
        Add(result, 'b', absl::StrCat("acked send lost or moved: ", op.DebugString(), "; ", found));
      }
    } else if (op.outcome == Outcome::kFail && count > 0) {
      Add(result, 'c',
          absl::StrCat("definitely failed send is in the log at ",
                       Where(it->second[0].first, it->second[0].second), ": ", op.DebugString()));
    } else if (op.outcome == Outcome::kUnknown) {
      if (count > 0) ++result->unknown_in_log;
      if (count > 1) {
        Add(result, 'd',
            absl::StrCat("unknown send appears ", count, " times: ", op.DebugString()));
      }
    }
  }
  for (const auto& [value, where] : index.final_where) {
    if (index.send_of.count(value) == 0) {
      Add(result, 'c',
          absl::StrCat("value never sent is in the log at ", Where(where[0].first, where[0].second),
                       ": ", value));
    }
  }
  for (const Op* poll : index.polls) {
    auto send = index.send_of.find(poll->value);
    if (send != index.send_of.end() && send->second->outcome == Outcome::kFail) {
      Add(result, 'c', absl::StrCat("polled a definitely failed send: ", poll->DebugString()));
    }
  }
}

// (e) no value twice in the final log (unknown sends are reported by d).
void CheckNoDuplicates(const Index& index, CheckResult* result) {
  for (const auto& [value, where] : index.final_where) {
    if (where.size() < 2) continue;
    auto send = index.send_of.find(value);
    if (send != index.send_of.end() && send->second->outcome == Outcome::kUnknown) continue;
    std::string list;
    for (const auto& [p, o] : where) absl::StrAppend(&list, " ", Where(p, o), ";");
    if (send != index.send_of.end()) absl::StrAppend(&list, " send: ", send->second->DebugString());
    Add(result, 'e', absl::StrCat("value ", value, " appears ", where.size(), " times:", list));
  }
}

// (f) every polled record is in the final log at the same offset.
void CheckPollsDurable(const Index& index, CheckResult* result) {
  for (const Op* poll : index.polls) {
    auto at = index.final_at.find({poll->partition, poll->offset});
    if (at == index.final_at.end() || at->second.count(poll->value) == 0) {
      Add(result, 'f',
          absl::StrCat("polled record not in the final log at its offset: ", poll->DebugString()));
    }
  }
}

// (g) per consumer, per partition, offsets strictly increase between resets.
void CheckPollOrder(const std::vector<Op>& history, CheckResult* result) {
  std::map<std::pair<int, int32_t>, const Op*> last;  // (process, partition)
  for (const Op& op : history) {
    if (op.type == OpType::kReset) {
      for (auto it = last.begin(); it != last.end();) {
        it = it->first.first == op.process ? last.erase(it) : std::next(it);
      }
      continue;
    }
    if (op.type != OpType::kPoll || op.outcome != Outcome::kOk) continue;
    const Op*& previous = last[{op.process, op.partition}];
    if (previous != nullptr && op.offset <= previous->offset) {
      Add(result, 'g',
          absl::StrCat("consumer ", op.process, " read offset ", op.offset, " after ",
                       previous->offset, " on partition ", op.partition,
                       " without a reset: ", op.DebugString()));
    }
    previous = &op;
  }
}

int64_t CompleteOrInfinity(const Op& op) {
  return op.outcome == Outcome::kUnknown ? std::numeric_limits<int64_t>::max() : op.complete_us;
}

// (h) committed offsets never go backwards. An observation X (an ok commit
// or fetch) shows offset X.offset was current at some instant in X's
// interval. A fetch F starting after X ended may return less only if a
// commit D of exactly that offset, not definitely failed, may take effect
// after X's instant and before F's: D may end after X started and started
// before F ended.
void CheckCommittedOffsets(const std::vector<Op>& history, CheckResult* result) {
  std::map<std::pair<std::string, int32_t>, std::vector<const Op*>> observations, commits;
  for (const Op& op : history) {
    if (op.type != OpType::kCommit && op.type != OpType::kFetchCommitted) continue;
    const auto key = std::make_pair(op.group, op.partition);
    if (op.type == OpType::kCommit && op.outcome != Outcome::kFail) commits[key].push_back(&op);
    if (op.outcome == Outcome::kOk) observations[key].push_back(&op);
  }
  for (const auto& [key, ops] : observations) {
    const std::vector<const Op*>& key_commits = commits[key];
    for (const Op* fetch : ops) {
      if (fetch->type != OpType::kFetchCommitted) continue;
      for (const Op* earlier : ops) {
        if (earlier->complete_us >= fetch->invoke_us || fetch->offset >= earlier->offset) continue;
        const bool explained =
            std::any_of(key_commits.begin(), key_commits.end(), [&](const Op* d) {
              return d != earlier && d->offset == fetch->offset &&
                     CompleteOrInfinity(*d) > earlier->invoke_us &&
                     d->invoke_us < fetch->complete_us;
            });
        if (explained) continue;
        Add(result, 'h',
            absl::StrCat("group ", key.first, " partition ", key.second, ": committed offset went ",
                         "back from ", earlier->offset, " to ", fetch->offset,
                         "; earlier: ", earlier->DebugString(), "; fetch: ", fetch->DebugString()));
        break;  // One report per fetch.
      }
    }
  }
}

}  // namespace

bool CheckResult::Has(char rule) const {
  return std::any_of(violations.begin(), violations.end(),
                     [rule](const Violation& v) { return v.rule == rule; });
}

std::string CheckResult::Summary(size_t max_violations) const {
  std::string s =
      absl::StrCat("sends ok=", sends_ok, " failed=", sends_failed, " unknown=", sends_unknown,
                   " (unknown found in log: ", unknown_in_log, "), polls=", polls,
                   ", final log records=", final_records, ", commits ok=", commits_ok,
                   ", offset fetches=", fetches, "; violations: ", violations.size());
  for (size_t i = 0; i < violations.size() && i < max_violations; ++i) {
    absl::StrAppend(&s, "\n  (", std::string(1, violations[i].rule), ") ", violations[i].detail);
  }
  if (violations.size() > max_violations) {
    absl::StrAppend(&s, "\n  ... ", violations.size() - max_violations, " more");
  }
  return s;
}

CheckResult CheckHistory(const std::vector<Op>& history) {
  CheckResult result;
  const Index index = BuildIndex(history, &result);
  CheckOneValuePerOffset(index, &result);
  CheckSends(history, index, &result);
  CheckNoDuplicates(index, &result);
  CheckPollsDurable(index, &result);
  CheckPollOrder(history, &result);
  CheckCommittedOffsets(history, &result);
  return result;
}

}  // namespace herald::fault
