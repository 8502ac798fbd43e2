// `moesim calibrate CLUSTER --nccl-tests LOG... [--out FILE]`: the cluster's link efficiency and
// latency per tier fitted to nccl-tests logs (sim/calibrate/fit.h), printed with the residual of
// every size, and written as a cluster file.
#pragma once

#include <string>
#include <vector>

namespace moesim::cli {

int cmd_calibrate(const std::vector<std::string>& args);

}  // namespace moesim::cli
