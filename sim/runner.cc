#include "sim/runner.h"

#include <memory>

#include "models/gating/capacity.h"
#include "models/gating/learned_source.h"
#include "models/gating/skewed_source.h"
#include "models/gating/trace_source.h"
#include "policies/placement/static_placement.h"

namespace moesim {
gating::GatingShape gating_shape(const scenarios::Scenario& s) {
  return {s.model.moe_layer_count(), s.parallelism.dp, s.model.experts, s.model.top_k, s.training.tokens_per_rank(s.parallelism)};
}

std::unique_ptr<gating::Source> make_gating_source(const scenarios::Scenario& s) {
  if (s.gating.source == scenarios::GatingSourceKind::kTrace) {
    return std::make_unique<gating::TraceSource>(s.gating.trace_path, gating_shape(s), s.steps);
  }
  if (s.gating.source == scenarios::GatingSourceKind::kLearned) {
    gating::LearnedSourceParams p = s.gating.learned;
    p.shape = gating_shape(s);
    p.seed = s.seed;
    return std::make_unique<gating::LearnedSource>(p);
  }
  gating::SkewedSourceParams p = s.gating.skewed;
  p.shape = gating_shape(s);
  p.seed = s.seed;
  return std::make_unique<gating::SkewedSource>(p);
}

namespace {

std::unique_ptr<policies::PlacementPolicy> make_policy(const scenarios::Scenario& s, const scenarios::PolicySpec& spec) {
  const policies::PlacementShape shape{s.model.moe_layer_count(), s.model.experts, s.parallelism.ep};
  return std::make_unique<policies::StaticPolicy>(shape, spec.layout);
}

policies::ExpertLoads loads_of(const gating::RoutingMatrix& routing) {
  policies::ExpertLoads loads(routing.layers());
  for (int l = 0; l < routing.layers(); ++l) {
    const auto counts = routing.expert_loads(l);
    loads[l].assign(counts.begin(), counts.end());
  }
  return loads;
}

}  // namespace

RunResult run_scenario(const scenarios::Scenario& s, gating::Source& source, const ProgressFn& progress) {
  const int64_t total = static_cast<int64_t>(s.steps) * static_cast<int64_t>(s.policies.size());
  int64_t done = 0;
  const bool capacity_mode = s.training.expert_execution == scenarios::ExpertExecution::kCapacity;
  const int64_t capacity = gating::expert_capacity(s.model.capacity_factor, s.training.tokens_per_rank(s.parallelism),
                                                   s.model.top_k, s.model.experts);
  // Policies advance in lockstep: each step's routing is drawn once and every policy simulates it.
  struct PolicyState {
    std::unique_ptr<policies::PlacementPolicy> policy;
    std::unique_ptr<StepSimulator> simulator;
  };
  std::vector<PolicyState> states;
  RunResult result;
  for (const auto& spec : s.policies) {
    states.push_back({make_policy(s, spec), std::make_unique<StepSimulator>(s)});
    result.policies.push_back(PolicyRun{spec.label, {}});
    result.policies.back().steps.reserve(s.steps);
  }
  gating::RoutingMatrix routing(s.model.moe_layer_count(), s.parallelism.dp, s.model.experts);
  for (int step = 0; step < s.steps; ++step) {
    source.next(step, routing);
    if (capacity_mode) gating::apply_capacity(routing, capacity);
    const policies::ExpertLoads loads = loads_of(routing);
    for (size_t i = 0; i < states.size(); ++i) {
      result.policies[i].steps.push_back(states[i].simulator->simulate(routing, states[i].policy->placement_for(step)));
      states[i].policy->observe(step, loads);
      if (progress) progress(++done, total);
    }
  }
  return result;
}

}  // namespace moesim
