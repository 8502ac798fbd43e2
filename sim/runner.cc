#include "sim/runner.h"

#include <algorithm>
#include <deque>
#include <future>
#include <memory>
#include <stdexcept>

#include "models/gating/capacity.h"
#include "models/gating/source_registry.h"
#include "policies/placement/registry.h"
#include "sim/step/parallel_layout.h"

namespace moesim {
gating::GatingShape gating_shape(const scenarios::Scenario& s) {
  return {s.model.moe_layer_count(), s.parallelism.stage_gpus(), s.model.experts, s.model.top_k, s.training.tokens_per_rank(s.parallelism),
          s.model.expert_groups,     s.model.topk_groups};
}

gating::SourceContext source_context(const scenarios::Scenario& s, int threads) {
  return {gating_shape(s), s.seed, s.steps, s.gating.routing, s.model.capacity_factor, threads};
}

std::unique_ptr<gating::Source> make_gating_source(const scenarios::Scenario& s, int threads) {
  return s.gating.source->make(source_context(s, threads));
}

gating::RoutingView routing_view(const scenarios::Scenario& s, const policies::Placement& placement) {
  gating::RoutingView view;
  view.ep = s.parallelism.ep;
  // Routing ranks are the GPUs of a stage by EP group and rank; every stage is laid out as the first.
  const ParallelLayout layout(s.parallelism);
  for (int g = 0; g < layout.ep_groups(); ++g) {
    for (int gpu : layout.ep_group(0, g)) view.node_of_rank.push_back(s.cluster.node_of(gpu));
  }
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
  const int ranks_per_node = ParallelLayout(s.parallelism).ep_ranks_per_node(s.cluster.gpus_per_node);
  return spec.placement->make({shape, ranks_per_node, spec.layout, spec.spare_slots, spec.predictor.get()});
}

policies::ExpertLoads expert_loads(const gating::RoutingMatrix& routing) {
  policies::ExpertLoads loads(routing.layers());
  for (int l = 0; l < routing.layers(); ++l) {
    const auto counts = routing.expert_loads(l);
    loads[l].assign(counts.begin(), counts.end());
  }
  return loads;
}

double routing_matrix_bytes(const scenarios::Scenario& s) {
  const double layers = s.model.moe_layer_count(), experts = s.model.experts;
  // Counts, drops and sends per (layer, rank, expert); the loads; pair shares where kept.
  return layers * (s.parallelism.stage_gpus() * experts * 12 + experts * 8 + experts * experts * 8);
}

bool shares_gating_source(const scenarios::Scenario& s, int lookahead, bool per_placement) {
  return !per_placement && std::min(lookahead, s.steps) * routing_matrix_bytes(s) <= kLookAheadQueueBytes;
}

int run_lookahead(const scenarios::Scenario& s) {
  int lookahead = 0;
  for (const auto& spec : s.policies) lookahead = std::max(lookahead, make_placement_policy(s, spec)->observations().lookahead);
  return lookahead;
}

namespace {

// Policies advance in lockstep: each step's routing is drawn once and every policy simulates it.
struct PolicyState {
  std::unique_ptr<policies::PlacementPolicy> policy;
  std::unique_ptr<StepSimulator> simulator;
  Duration elapsed;  // simulated time before the current step
};

// One step's routing, capacity applied where it applies, and its loads.
struct Routed {
  gating::RoutingMatrix routing;
  policies::ExpertLoads loads;
};

// A source's routing step by step. Steps routed ahead (route_ahead) wait in a queue that route()
// takes them from, in order.
class StepRouter {
 public:
  StepRouter(const scenarios::Scenario& s, gating::Source& source)
      : source_(source),
        current_{gating::RoutingMatrix(s.model.moe_layer_count(), s.parallelism.stage_gpus(), s.model.experts), {}},
        capacity_mode_(s.training.expert_execution == scenarios::ExpertExecution::kCapacity),
        capacity_(
            gating::expert_capacity(s.model.capacity_factor, s.training.tokens_per_rank(s.parallelism), s.model.top_k, s.model.experts)) {}
  // Routes `step` under `view`, or takes it from the queue; its loads are appended to `record`,
  // [MoE layer][expert].
  const policies::ExpertLoads& route(int step, const gating::RoutingView& view, std::vector<int32_t>* record = nullptr) {
    if (prerouted_) {
      if (prerouted_->step != step) throw std::logic_error("routed a step other than the one prerouted");
      std::swap(current_.loads, prerouted_->loads);
      prerouted_.reset();
    } else if (queued_.empty()) {
      route_into(step, view, current_);
    } else {
      std::swap(current_, queued_.front());
      spare_.push_back(std::move(queued_.front()));
      queued_.pop_front();
    }
    if (record) {
      for (const auto& layer : current_.loads) {
        for (double tokens : layer) record->push_back(static_cast<int32_t>(tokens));
      }
    }
    return current_.loads;
  }
  // Routes the step after the last one routed, without a placement, into the queue.
  const policies::ExpertLoads& route_ahead(int step) {
    if (spare_.empty()) spare_.push_back(current_);  // the same shape and coactivation
    queued_.push_back(std::move(spare_.back()));
    spare_.pop_back();
    route_into(step, gating::RoutingView{}, queued_.back());
    return queued_.back().loads;
  }
  // Routes `step` (without a placement, the queue empty) into the routing matrix while the loads
  // of the step before stay what loads() gives: the step before's simulation may still run, once it
  // no longer reads the routing. The next route() takes it.
  void preroute(int step) { prerouted_.emplace(Prerouted{step, route_loads(step, gating::RoutingView{}, current_.routing)}); }
  // The routing of the step route_ahead() routed last.
  const gating::RoutingMatrix& routed_ahead() const { return queued_.back().routing; }
  gating::RoutingMatrix& routing() { return current_.routing; }
  const policies::ExpertLoads& loads() const { return current_.loads; }

 private:
  void route_into(int step, const gating::RoutingView& view, Routed& out) { out.loads = route_loads(step, view, out.routing); }
  // Routes `step` into `routing`, capacity applied, and returns its loads.
  policies::ExpertLoads route_loads(int step, const gating::RoutingView& view, gating::RoutingMatrix& routing) {
    source_.route(step, view, routing);
    if (capacity_mode_) gating::apply_capacity(routing, capacity_);
    return expert_loads(routing);
  }

  struct Prerouted {
    int step;
    policies::ExpertLoads loads;
  };
  gating::Source& source_;
  Routed current_;
  std::optional<Prerouted> prerouted_;
  std::deque<Routed> queued_;
  std::vector<Routed> spare_;  // queue entries taken, reused
  bool capacity_mode_;
  int64_t capacity_;
};

// The oracle's view of the coming steps. Where one routing serves every placement and the queue
// fits, the run's own router routes ahead; otherwise a second source with the same seed runs
// ahead. Under placement-aware routing that one routes under the static contiguous placement: the
// routing under the oracle's own placement would need its plan before it makes it.
class LookAhead {
 public:
  // `coactivation`: some policy that looks ahead also sees each coming step's co-activation (the
  // shared router's matrices already keep it).
  LookAhead(const scenarios::Scenario& s, int steps_ahead, StepRouter* shared, bool coactivation)
      : steps_(s.steps), ahead_(steps_ahead), shared_(shared) {
    if (shared_) return;
    source_ = make_gating_source(s);
    router_.emplace(s, *source_);
    if (coactivation) router_->routing().enable_coactivation();
    if (source_->placement_aware()) {
      const policies::PlacementShape shape{s.model.moe_layer_count(), s.model.experts, s.parallelism.ep};
      view_ = routing_view(s, policies::static_placement(shape, policies::StaticLayout::kContiguous));
    }
  }
  // Shows the policies that ask for it every step up to `step` + lookahead not yet shown.
  void show(int step, std::vector<PolicyState>& states) {
    for (; foreseen_ < std::min(steps_, step + ahead_); ++foreseen_) {
      const auto& future = shared_ ? shared_->route_ahead(foreseen_) : router_->route(foreseen_, view_);
      const gating::RoutingMatrix& routing = shared_ ? shared_->routed_ahead() : router_->routing();
      for (auto& state : states) {
        const policies::Observations wants = state.policy->observations();
        if (wants.lookahead > 0)
          state.policy->foresee({foreseen_, future, wants.coactivation ? routing.coactivation() : std::span<const double>()});
      }
    }
  }

 private:
  int steps_, ahead_, foreseen_ = 0;
  StepRouter* shared_;
  std::unique_ptr<gating::Source> source_;
  std::optional<StepRouter> router_;
  gating::RoutingView view_;
};

std::vector<PolicyState> policy_states(const scenarios::Scenario& s, RunResult& result) {
  std::vector<PolicyState> states;
  for (const auto& spec : s.policies) {
    states.push_back(
        {make_placement_policy(s, spec), std::make_unique<StepSimulator>(step_config(s, spec.migration, spec.spare_slots)), Duration()});
    states.back().policy->set_costs(states.back().simulator->placement_costs());
    result.policies.emplace_back().label = spec.label;
    result.policies.back().steps.reserve(s.steps);
  }
  return states;
}

// The first policy before `i` whose step policy `i` may take this step (StepSimulator::repeat), or
// i. Simulators are twins where their policies ask for the same step configuration (of a policy's
// keys, scenarios::step_config() reads only these two).
size_t find_twin(const std::vector<scenarios::PolicySpec>& specs, const std::vector<PolicyState>& states, size_t i,
                 const policies::Placement& placement) {
  for (size_t j = 0; j < i; ++j) {
    if (specs[j].migration == specs[i].migration && specs[j].spare_slots == specs[i].spare_slots &&
        states[i].simulator->would_repeat(*states[j].simulator, placement))
      return j;
  }
  return i;
}

}  // namespace

RunResult run_scenario(const scenarios::Scenario& s, gating::Source& source, const ProgressFn& progress,
                       std::optional<TimelineSteps> timeline, const TimelineSink& sink, int threads) {
  const int64_t total = static_cast<int64_t>(s.steps) * static_cast<int64_t>(s.policies.size());
  int64_t done = 0;
  RunResult result;
  std::vector<PolicyState> states = policy_states(s, result);
  int lookahead = 0;
  for (const auto& state : states) lookahead = std::max(lookahead, state.policy->observations().lookahead);
  StepRouter router(s, source);
  const bool coactivation =
      std::any_of(states.begin(), states.end(), [](const PolicyState& state) { return state.policy->observations().coactivation; });
  if (coactivation) router.routing().enable_coactivation();
  // Per-token destinations (RoutingMatrix::sends) depend on the placement too.
  const bool per_placement = source.placement_aware() || s.dispatch.dedup != scenarios::Dedup::kNone;
  std::optional<LookAhead> ahead;
  if (lookahead > 0) ahead.emplace(s, lookahead, shares_gating_source(s, lookahead, per_placement) ? &router : nullptr, coactivation);
  // With a second thread, the next step's routing is drawn while the last policy's step is
  // simulated, from the moment it has read the routing: where one routing serves every policy and
  // no policy reads anything of it beyond the loads (no look-ahead, no co-activation). The source is
  // called as it would be otherwise, in order, so nothing changes but when.
  const bool pipelined = threads > 1 && !per_placement && !ahead && !coactivation;
  std::future<void> next_routing;
  std::vector<TimelineSpan> spans;
  for (int step = 0; step < s.steps; ++step) {
    if (ahead) ahead->show(step, states);
    if (next_routing.valid()) next_routing.get();
    if (!per_placement) router.route(step, gating::RoutingView{}, &result.expert_loads);
    const bool route_next = pipelined && step + 1 < s.steps;
    const auto start_next = [&] { next_routing = std::async(std::launch::async, [&router, step] { router.preroute(step + 1); }); };
    for (size_t i = 0; i < states.size(); ++i) {
      PolicyState& state = states[i];
      PolicyRun& run = result.policies[i];
      const policies::Placement& placement = state.policy->placement_for(step);
      if (per_placement) router.route(step, routing_view(s, placement), &run.expert_loads);
      const bool shown = sink && timeline && step >= timeline->first && step <= timeline->last;
      // Policies often agree (every one places statically until its warmup ends): a policy whose
      // simulator is another's twin, on the same routing, from and to the same placements, takes
      // that one's step rather than simulating it again.
      const size_t twin = per_placement || shown ? i : find_twin(s.policies, states, i, placement);
      if (twin < i) {
        state.simulator->repeat(placement);
        run.steps.push_back(result.policies[twin].steps.back());
      } else if (route_next && i + 1 == states.size()) {
        run.steps.push_back(state.simulator->simulate(router.routing(), placement, start_next));
      } else {
        run.steps.push_back(state.simulator->simulate(router.routing(), placement));
      }
      if (shown) {
        spans.clear();
        state.simulator->append_timeline(step, state.elapsed, spans);
        sink(static_cast<int>(i), spans);
      }
      state.elapsed += run.steps.back().step_time;
      if (state.simulator->placement_changed()) run.placements.emplace_back(step, placement);
      const bool wants_coactivation = state.policy->observations().coactivation;
      state.policy->observe({step, router.loads(), wants_coactivation ? router.routing().coactivation() : std::span<const double>()});
      if (progress) progress(++done, total);
    }
    // The last policy took a twin's step: nothing overlaps, but the next step is routed the same way.
    if (route_next && !next_routing.valid()) start_next();
  }
  if (next_routing.valid()) next_routing.get();
  for (size_t i = 0; i < states.size(); ++i) {
    result.policies[i].forecast_error_pp = states[i].policy->forecast_error_pp();
    result.policies[i].forecast_scores = states[i].policy->forecast_scores();
  }
  return result;
}

}  // namespace moesim
