// `moesim topo SCENARIO [--dot FILE]`: the cluster topology a scenario builds, summarized.
#pragma once

#include <string>
#include <vector>

namespace moesim::cli {

int cmd_topo(const std::vector<std::string>& args);

}  // namespace moesim::cli
