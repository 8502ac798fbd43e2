// DeepSeek's expert-parallelism load balancer (EPLB: github.com/deepseek-ai/EPLB, eplb.py as of
// d52c72d), written from its published algorithm so that a plan here is the plan EPLB gives:
//   hierarchical (when the nodes divide the expert groups): groups packed onto nodes, balanced;
//     inside each node, each extra slot to the expert with the highest load per replica; the
//     node's replicas packed onto its GPUs, the same number each;
//   global: the same with one group and one node (replicas anywhere).
// Packing takes items heaviest first and gives each to the lightest pack with room (the first
// such pack on a tie); replication picks the first expert on a tie. Loads are taken as 32-bit
// floats and summed in order, as EPLB's `weight.float()` makes them (exact for whole loads up to
// 2^24): the same ties and the same choices. Items of equal load keep their index order (PyTorch's
// CPU sort, stable at these sizes).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policies/placement/placement.h"

namespace moesim::policies {

enum class EplbMode { kHierarchical, kGlobal };
inline constexpr std::string_view kEplbModeNames[] = {"hierarchical", "global"};

struct EplbShape {
  int physical = 1;  // physical expert slots in all (EPLB's num_replicas), a multiple of `gpus`
  int groups = 1;    // expert groups (num_groups)
  int nodes = 1;
  int gpus = 1;  // a multiple of `nodes`
};

// EPLB's choice: hierarchical where the nodes divide the groups.
EplbMode eplb_default_mode(const EplbShape& shape);

// Why `shape` (with `experts` logical experts) cannot be planned in `mode`, or empty.
std::string eplb_shape_problem(int experts, const EplbShape& shape, EplbMode mode);

struct EplbPlan {
  int layers = 0, experts = 0, physical = 0;
  int max_count = 0;         // the most replicas of one expert, over every layer
  std::vector<int> phy2log;  // [layer][slot]: the expert in physical slot `slot` (GPU slot / per GPU)
  std::vector<int> replica;  // [layer][slot]: which of its expert's replicas that slot is
  std::vector<int> log2phy;  // [layer][expert][max_count]: the expert's slots, then -1
  std::vector<int> logcnt;   // [layer][expert]: its number of replicas
  int slot_expert(int layer, int slot) const { return phy2log[static_cast<size_t>(layer) * physical + slot]; }
};

// Plans every layer of `loads` ([layer][expert], each expert's load). Throws
// std::invalid_argument with eplb_shape_problem's reason.
EplbPlan rebalance_experts(const std::vector<std::vector<double>>& loads, const EplbShape& shape, EplbMode mode);

// Layer `layer` of `plan` as a placement over `gpus` EP ranks: each slot a replica with 1 / count
// of its expert's tokens (two slots of an expert on one GPU: one replica with both shares).
LayerPlacement layer_placement(const EplbPlan& plan, int layer, int gpus);

}  // namespace moesim::policies
