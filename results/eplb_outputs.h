// What `moesim place` writes: an EPLB plan as EPLB's three outputs (phy2log, log2phy, logcnt),
// each as CSV and together as JSON in EPLB's own layout, and the GPUs' loads under the plan.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "policies/placement/eplb.h"

namespace moesim::results {

// Each GPU's load under `plan` ([layer][GPU]): a replica takes its expert's load over its count.
std::vector<std::vector<double>> eplb_gpu_loads(const policies::EplbPlan& plan, int gpus, const std::vector<std::vector<double>>& loads);

// (file name, contents), in the order written:
//   phy2log.csv    layer,slot,gpu,expert,replica  (slot s is on GPU s / slots per GPU)
//   log2phy.csv    layer,expert,replica,slot
//   logcnt.csv     layer,expert,count
//   gpu_loads.csv  layer,gpu,load
//   eplb.json      {"phy2log": [layer][slot], "log2phy": [layer][expert][max count] (-1 where an
//                  expert has fewer replicas), "logcnt": [layer][expert], and the shape}
std::vector<std::pair<std::string, std::string>> eplb_output_files(const policies::EplbPlan& plan, const policies::EplbShape& shape,
                                                                   policies::EplbMode mode,
                                                                   const std::vector<std::vector<double>>& gpu_loads);

}  // namespace moesim::results
