// Which GPU holds which coordinate of the parallel layout, in Megatron-Core's default order.
//
// Dense layers: rank = tp + TP * (cp + CP * (dp + DP * pp)): tensor parallelism innermost, so a
// TP group sits inside a node where it fits, then context, then data parallelism, then the
// pipeline stage outermost. A stage's GPUs are the `stage_gpus` = tp x cp x dp consecutive ranks.
//
// MoE layers fold onto the same GPUs of a stage (Megatron's "MoE parallel folding"): its local
// index = etp + ETP * (ep + EP * edp), so expert tensor parallelism is innermost, then expert
// parallelism, then the expert-data-parallel replicas. This needs ep x etp to divide tp x cp x dp,
// and puts an EP group inside a node where ep x etp GPUs fit in one. With ep_layout spread the
// last two swap, local = etp + ETP * (edp + EDP * ep): an EP group's ranks are ETP x EDP GPUs
// apart, across nodes, and each expert's replicas sit side by side.
//
// Routing ranks (gating::RoutingMatrix rows) are numbered by EP group, then EP rank: rank
// group x ep + i is GPU ep_group(stage, group)[i]; with ep_layout packed and etp 1, the local index.
#pragma once

#include <vector>

#include "sim/step/step_config.h"

namespace moesim {

struct RankCoordinates {
  int tp = 0, cp = 0, dp = 0, pp = 0;  // dense layers
  int etp = 0, ep = 0, edp = 0;        // MoE layers
};

class ParallelLayout {
 public:
  explicit ParallelLayout(const Parallelism& p) : p_(p) {}

  int gpus() const { return p_.gpus(); }
  int stage_gpus() const { return p_.stage_gpus(); }
  int gpu(int stage, int local) const { return stage * p_.stage_gpus() + local; }
  int stage_of(int gpu) const { return gpu / p_.stage_gpus(); }
  int local_of(int gpu) const { return gpu % p_.stage_gpus(); }
  RankCoordinates coordinates(int gpu) const;
  // The local index of (etp, ep, edp) coordinates.
  int expert_local(int etp_rank, int ep_rank, int edp_rank) const;

  // EP groups of a stage: each holds every expert once (with etp = 1, `ep` consecutive GPUs).
  int ep_groups() const { return p_.expert_dp() * p_.etp; }
  std::vector<int> ep_group(int stage, int group) const;
  // How many of an EP group's ranks share a node of `gpus_per_node` GPUs (the first group's, on
  // the first node: the same for every group where the layout is regular).
  int ep_ranks_per_node(int gpus_per_node) const;
  // The GPUs of a stage that hold the same experts (the same ep and etp coordinates).
  std::vector<int> expert_dp_group(int stage, int ep_rank, int etp_rank = 0) const;
  // The GPUs that reduce a dense gradient together: same stage and tp coordinate, every cp and dp.
  std::vector<int> dense_dp_group(int gpu) const;
  std::vector<int> tp_group(int gpu) const;
  // The GPUs that split each of the same experts' GEMMs (same stage, ep and expert-dp coordinates).
  std::vector<int> etp_group(int gpu) const;
  std::vector<int> cp_group(int gpu) const;

 private:
  Parallelism p_;
};

// The model's layers in contiguous runs over pp x vp virtual stages, as evenly as they divide; the
// first and last virtual stages, which also hold the embedding and the LM head, are the last to get
// a remainder layer. The `mtp_layers` prediction modules' layers (numbered from `model_layers` on)
// count in the split and all sit on the last virtual stage: DeepSeek-V3's 61 layers and one module
// over 32 virtual stages give Megatron-Bridge's layout for it, Et|(tt|)*30mL (the embedding and
// one layer, thirty runs of two, the module and the loss).
std::vector<std::vector<int>> split_layers(int model_layers, int virtual_stages, int mtp_layers = 0);

// The layers of each of `virtual_stages` virtual stages: the explicit layout where the parallelism
// gives one (checked against the model by check_pipeline_layout), else the even split above.
std::vector<std::vector<int>> stage_layers(const models::MoeModel& m, const Parallelism& p, int virtual_stages);

// The virtual stage that holds the prediction modules (all on one: pipeline_layout.h), or -1
// without them. The last, unless a layout gives them a stage of their own before the loss's.
int mtp_virtual_stage(const models::MoeModel& m, const std::vector<std::vector<int>>& stages);

}  // namespace moesim
