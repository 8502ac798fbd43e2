// A scenario as plain structs: what the loader produces and the runner consumes. No YAML here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hardware/specs.h"
#include "models/moe_model.h"
#include "sim/step/step_config.h"

namespace moesim::gating {
class SourceConfig;   // models/gating/source_registry.h
class RoutingConfig;  // models/gating/routing/routing_rule.h
}  // namespace moesim::gating

namespace moesim::policies {
class PlacementConfig;  // policies/placement/registry.h
class PredictorConfig;  // policies/predictors/registry.h
enum class StaticLayout;
}  // namespace moesim::policies

namespace moesim::scenarios {

// Expert parallelism (EP) splits each MoE layer's experts over `ep` GPUs; data parallelism (DP)
// replicates dense layers over `dp` GPUs. Tensor and pipeline parallelism are not modelled, so
// dp is the GPU count, and each expert has dp / ep replicas (expert-data-parallel degree).
struct ParallelismSpec {
  int ep = 1;
  int dp = 1;
  int edp() const { return dp / ep; }
};

// The step model's vocabulary (sim/step/step_config.h), named here as the scenario names it.
using moesim::Dedup;
using moesim::ExpertExecution;
using moesim::MigrationMode;

struct TrainingSpec {
  int64_t tokens_per_step = 524288;
  int seq_len = 2048;
  ExpertExecution expert_execution = ExpertExecution::kDropless;
  int64_t tokens_per_rank(const ParallelismSpec& p) const { return tokens_per_step / p.dp; }
};

struct DispatchSpec {
  Dedup dedup = Dedup::kNone;
};

// Where each step's routing comes from and how tokens choose experts: registry entries with their
// settings (gating.source: models/gating/source_registry.h; gating.routing:
// models/gating/routing/routing_rule.h). Their shape and seed come from the rest of the scenario.
struct GatingSpec {
  std::shared_ptr<const gating::SourceConfig> source;
  std::shared_ptr<const gating::RoutingConfig> routing;  // how the synthetic sources route (trace: as recorded)
};

// One placement policy to compare: a registry entry (policies/placement/registry.h: static,
// predictive, replicated, phase_aware, affinity, oracle) with its own settings, and the keys all
// policies share.
struct PolicySpec {
  std::string label;  // shown in tables; the entry's label unless given
  std::shared_ptr<const policies::PlacementConfig> placement;
  policies::StaticLayout layout{};                             // static: where experts stay; the others: where they start
  std::shared_ptr<const policies::PredictorConfig> predictor;  // the policies that forecast
  MigrationMode migration = MigrationMode::kOverlapped;
  int spare_slots = 0;  // expert slots per GPU beyond experts / ep (replicated, phase_aware: 1 unless set)
  // The entry's name ("static", "oracle" ...).
  std::string_view placement_name() const;
};

// What the cluster costs to rent, for the cost per million tokens; 0 when not given.
struct CostSpec {
  double gpu_hour = 0;  // price of one GPU for one hour, in the planner's currency
};

struct Scenario {
  std::string name;
  std::string source_file;  // where it was loaded from (for messages), not part of the result
  uint64_t seed = 1;
  int steps = 100;
  hardware::ClusterSpec cluster;
  models::MoeModel model;
  ParallelismSpec parallelism;
  TrainingSpec training;
  DispatchSpec dispatch;
  GatingSpec gating;
  std::vector<PolicySpec> policies;
  CostSpec cost;
  std::string output_dir;
};

const char* to_string(ExpertExecution e);
const char* to_string(Dedup d);

}  // namespace moesim::scenarios
