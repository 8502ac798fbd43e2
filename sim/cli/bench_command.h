// `moesim bench collective FILE --op OP [--sizes MIN:MAX:FACTOR] [--gpus N]`: nccl-tests'
// benchmarks run on the cluster and network model of FILE (a scenario, or a file with only a
// `cluster:`), printed in nccl-tests' layout.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moesim::cli {

int cmd_bench(const std::vector<std::string>& args);

// "8:8G:2" (nccl-tests' -b 8 -e 8G -f 2; K, M, G are powers of 1024) into its sizes. Throws
// OptionError naming --sizes.
std::vector<int64_t> parse_sizes(const std::string& text);

}  // namespace moesim::cli
