#pragma once
// The `herald` command line: parses arguments with CLI11 and runs one
// subcommand. Exit codes: 0 ok, 1 server (or I/O) error, 2 usage error.
#include <iosfwd>

namespace herald::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitServerError = 1;
inline constexpr int kExitUsage = 2;

// Reads records for `produce` from `in`, writes results to `out`, errors to `err`.
int Run(int argc, char** argv, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace herald::cli
