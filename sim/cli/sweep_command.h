#pragma once

#include <string>
#include <vector>

namespace moesim::cli {

// `moesim sweep SWEEP.yaml [--jobs N] [--out DIR] [--shard I/N] [--list] [--quiet]`
int cmd_sweep(const std::vector<std::string>& args);

}  // namespace moesim::cli
