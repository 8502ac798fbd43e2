#include "sim/step/lanes.h"

#include <map>

namespace moesim {

Lanes every_gpu(const StepCosts& costs) {
  Lanes lanes;
  lanes.of_stage.resize(costs.pp);
  for (int g = 0; g < costs.gpus; ++g) {
    lanes.gpu.push_back(g);
    lanes.of_gpu.push_back(g);
    lanes.of_stage[costs.layout.stage_of(g)].push_back(g);
  }
  return lanes;
}

Lanes identical_gpus(const StepCosts& costs, const std::vector<LayerTraffic>& layers, const MigrationTraffic& migration) {
  // A GPU's work, as the numbers that set its tasks' durations: its experts' compute and its EP
  // group's all-to-alls in each MoE layer of its stage, and its group's migration.
  std::vector<int> group_of(costs.stage_gpus);
  for (int g = 0; g < costs.groups; ++g) {
    for (int local : costs.ep_groups[g]) group_of[local] = g;
  }
  Lanes lanes;
  lanes.of_stage.resize(costs.pp);
  lanes.of_gpu.resize(costs.gpus);
  std::vector<int64_t> work;
  for (int stage = 0; stage < costs.pp; ++stage) {
    std::map<std::vector<int64_t>, int> seen;
    for (int local = 0; local < costs.stage_gpus; ++local) {
      const int g = group_of[local];
      work.clear();
      for (size_t moe = 0; moe < layers.size(); ++moe) {
        if (!costs.holds(stage, costs.moe_layers[moe])) continue;
        const LayerTraffic& t = layers[moe];
        work.push_back(t.experts_forward[local].picoseconds());
        work.push_back(t.a2a[g].time.picoseconds());
        work.push_back(t.a2a_combine[g].time.picoseconds());
        if (!t.etp_gather.empty())
          work.push_back(t.etp_gather[local / (costs.stage_gpus / static_cast<int>(t.etp_gather.size()))].time.picoseconds());
      }
      work.push_back(migration.groups[static_cast<size_t>(stage) * costs.groups + g].time.picoseconds());
      const int gpu = costs.layout.gpu(stage, local);
      const auto [it, added] = seen.emplace(work, static_cast<int>(lanes.gpu.size()));
      if (added) {
        lanes.gpu.push_back(gpu);
        lanes.of_stage[stage].push_back(it->second);
      }
      lanes.of_gpu[gpu] = it->second;
    }
  }
  return lanes;
}

}  // namespace moesim
