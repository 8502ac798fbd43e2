// `moesim trace generate | info | convert`.
#pragma once

#include <string>
#include <vector>

namespace moesim::cli {

int cmd_trace(const std::vector<std::string>& args);

}  // namespace moesim::cli
