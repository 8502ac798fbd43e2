#include "results/eplb_outputs.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>

namespace moesim::results {

using nlohmann::json;

std::vector<std::vector<double>> eplb_gpu_loads(const policies::EplbPlan& plan, int gpus, const std::vector<std::vector<double>>& loads) {
  const int per_gpu = plan.physical / gpus;
  std::vector<std::vector<double>> out(plan.layers, std::vector<double>(gpus, 0.0));
  for (int l = 0; l < plan.layers; ++l) {
    for (int s = 0; s < plan.physical; ++s) {
      const int e = plan.slot_expert(l, s);
      out[l][s / per_gpu] += loads[l][e] / plan.logcnt[static_cast<size_t>(l) * plan.experts + e];
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> eplb_output_files(const policies::EplbPlan& plan, const policies::EplbShape& shape,
                                                                   policies::EplbMode mode,
                                                                   const std::vector<std::vector<double>>& gpu_loads) {
  const int per_gpu = plan.physical / shape.gpus;
  std::ostringstream phy2log, log2phy, logcnt, loads;
  phy2log << "layer,slot,gpu,expert,replica\n";
  log2phy << "layer,expert,replica,slot\n";
  logcnt << "layer,expert,count\n";
  loads << "layer,gpu,load\n";
  json j_phy2log = json::array(), j_log2phy = json::array(), j_logcnt = json::array();
  for (int l = 0; l < plan.layers; ++l) {
    json layer_phy = json::array(), layer_log = json::array(), layer_cnt = json::array();
    for (int s = 0; s < plan.physical; ++s) {
      const size_t i = static_cast<size_t>(l) * plan.physical + s;
      phy2log << l << ',' << s << ',' << s / per_gpu << ',' << plan.phy2log[i] << ',' << plan.replica[i] << '\n';
      layer_phy.push_back(plan.phy2log[i]);
    }
    for (int e = 0; e < plan.experts; ++e) {
      const int count = plan.logcnt[static_cast<size_t>(l) * plan.experts + e];
      logcnt << l << ',' << e << ',' << count << '\n';
      layer_cnt.push_back(count);
      json slots = json::array();
      for (int r = 0; r < plan.max_count; ++r) {
        const int slot = plan.log2phy[(static_cast<size_t>(l) * plan.experts + e) * plan.max_count + r];
        if (slot >= 0) log2phy << l << ',' << e << ',' << r << ',' << slot << '\n';
        slots.push_back(slot);
      }
      layer_log.push_back(std::move(slots));
    }
    for (size_t g = 0; g < gpu_loads[l].size(); ++g) {
      char load[64];
      std::snprintf(load, sizeof load, "%.17g", gpu_loads[l][g]);
      loads << l << ',' << g << ',' << load << '\n';
    }
    j_phy2log.push_back(std::move(layer_phy));
    j_log2phy.push_back(std::move(layer_log));
    j_logcnt.push_back(std::move(layer_cnt));
  }
  const json document = {{"num_replicas", shape.physical},
                         {"num_groups", shape.groups},
                         {"num_nodes", shape.nodes},
                         {"num_gpus", shape.gpus},
                         {"mode", std::string(policies::kEplbModeNames[static_cast<int>(mode)])},
                         {"phy2log", std::move(j_phy2log)},
                         {"log2phy", std::move(j_log2phy)},
                         {"logcnt", std::move(j_logcnt)}};
  return {{"phy2log.csv", phy2log.str()},
          {"log2phy.csv", log2phy.str()},
          {"logcnt.csv", logcnt.str()},
          {"gpu_loads.csv", loads.str()},
          {"eplb.json", document.dump() + "\n"}};
}

}  // namespace moesim::results
