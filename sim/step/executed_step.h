// A step once its DAG has run: what the observers of finished tasks read (step_metrics.h, the
// timeline in step_timeline.h).
#pragma once

#include <vector>

#include "sim/engine/task_graph.h"
#include "sim/step/lanes.h"
#include "sim/step/step_config.h"
#include "sim/step/step_costs.h"
#include "sim/step/step_dag.h"
#include "sim/step/traffic.h"

namespace moesim {

struct ExecutedStep {
  const StepConfig& config;
  const StepCosts& costs;
  const Lanes& lanes;
  const std::vector<LayerTraffic>& layers;  // per MoE layer
  const MigrationTraffic& migration;
  const engine::TaskGraph& graph;
  const engine::Schedule& schedule;
  const StepTasks& tasks;
};

}  // namespace moesim
