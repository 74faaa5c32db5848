#include "common/wire.h"

namespace herald::wire {

bool ReadField(absl::string_view* in, Field* field) {
  uint64_t tag = 0;
  if (!ReadVarint(in, &tag)) return false;
  field->number = static_cast<uint32_t>(tag >> 3);
  field->type = static_cast<WireType>(tag & 7);
  if (field->number == 0 || (tag >> 3) > 0x1fffffff) return false;
  switch (field->type) {
    case kVarint:
      return ReadVarint(in, &field->varint);
    case kFixed64:
    case kFixed32: {
      const size_t n = field->type == kFixed64 ? 8 : 4;
      if (in->size() < n) return false;
      field->body = in->substr(0, n);
      in->remove_prefix(n);
      return true;
    }
    case kLengthDelimited: {
      uint64_t len = 0;
      if (!ReadVarint(in, &len) || len > in->size()) return false;
      field->body = in->substr(0, len);
      in->remove_prefix(len);
      return true;
    }
  }
  return false;  // groups (3, 4) and unknown wire types are not accepted
}

}  // namespace herald::wire
