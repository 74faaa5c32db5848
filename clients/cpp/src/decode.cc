#include "src/decode.h"

namespace herald::client::internal {

int64_t ResolveTimestampMs(const v1::ConsumedBatch& batch, const v1::Record& record) {
  if (batch.timestamp_type() == v1::TIMESTAMP_TYPE_LOG_APPEND_TIME || record.timestamp_ms() == 0) {
    return batch.append_time_ms();
  }
  return record.timestamp_ms();
}

int64_t AppendNewRecords(const v1::ConsumedBatch& batch, ReadCursor* cursor,
                         std::deque<ConsumedRecord>* out) {
  int64_t appended = 0;
  const TimestampKind kind = batch.timestamp_type() == v1::TIMESTAMP_TYPE_LOG_APPEND_TIME
                                 ? TimestampKind::kLogAppendTime
                                 : TimestampKind::kCreateTime;
  for (int i = 0; i < batch.records_size(); ++i) {
    const int64_t offset = batch.base_offset() + i;
    if (cursor->next_offset >= 0 && offset < cursor->next_offset) continue;
    const v1::Record& record = batch.records(i);
    const int64_t timestamp_ms = ResolveTimestampMs(batch, record);
    if (cursor->next_offset < 0 && timestamp_ms < cursor->min_timestamp_ms) continue;
    ConsumedRecord r;
    r.topic = batch.topic();
    r.partition = batch.partition();
    r.offset = offset;
    r.timestamp_ms = timestamp_ms;
    r.timestamp_kind = kind;
    r.key = record.key();
    r.value = record.value();
    r.headers.reserve(record.headers_size());
    for (const v1::Header& h : record.headers()) r.headers.push_back({h.key(), h.value()});
    out->push_back(std::move(r));
    cursor->next_offset = offset + 1;
    ++appended;
  }
  return appended;
}

int64_t RecordBytes(const ConsumedRecord& record) {
  int64_t bytes = static_cast<int64_t>(sizeof(ConsumedRecord) + record.topic.size() +
                                       record.key.size() + record.value.size());
  for (const Header& h : record.headers) bytes += h.key.size() + h.value.size() + sizeof(Header);
  return bytes;
}

}  // namespace herald::client::internal
