#pragma once
// Turning delivered ConsumedBatch messages into application records. Pure
// functions, unit-tested without a server.
#include <cstdint>
#include <deque>

#include "herald/client/types.h"
#include "herald/v1/records.pb.h"

namespace herald::client::internal {

// Where a partition's reader stands, for filtering whole batches.
struct ReadCursor {
  // Next offset the application should see; -1: not known yet (named or
  // timestamp start), so the first delivered record is accepted.
  int64_t next_offset = -1;
  // With a timestamp start and next_offset unknown: records of the first
  // batch older than this are skipped (the batch is served whole).
  int64_t min_timestamp_ms = -1;
};

// The record's timestamp per the ConsumedBatch contract: the append time for
// LOG_APPEND_TIME topics or records without their own timestamp.
int64_t ResolveTimestampMs(const v1::ConsumedBatch& batch, const v1::Record& record);

// Appends the records of `batch` the cursor has not passed to `out`,
// advancing the cursor. Returns the number appended. Records before
// cursor->next_offset are skipped (whole-batch delivery, or replays after a
// reconnect).
int64_t AppendNewRecords(const v1::ConsumedBatch& batch, ReadCursor* cursor,
                         std::deque<ConsumedRecord>* out);

// Approximate memory of a consumed record, for the buffer bound.
int64_t RecordBytes(const ConsumedRecord& record);

}  // namespace herald::client::internal
