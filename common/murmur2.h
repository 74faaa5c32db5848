#pragma once
// Kafka's key partitioner: murmur2 (seed 0x9747b28c) of the key bytes,
// made positive, modulo the partition count. Every Herald client uses the
// same function so a key lands on the partition Kafka would choose.
#include <cstdint>

#include "absl/strings/string_view.h"

namespace herald {

int32_t Murmur2(absl::string_view data);

// Partition for a non-empty key among `partition_count` (> 0) partitions.
int32_t PartitionForKey(absl::string_view key, int32_t partition_count);

}  // namespace herald
