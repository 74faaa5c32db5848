#pragma once
// History: the thread-safe record of every client operation a fault test
// performs, in the shape Jepsen's Kafka workload uses. Each operation is
// invoked (start time), then completed once with an outcome:
//   ok      - the operation took effect (a send was acknowledged at an offset)
//   fail    - it definitely did not take effect (a definite rejection such as
//             INVALID_ARGUMENT or NOT_FOUND, before anything was written)
//   unknown - it may or may not have taken effect (a timeout or UNAVAILABLE
//             after the request may have reached the server)
// Operations never completed are treated as unknown. The checker reads a
// snapshot; the history itself knows nothing about correctness.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace herald::fault {

enum class OpType {
  kSend,            // value: the unique payload; partition/offset: from the ack
  kPoll,            // one record a consumer returned from Poll
  kCommit,          // group commit of `offset` (next record to read) on `partition`
  kFetchCommitted,  // committed-offset fetch; offset: the result (-1: none)
  kReset,           // the consumer's positions may jump (seek, rebalance, restart)
  kFinalRead,       // one record of the drain after healing (the final log)
};

enum class Outcome { kPending, kOk, kFail, kUnknown };

const char* OpTypeName(OpType type);
const char* OutcomeName(Outcome outcome);

struct Op {
  int64_t index = -1;  // position in the history
  int process = 0;     // a producer or consumer id; one thread of operations
  OpType type = OpType::kSend;
  int64_t invoke_us = 0;    // steady clock, microseconds
  int64_t complete_us = 0;  // 0 while pending
  Outcome outcome = Outcome::kPending;
  std::string value;
  std::string group;  // kCommit / kFetchCommitted
  int32_t partition = -1;
  int64_t offset = -1;
  std::string error;  // the status message of a fail / unknown

  std::string DebugString() const;
};

// The outcome of a finished send: kOk on success; kFail for codes that mean
// the broker rejected the request before appending anything; kUnknown for
// everything else (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED, INTERNAL...).
Outcome SendOutcome(const absl::Status& status);

class History {
 public:
  static int64_t NowUs();

  // Records the invocation; returns the op's index for Complete.
  int64_t Invoke(int process, OpType type, std::string value = "", int32_t partition = -1,
                 int64_t offset = -1, std::string group = "");
  // Completes an invoked op. partition/offset < 0 keep the invoked values.
  void Complete(int64_t index, Outcome outcome, int32_t partition = -1, int64_t offset = -1,
                std::string error = "");
  // An op that happens at one instant (polled records, resets, final reads).
  int64_t Record(Op op);

  // A copy of every op; pending ones are reported as kUnknown.
  std::vector<Op> Snapshot() const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<Op> ops_;
};

}  // namespace herald::fault
