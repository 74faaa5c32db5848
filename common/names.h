#pragma once
// Validation of user-chosen names (topics, groups), with messages that say
// exactly what is wrong.
#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace herald {

inline constexpr size_t kMaxTopicNameBytes = 249;
inline constexpr size_t kMaxGroupNameBytes = 255;

// 1-249 characters of [a-zA-Z0-9._-], not "." or "..", not starting with
// "__" (reserved for internal topics). INVALID_ARGUMENT otherwise.
absl::Status ValidateTopicName(absl::string_view name);

// 1-255 printable ASCII characters. INVALID_ARGUMENT otherwise.
absl::Status ValidateGroupName(absl::string_view name);

}  // namespace herald
