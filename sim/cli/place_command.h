// `moesim place LOADS`: one plan of replicated experts as DeepSeek's EPLB makes it, from a load
// table or a trace's steps.
#pragma once

#include <string>
#include <vector>

namespace moesim::cli {

int cmd_place(const std::vector<std::string>& args);

}  // namespace moesim::cli
