// One synchronous training step as a task DAG on every GPU's compute and communication streams,
// run on the event engine. The parts, each in its own file: the step-invariant cost model
// (step_costs.h), the traffic of each step's routing under its placement (traffic.h), the DAG
// builder (step_dag.h, which says what the step does), the network model behind one interface
// (network/network_model.h), and the observers of the finished tasks: the metrics
// (step_metrics.h) and the timeline (step_timeline.h). The step time is the critical path.
//
// Step-invariant costs are computed once at construction. Not thread-safe.
#pragma once

#include <functional>

#include <memory>
#include <optional>
#include <vector>

#include "models/gating/routing_matrix.h"
#include "policies/placement/placement.h"
#include "sim/engine/task_graph.h"
#include "sim/network/network_model.h"
#include "sim/step/step_config.h"
#include "sim/step/step_costs.h"
#include "sim/step/step_dag.h"
#include "sim/step/step_metrics.h"
#include "sim/step/step_timeline.h"
#include "sim/step/traffic.h"

namespace moesim {

class StepSimulator {
 public:
  explicit StepSimulator(const StepConfig& config);
  StepSimulator(const StepSimulator&) = delete;
  StepSimulator& operator=(const StepSimulator&) = delete;

  // Simulates one step with this routing (capacity already applied where it applies) and placement.
  // When the placement differs from the previous step's, the step first migrates expert state
  // (policies/placement/migration.h): parameters, gradients and optimizer state of every moved
  // expert, as traffic in every EP group. The first step's placement is where training starts.
  // `routing_read`, if given, is called once the routing has been read for the last time in the
  // step: the rest (the task graph) reads only what was drawn from it, and the caller may write the
  // next step's routing meanwhile.
  StepResult simulate(const gating::RoutingMatrix& routing, const policies::Placement& placement,
                      const std::function<void()>& routing_read = nullptr);

  // Whether simulating `routing` under `placement` now would give `twin`'s last result, so that
  // repeat() may take it instead: `twin` simulated this same routing last (the caller knows) with a
  // simulator of this one's configuration (the caller knows), from the placement this one holds
  // now, into `placement`. The step is then the same function of the same inputs.
  bool would_repeat(const StepSimulator& twin, const policies::Placement& placement) const;
  // Takes the step would_repeat() found, without simulating it: the placement moves on as
  // simulate() would move it; its result is the twin's. The timeline and the DAG accessors below
  // keep showing the last step this simulator simulated itself.
  void repeat(const policies::Placement& placement);

  // Linear estimates of step-time costs for policies that weigh gains against moves (step_costs.h).
  policies::PlacementCosts placement_costs() const { return moesim::placement_costs(config_, costs_); }

  // Whether the last simulated step's placement differed from the step before (true for the
  // first step).
  bool placement_changed() const { return placement_changed_; }

  // Appends the last simulated step's tasks, one span per GPU stream they occupy, with `offset`
  // added to their times (where the step starts within the run).
  void append_timeline(int step, Duration offset, std::vector<TimelineSpan>& out) const {
    moesim::append_timeline(executed(), step, offset, out);
  }

  // The DAG of the last simulated step, the GPUs it simulated and its schedule (for tests and the
  // timeline).
  const engine::TaskGraph& graph() const { return graph_; }
  const Lanes& lanes() const { return lanes_; }
  const engine::Schedule& schedule() const { return schedule_; }
  int gpu_count() const { return costs_.gpus; }

  static engine::ResourceId compute_stream(int lane) { return moesim::compute_stream(lane); }
  static engine::ResourceId comm_stream(int lane) { return moesim::comm_stream(lane); }

 private:
  // The placement moves on to `placement`: placement_changed_ says whether it changed, and
  // before_change_ then holds the one it left. Returns placement_changed_.
  bool move_to(const policies::Placement& placement);
  ExecutedStep executed() const { return {config_, costs_, lanes_, layers_, migration_, graph_, schedule_, tasks_}; }

  StepConfig config_;
  std::unique_ptr<network::NetworkModel> network_;
  StepCosts costs_;
  std::optional<policies::Placement> previous_;
  std::optional<policies::Placement> before_change_;  // previous_ before the last step that changed it
  bool placement_changed_ = false;
  std::vector<LayerTraffic> layers_;  // per MoE layer, for the step being simulated
  MigrationTraffic migration_;
  bool shares_links_ = false;  // the network model's collectives share links: every GPU is simulated
  Lanes lanes_;
  engine::TaskGraph graph_;
  StepTasks tasks_;
  engine::TaskGraphExecutor executor_;
  engine::Schedule schedule_;
  MetricsBuffers metrics_;
};

}  // namespace moesim
