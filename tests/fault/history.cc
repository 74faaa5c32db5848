#include "tests/fault/history.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"

namespace herald::fault {

const char* OpTypeName(OpType type) {
  switch (type) {
    case OpType::kSend:
      return "send";
    case OpType::kPoll:
      return "poll";
    case OpType::kCommit:
      return "commit";
    case OpType::kFetchCommitted:
      return "fetch-committed";
    case OpType::kReset:
      return "reset";
    case OpType::kFinalRead:
      return "final-read";
  }
  return "?";
}

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPending:
      return "pending";
    case Outcome::kOk:
      return "ok";
    case Outcome::kFail:
      return "fail";
    case Outcome::kUnknown:
      return "unknown";
  }
  return "?";
}

std::string Op::DebugString() const {
  std::string s = absl::StrCat("#", index, " p", process, " ", OpTypeName(type), " ",
                               OutcomeName(outcome), " [", invoke_us, "..", complete_us, "us]");
  if (!value.empty()) absl::StrAppend(&s, " value=", value);
  if (!group.empty()) absl::StrAppend(&s, " group=", group);
  if (partition >= 0) absl::StrAppend(&s, " partition=", partition);
  if (offset != -1 || type == OpType::kFetchCommitted) absl::StrAppend(&s, " offset=", offset);
  if (!error.empty()) absl::StrAppend(&s, " error=", error);
  return s;
}

Outcome SendOutcome(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return Outcome::kOk;
    // Validation and lookup failures happen before the append.
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kUnimplemented:
      return Outcome::kFail;
    default:
      // A timeout, a lost connection or an internal error may come after the
      // record reached the log.
      return Outcome::kUnknown;
  }
}

int64_t History::NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t History::Invoke(int process, OpType type, std::string value, int32_t partition,
                        int64_t offset, std::string group) {
  Op op;
  op.process = process;
  op.type = type;
  op.invoke_us = NowUs();
  op.value = std::move(value);
  op.partition = partition;
  op.offset = offset;
  op.group = std::move(group);
  std::lock_guard<std::mutex> lock(mu_);
  op.index = static_cast<int64_t>(ops_.size());
  ops_.push_back(std::move(op));
  return ops_.back().index;
}

void History::Complete(int64_t index, Outcome outcome, int32_t partition, int64_t offset,
                       std::string error) {
  const int64_t now = NowUs();
  std::lock_guard<std::mutex> lock(mu_);
  Op& op = ops_.at(static_cast<size_t>(index));
  op.complete_us = now;
  op.outcome = outcome;
  if (partition >= 0) op.partition = partition;
  if (offset >= 0 || op.type == OpType::kFetchCommitted) op.offset = offset;
  op.error = std::move(error);
}

int64_t History::Record(Op op) {
  if (op.invoke_us == 0) op.invoke_us = NowUs();
  if (op.complete_us == 0) op.complete_us = op.invoke_us;
  if (op.outcome == Outcome::kPending) op.outcome = Outcome::kOk;
  std::lock_guard<std::mutex> lock(mu_);
  op.index = static_cast<int64_t>(ops_.size());
  ops_.push_back(std::move(op));
  return ops_.back().index;
}

std::vector<Op> History::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Op> copy = ops_;
  for (Op& op : copy) {
    if (op.outcome == Outcome::kPending) op.outcome = Outcome::kUnknown;
  }
  return copy;
}

size_t History::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ops_.size();
}

}  // namespace herald::fault
