#include "sim/runner.h"

#include <algorithm>
#include <memory>

#include "models/gating/capacity.h"
#include "models/gating/source_registry.h"
#include "policies/placement/registry.h"

namespace moesim {
gating::GatingShape gating_shape(const scenarios::Scenario& s) {
  return {s.model.moe_layer_count(), s.parallelism.dp, s.model.experts, s.model.top_k, s.training.tokens_per_rank(s.parallelism)};
}

StepConfig step_config(const scenarios::Scenario& s, MigrationMode migration, int spare_slots) {
  return {s.cluster,
          s.model,
          s.parallelism.ep,
          s.parallelism.dp,
          s.training.tokens_per_rank(s.parallelism),
          s.training.seq_len,
          s.training.expert_execution,
          s.dispatch.dedup,
          migration,
          spare_slots};
}

gating::SourceContext source_context(const scenarios::Scenario& s) {
  return {gating_shape(s), s.seed, s.steps, s.gating.routing, s.model.capacity_factor};
}

std::unique_ptr<gating::Source> make_gating_source(const scenarios::Scenario& s) { return s.gating.source->make(source_context(s)); }

gating::RoutingView routing_view(const scenarios::Scenario& s, const policies::Placement& placement) {
  gating::RoutingView view;
  view.ep = s.parallelism.ep;
  for (int r = 0; r < s.parallelism.dp; ++r) view.node_of_rank.push_back(s.cluster.node_of(r));
  for (const auto& layer : placement.layers) {
    auto& hosts = view.hosts.emplace_back();
    for (const auto& replicas : layer.replicas) {
      std::vector<policies::Replica> sorted = replicas;
      std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.share > b.share; });
      auto& h = hosts.emplace_back();
      for (const auto& replica : sorted) h.push_back(replica.ep_rank);
    }
  }
  return view;
}

std::unique_ptr<policies::PlacementPolicy> make_placement_policy(const scenarios::Scenario& s, const scenarios::PolicySpec& spec) {
  const policies::PlacementShape shape{s.model.moe_layer_count(), s.model.experts, s.parallelism.ep};
  return spec.placement->make({shape, std::min(shape.ep, s.cluster.gpus_per_node), spec.layout, spec.spare_slots, spec.predictor.get()});
}

policies::ExpertLoads expert_loads(const gating::RoutingMatrix& routing) {
  policies::ExpertLoads loads(routing.layers());
  for (int l = 0; l < routing.layers(); ++l) {
    const auto counts = routing.expert_loads(l);
    loads[l].assign(counts.begin(), counts.end());
  }
  return loads;
}

RunResult run_scenario(const scenarios::Scenario& s, gating::Source& source, const ProgressFn& progress,
                       std::optional<TimelineSteps> timeline, const TimelineSink& sink) {
  const int64_t total = static_cast<int64_t>(s.steps) * static_cast<int64_t>(s.policies.size());
  int64_t done = 0;
  const bool capacity_mode = s.training.expert_execution == scenarios::ExpertExecution::kCapacity;
  const int64_t capacity =
      gating::expert_capacity(s.model.capacity_factor, s.training.tokens_per_rank(s.parallelism), s.model.top_k, s.model.experts);
  // Policies advance in lockstep: each step's routing is drawn once and every policy simulates it.
  struct PolicyState {
    std::unique_ptr<policies::PlacementPolicy> policy;
    std::unique_ptr<StepSimulator> simulator;
    Duration elapsed;  // simulated time before the current step
  };
  std::vector<PolicyState> states;
  RunResult result;
  int lookahead = 0;
  for (const auto& spec : s.policies) {
    states.push_back(
        {make_placement_policy(s, spec), std::make_unique<StepSimulator>(step_config(s, spec.migration, spec.spare_slots)), Duration()});
    states.back().policy->set_costs(states.back().simulator->placement_costs());
    lookahead = std::max(lookahead, states.back().policy->observations().lookahead);
    result.policies.emplace_back().label = spec.label;
    result.policies.back().steps.reserve(s.steps);
  }
  gating::RoutingMatrix routing(s.model.moe_layer_count(), s.parallelism.dp, s.model.experts);
  if (std::any_of(states.begin(), states.end(), [](const PolicyState& state) { return state.policy->observations().coactivation; })) {
    routing.enable_coactivation();
  }
  // Per-token destinations (RoutingMatrix::sends) depend on the placement too.
  const bool per_placement = source.placement_aware() || s.dispatch.dedup != scenarios::Dedup::kNone;
  policies::ExpertLoads loads;
  auto route = [&](int step, const gating::RoutingView& view, std::vector<int32_t>& record) {
    source.route(step, view, routing);
    if (capacity_mode) gating::apply_capacity(routing, capacity);
    loads = expert_loads(routing);
    for (const auto& layer : loads) {
      for (double tokens : layer) record.push_back(static_cast<int32_t>(tokens));
    }
  };
  // The oracle's view of the coming steps: a second source with the same seed, run ahead. Under
  // placement-aware routing it routes under the static contiguous placement: the routing under
  // the oracle's own placement would need its plan before it makes it.
  std::unique_ptr<gating::Source> ahead;
  gating::RoutingMatrix ahead_routing(s.model.moe_layer_count(), s.parallelism.dp, s.model.experts);
  int foreseen = 0;
  gating::RoutingView ahead_view;
  if (lookahead > 0) {
    ahead = make_gating_source(s);
    if (ahead->placement_aware()) {
      const policies::PlacementShape shape{s.model.moe_layer_count(), s.model.experts, s.parallelism.ep};
      ahead_view = routing_view(s, policies::static_placement(shape, policies::StaticLayout::kContiguous));
    }
  }
  std::vector<TimelineSpan> spans;
  for (int step = 0; step < s.steps; ++step) {
    for (; ahead && foreseen < std::min(s.steps, step + lookahead); ++foreseen) {
      ahead->route(foreseen, ahead_view, ahead_routing);
      if (capacity_mode) gating::apply_capacity(ahead_routing, capacity);
      const auto future = expert_loads(ahead_routing);
      for (auto& state : states) {
        if (state.policy->observations().lookahead > 0) state.policy->foresee({foreseen, future});
      }
    }
    if (!per_placement) route(step, gating::RoutingView{}, result.expert_loads);
    for (size_t i = 0; i < states.size(); ++i) {
      const policies::Placement& placement = states[i].policy->placement_for(step);
      if (per_placement) route(step, routing_view(s, placement), result.policies[i].expert_loads);
      result.policies[i].steps.push_back(states[i].simulator->simulate(routing, placement));
      if (sink && timeline && step >= timeline->first && step <= timeline->last) {
        spans.clear();
        states[i].simulator->append_timeline(step, states[i].elapsed, spans);
        sink(static_cast<int>(i), spans);
      }
      states[i].elapsed += result.policies[i].steps.back().step_time;
      if (states[i].simulator->placement_changed()) result.policies[i].placements.emplace_back(step, placement);
      const bool coactivation = states[i].policy->observations().coactivation;
      states[i].policy->observe({step, loads, coactivation ? routing.coactivation() : std::span<const double>()});
      if (progress) progress(++done, total);
    }
  }
  for (size_t i = 0; i < states.size(); ++i) {
    result.policies[i].forecast_error_pp = states[i].policy->forecast_error_pp();
    result.policies[i].forecast_scores = states[i].policy->forecast_scores();
  }
  return result;
}

}  // namespace moesim
