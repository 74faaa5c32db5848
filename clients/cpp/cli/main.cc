// `herald`: command line client for Herald brokers (topics, produce, consume,
// offsets, cluster). See clients/cpp/README.md.
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  return herald::cli::Run(argc, argv, std::cin, std::cout, std::cerr);
}
