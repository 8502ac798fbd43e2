// The GPUs a step's DAG simulates. A lane is one GPU standing for every GPU that does exactly the
// same work: the same expert compute and the same collectives in every layer of its stage. With
// balanced routing a whole stage is one lane, so a 2,048-GPU step costs what its pipeline does;
// where loads differ per GPU (skewed routing, placements that move experts) every distinct GPU is
// its own lane, up to all of them. Under a network model whose collectives share links, every
// GPU is simulated: a collective's time depends on the others running at the same moment.
#pragma once

#include <vector>

#include "sim/step/step_costs.h"
#include "sim/step/traffic.h"

namespace moesim {

struct Lanes {
  std::vector<int> gpu;                    // lane -> the GPU it simulates
  std::vector<int> of_gpu;                 // GPU -> the lane that stands for it
  std::vector<std::vector<int>> of_stage;  // stage -> its lanes
  int count() const { return static_cast<int>(gpu.size()); }
};

// Every GPU its own lane.
Lanes every_gpu(const StepCosts& costs);

// One lane per set of GPUs of a stage that do the same work in this step.
Lanes identical_gpus(const StepCosts& costs, const std::vector<LayerTraffic>& layers, const MigrationTraffic& migration);

}  // namespace moesim
