#pragma once

#include <string>
#include <vector>

namespace moesim::cli {

// `moesim compare BASE.yaml [VARIANT.yaml] [--set key=value]... [--seeds N] [--jobs N] [--steps N]`
int cmd_compare(const std::vector<std::string>& args);

}  // namespace moesim::cli
