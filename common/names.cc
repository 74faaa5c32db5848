#include "common/names.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace herald {
namespace {

bool IsTopicChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

absl::Status ValidateTopicName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("topic name is empty");
  if (name.size() > kMaxTopicNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("topic name is ", name.size(),
                                                   " characters; the limit is ",
                                                   kMaxTopicNameBytes));
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError("topic name cannot be \".\" or \"..\"");
  }
  for (char c : name) {
    if (!IsTopicChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("topic name \"", absl::CEscape(name),
                       "\" has an invalid character; allowed are a-z A-Z 0-9 . _ -"));
    }
  }
  if (name.substr(0, 2) == "__") {
    return absl::InvalidArgumentError("topic names starting with \"__\" are reserved");
  }
  return absl::OkStatus();
}

absl::Status ValidateGroupName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("group name is empty");
  if (name.size() > kMaxGroupNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("group name is ", name.size(), " bytes; the limit is ", kMaxGroupNameBytes));
  }
  for (char c : name) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError("group name must be printable ASCII");
    }
  }
  return absl::OkStatus();
}

}  // namespace herald
