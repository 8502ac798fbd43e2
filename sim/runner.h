// Runs every policy of a scenario over the same gating, step by step.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/gating/source.h"
#include "scenarios/scenario.h"
#include "sim/step_simulator.h"

namespace moesim {

struct PolicyRun {
  std::string label;
  std::vector<StepResult> steps;
};

struct RunResult {
  std::vector<PolicyRun> policies;
};

// Called after every simulated step with (steps done, steps in total over all policies).
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

// The routing shape of a scenario: its MoE layers, data-parallel ranks, experts, top-k, tokens.
gating::GatingShape gating_shape(const scenarios::Scenario& scenario);

// The scenario's gating source (skewed, learned or trace replay).
std::unique_ptr<gating::Source> make_gating_source(const scenarios::Scenario& scenario);

// Deterministic: the same scenario gives the same result. Every policy sees the routing that the
// same seed produces.
// `source` is the scenario's, fresh from make_gating_source(scenario): it is advanced from step 0.
RunResult run_scenario(const scenarios::Scenario& scenario, gating::Source& source, const ProgressFn& progress = nullptr);

}  // namespace moesim
