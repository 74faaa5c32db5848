#include "src/partitioner.h"

#include "common/murmur2.h"

namespace herald::client::internal {

int32_t Partitioner::Choose(const std::string& topic, absl::string_view key,
                            int32_t partition_count) {
  if (!key.empty()) return PartitionForKey(key, partition_count);
  auto it = sticky_.find(topic);
  if (it == sticky_.end() || it->second >= partition_count) {
    it = sticky_.insert_or_assign(topic, Pick(partition_count, -1)).first;
  }
  return it->second;
}

void Partitioner::OnBatchSealed(const std::string& topic, int32_t partition,
                                int32_t partition_count) {
  auto it = sticky_.find(topic);
  if (it == sticky_.end() || it->second != partition || partition_count <= 0) return;
  it->second = Pick(partition_count, partition);
}

int32_t Partitioner::Pick(int32_t partition_count, int32_t avoid) {
  if (partition_count == 1) return 0;
  std::uniform_int_distribution<int32_t> dist(0, partition_count - 1);
  int32_t p = dist(rng_);
  // Bounded: with >= 2 partitions one step away always differs from `avoid`.
  if (p == avoid) p = (p + 1) % partition_count;
  return p;
}

}  // namespace herald::client::internal
