// Runs every policy of a scenario over the same gating, step by step.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/gating/source.h"
#include "models/gating/source_registry.h"
#include "policies/placement/placement.h"
#include "scenarios/scenario.h"
#include "sim/step/step_simulator.h"

namespace moesim {

struct PolicyRun {
  std::string label;
  std::vector<StepResult> steps;
  std::optional<double> forecast_error_pp;               // PlacementPolicy::forecast_error_pp() at the end
  std::vector<policies::ForecastScore> forecast_scores;  // and per plan
  // Tokens per expert, [step][MoE layer][expert], when routing depends on the placement (so
  // differs between policies); empty otherwise, when RunResult::expert_loads holds them.
  std::vector<int32_t> expert_loads;
  // The placement of step 0 and every later one that differs from the step before.
  std::vector<std::pair<int, policies::Placement>> placements;
};

// The steps, first to last inclusive, whose tasks a run hands to a TimelineSink.
struct TimelineSteps {
  int first = 0;
  int last = 0;
};

// Receives the tasks of one step of one policy (its index in the scenario), timed from the run's
// start, as soon as the step is simulated: nothing of the timeline is kept in memory.
using TimelineSink = std::function<void(int policy, const std::vector<TimelineSpan>& spans)>;

struct RunResult {
  std::vector<PolicyRun> policies;
  // Tokens per expert, [step][MoE layer][expert], that every policy saw; empty when routing
  // depends on the placement (PolicyRun::expert_loads).
  std::vector<int32_t> expert_loads;
};

// Called after every simulated step with (steps done, steps in total over all policies).
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

// The routing shape of a scenario: its MoE layers, ranks (the GPUs of a pipeline stage, each routing
// its own share of the tokens), experts, top-k, tokens per rank.
gating::GatingShape gating_shape(const scenarios::Scenario& scenario);

using scenarios::step_config;  // scenarios/scenario.h

// What the scenario's gating source is made for: its shape, seed, steps and routing, and the
// threads it may sample on.
gating::SourceContext source_context(const scenarios::Scenario& scenario, int threads = 1);

// The scenario's gating source (skewed, learned or trace replay), sampling on up to `threads`
// threads where it can (the skewed source, a step of a million counts or more); its routing is the
// same however many.
std::unique_ptr<gating::Source> make_gating_source(const scenarios::Scenario& scenario, int threads = 1);

// The placement policy a policy spec describes.
std::unique_ptr<policies::PlacementPolicy> make_placement_policy(const scenarios::Scenario& scenario, const scenarios::PolicySpec& spec);

// Tokens per expert per MoE layer, summed over source ranks.
policies::ExpertLoads expert_loads(const gating::RoutingMatrix& routing);

// What placement-aware routing sees of `placement` on the scenario's cluster.
gating::RoutingView routing_view(const scenarios::Scenario& scenario, const policies::Placement& placement);

// The most steps ahead any policy of the scenario reads (the oracle's horizon; 0 without one).
int run_lookahead(const scenarios::Scenario& scenario);

// Whether the run's own gating source routes `lookahead` steps ahead for the oracle, the steps
// waiting in a queue, rather than a second source with the same seed running ahead: where one
// routing serves every placement (not `per_placement`) and the queue, at most `lookahead` steps
// (or the run's steps), holds at most kLookAheadQueueBytes of routing matrices
// (routing_matrix_bytes each).
constexpr double kLookAheadQueueBytes = 256e6;
double routing_matrix_bytes(const scenarios::Scenario& scenario);
bool shares_gating_source(const scenarios::Scenario& scenario, int lookahead, bool per_placement);

// Deterministic: the same scenario gives the same result. Every policy sees the tokens that the
// same seed produces; under placement-aware routing (locmoe) each is routed under its own
// placement.
// `source` is the scenario's, fresh from make_gating_source(scenario): it is advanced from step 0.
// With `timeline`, the tasks of its steps go to `sink`. With `threads` above 1, the next step's
// routing may be drawn on another thread while a step is simulated (the result is the same).
RunResult run_scenario(const scenarios::Scenario& scenario, gating::Source& source, const ProgressFn& progress = nullptr,
                       std::optional<TimelineSteps> timeline = std::nullopt, const TimelineSink& sink = nullptr, int threads = 1);

}  // namespace moesim
