#include "replication/conf_change.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"

namespace herald::replication {
namespace {

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetLE(absl::string_view in, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in[pos + static_cast<size_t>(i)])) << (8 * i);
  }
  return v;
}

constexpr size_t kHeaderBytes = 1 + 1 + 8 + 4;

}  // namespace

std::string EncodeConfChange(const ConfChange& change, const std::vector<NodeId>& voters) {
  std::string out;
  out.reserve(kHeaderBytes + 8 * voters.size());
  out.push_back(static_cast<char>(kConfChangeVersion));
  out.push_back(static_cast<char>(change.type));
  PutU64(out, change.node);
  const auto count = static_cast<uint32_t>(voters.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((count >> (8 * i)) & 0xff));
  for (NodeId v : voters) PutU64(out, v);
  return out;
}

absl::StatusOr<ConfChangeEntry> DecodeConfChange(absl::string_view data) {
  if (data.size() < kHeaderBytes) return absl::InvalidArgumentError("conf change too short");
  if (static_cast<uint8_t>(data[0]) != kConfChangeVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown conf change version ", static_cast<int>(data[0])));
  }
  ConfChangeEntry out;
  const auto type = static_cast<uint8_t>(data[1]);
  if (type != static_cast<uint8_t>(ConfChange::Type::kAddVoter) &&
      type != static_cast<uint8_t>(ConfChange::Type::kRemoveVoter)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown conf change type ", type));
  }
  out.change.type = static_cast<ConfChange::Type>(type);
  out.change.node = GetLE(data, 2, 8);
  const uint64_t count = GetLE(data, 10, 4);
  if (data.size() != kHeaderBytes + 8 * count) {
    return absl::InvalidArgumentError("conf change length does not match its voter count");
  }
  for (uint64_t i = 0; i < count; ++i) out.voters.push_back(GetLE(data, kHeaderBytes + 8 * i, 8));
  if (out.change.node == kNoNode || out.voters.empty() || out.voters.front() == kNoNode ||
      std::adjacent_find(out.voters.begin(), out.voters.end(), std::greater_equal<NodeId>()) !=
          out.voters.end()) {
    return absl::InvalidArgumentError("conf change voters not sorted, unique and non-zero");
  }
  const bool present = std::binary_search(out.voters.begin(), out.voters.end(), out.change.node);
  if (present != (out.change.type == ConfChange::Type::kAddVoter)) {
    return absl::InvalidArgumentError("conf change voters inconsistent with the change");
  }
  return out;
}

absl::StatusOr<std::vector<NodeId>> ApplyConfChange(const std::vector<NodeId>& voters,
                                                    const ConfChange& change) {
  if (change.node == kNoNode) return absl::InvalidArgumentError("node id must be non-zero");
  std::vector<NodeId> out = voters;
  auto it = std::lower_bound(out.begin(), out.end(), change.node);
  const bool present = it != out.end() && *it == change.node;
  if (change.type == ConfChange::Type::kAddVoter) {
    if (present) return absl::FailedPreconditionError(absl::StrCat(change.node, " is a voter"));
    out.insert(it, change.node);
  } else {
    if (!present) return absl::FailedPreconditionError(absl::StrCat(change.node, " is no voter"));
    if (out.size() == 1) return absl::FailedPreconditionError("cannot remove the last voter");
    out.erase(it);
  }
  return out;
}

absl::StatusOr<std::vector<NodeId>> LastConfig(const std::vector<Entry>& entries,
                                               std::vector<NodeId> base) {
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (it->type != EntryType::kConfChange) continue;
    absl::StatusOr<ConfChangeEntry> cc = DecodeConfChange(it->data);
    if (!cc.ok()) {
      return absl::DataLossError(
          absl::StrCat("config entry ", it->index, " unreadable: ", cc.status().message()));
    }
    return std::move(cc->voters);
  }
  return base;
}

}  // namespace herald::replication
