#pragma once
// CRC-32C (Castagnoli), the checksum stored with every record batch.
// Uses the SSE4.2 instruction when the CPU has it, a table otherwise.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace herald {

// Extends `crc` (0 for a fresh checksum) over `data`.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

inline uint32_t Crc32c(absl::string_view data) { return Crc32cExtend(0, data.data(), data.size()); }

}  // namespace herald
