#pragma once
// Protocol-buffers wire-format primitives (varints, tags), written by hand so
// that the core can validate and splice record batches without depending on
// protobuf. Only what Herald's batch format needs.
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace herald::wire {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

inline void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline void AppendTag(std::string* out, uint32_t field, WireType type) {
  AppendVarint(out, (static_cast<uint64_t>(field) << 3) | type);
}

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Reads a varint from the front of `*in`, consuming it. False if malformed.
inline bool ReadVarint(absl::string_view* in, uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in->front());
    in->remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return true;
    }
  }
  return false;
}

// Reads one field's tag and, for length-delimited fields, its body. For other
// types `body` holds the raw encoded value. False if malformed or truncated.
struct Field {
  uint32_t number = 0;
  WireType type = kVarint;
  uint64_t varint = 0;     // kVarint
  absl::string_view body;  // kLengthDelimited, kFixed32, kFixed64
};
bool ReadField(absl::string_view* in, Field* field);

}  // namespace herald::wire
