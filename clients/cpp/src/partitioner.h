#pragma once
// Client-side partition choice: Kafka's murmur2 for keyed records, and a
// sticky partition per topic for keyless ones (all keyless records go to one
// partition until its batch is sealed, then the next partition is chosen at
// random). Sticky spreading fills batches instead of splitting every linger
// window across all partitions. Not thread-safe: the producer locks around it.
#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "absl/strings/string_view.h"

namespace herald::client::internal {

class Partitioner {
 public:
  explicit Partitioner(uint32_t seed = std::random_device{}()) : rng_(seed) {}

  // partition_count > 0.
  int32_t Choose(const std::string& topic, absl::string_view key, int32_t partition_count);

  // A batch of `topic`/`partition` was sealed: if it was the sticky one,
  // move keyless records elsewhere.
  void OnBatchSealed(const std::string& topic, int32_t partition, int32_t partition_count);

 private:
  int32_t Pick(int32_t partition_count, int32_t avoid);

  std::mt19937 rng_;
  std::map<std::string, int32_t> sticky_;
};

}  // namespace herald::client::internal
