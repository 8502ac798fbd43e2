// Where experts live: each logical expert of each MoE layer maps to one or more EP ranks
// (replicas), each taking a share of that expert's tokens. The same placement is used by every
// expert-parallel group (they hold the same experts).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace moesim::policies {

struct Replica {
  int ep_rank = 0;
  double share = 1.0;  // fraction of the expert's tokens this replica processes
  bool operator==(const Replica&) const = default;
};

struct LayerPlacement {
  std::vector<std::vector<Replica>> replicas;  // [expert]
  bool operator==(const LayerPlacement&) const = default;
};

struct Placement {
  std::vector<LayerPlacement> layers;  // [moe layer]
  bool operator==(const Placement&) const = default;
};

// Tokens per expert per MoE layer, summed over ranks: [moe layer][expert].
using ExpertLoads = std::vector<std::vector<double>>;

struct PlacementShape {
  int moe_layers = 1;
  int experts = 1;
  int ep = 1;
};

// Rough linear costs of a placement, for policies that weigh a plan's gain against its moves.
struct PlacementCosts {
  double seconds_per_share = 0;  // per step: the busiest rank's time per unit of a layer's load share
  double seconds_per_move = 0;   // moving one expert's state between two GPUs of different nodes
  // per step: the busiest rank's all-to-all time per unit of a layer's token share whose
  // co-activated experts share a GPU (sent once instead of twice under a deduplicating dispatch)
  double seconds_per_kept_share = 0;
};

// How one plan's forecast compared with the loads of the steps that followed it.
struct ForecastScore {
  int first_step = 0;   // the first step the plan placed
  int steps = 0;        // steps scored (the horizon, or fewer at the end of the run)
  double error_pp = 0;  // mean absolute error of load proportions, percentage points
};

// What a policy asks the runner to show it besides each finished step's loads.
struct Observations {
  bool coactivation = false;  // each step's expert co-activation (StepLoads::coactivation)
  // The loads of this many coming steps, before it places the first of them: only the oracle,
  // the upper bound, asks, and no real system could answer.
  int lookahead = 0;
};

// One step as the runner shows it.
struct StepLoads {
  int step = 0;
  const ExpertLoads& loads;
  // When asked for: coactivation[(layer * experts + e) * experts + f] is the share of the layer's
  // tokens that chose both e and f. Empty otherwise.
  std::span<const double> coactivation = {};
};

// Decides the placement of every step from the steps it has seen. Not thread-safe; one instance
// per (policy, run).
class PlacementPolicy {
 public:
  virtual ~PlacementPolicy() = default;
  virtual std::string name() const = 0;
  virtual Observations observations() const { return {}; }
  // The placement for `step`; steps are asked for in order.
  virtual const Placement& placement_for(int step) = 0;
  // A finished step.
  virtual void observe(const StepLoads& finished) = 0;
  // A coming step, when observations().lookahead > 0: steps t .. t + lookahead - 1 before
  // placement_for(t).
  virtual void foresee(const StepLoads& /*coming*/) {}

  // For policies that plan from forecasts: the mean absolute error, in percentage points of load
  // proportion, of the forecasts their plans used against the loads that followed (as moesim
  // predict scores them); nothing when the policy forecasts nothing or no plan was scored yet.
  virtual std::optional<double> forecast_error_pp() const { return std::nullopt; }
  // The same per plan, in plan order: forecast_error_pp() is their mean.
  virtual std::vector<ForecastScore> forecast_scores() const { return {}; }
  // The runner's estimate of step-time costs, given once before the first step.
  virtual void set_costs(const PlacementCosts& /*costs*/) {}
};

// Where a placement starts (and where static placement stays):
//   contiguous:  expert e on rank e / (experts / ep)   (Megatron, DeepSpeed default)
//   round_robin: expert e on rank e % ep
enum class StaticLayout { kContiguous, kRoundRobin };

Placement static_placement(const PlacementShape& shape, StaticLayout layout);

// Each layer's loads as proportions of the layer's total (uniform for a layer with no tokens),
// flattened layer by layer: what the predictors take.
std::vector<float> load_proportions(const ExpertLoads& loads);

}  // namespace moesim::policies
