#pragma once
// The entries of the cluster metadata log: one atomic list of key/value
// writes per entry, applied in log order to every node's local metadata.
//
// Which keys are replicated (IsReplicatedMetadataKey): topics, the topic id
// counter, committed offsets and consumer-group state -- what every node must
// agree on. Everything else stays node-local: the cluster id (configured),
// producer-id blocks (ids carry the node id, see coordination/), the group
// coordinator's incarnation, and the Raft state of each log.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/log_store.h"

namespace herald::cluster {

bool IsReplicatedMetadataKey(absl::string_view key);

// The proposal data (a PartitionRaftLog entry: one data batch of one
// record whose payload is the encoded writes).
std::string EncodeMetadataProposal(const std::vector<storage::MetadataWrite>& writes,
                                   int64_t append_time_ms);
// Decodes an entry's data; DATA_LOSS if it is not one EncodeMetadataProposal made.
absl::StatusOr<std::vector<storage::MetadataWrite>> DecodeMetadataEntry(absl::string_view data);

}  // namespace herald::cluster
