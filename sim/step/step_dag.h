// The DAG builder: one synchronous training step as tasks on every GPU's compute and
// communication streams (engine/task_graph.h).
//
// For every layer, forward: attention -> (dense FFN | gate -> dispatch all-to-all -> expert FFN
// on exactly the tokens each GPU's experts received -> combine all-to-all), shared experts
// overlapping the dispatch; then the LM head; then backward in reverse (2x forward FLOPs), with
// each layer's gradient all-reduce (dense parameters over all data-parallel GPUs, expert
// parameters over the expert-data-parallel group) on the communication stream, overlapping the
// rest of the backward pass; finally the optimizer step. A change of placement first moves expert
// state: before the step (blocking) or beside its first layers (overlapped).
#pragma once

#include <vector>

#include "sim/engine/task_graph.h"
#include "sim/network/network_model.h"
#include "sim/step/step_config.h"
#include "sim/step/step_costs.h"
#include "sim/step/traffic.h"

namespace moesim {

inline engine::ResourceId compute_stream(int gpu) { return static_cast<engine::ResourceId>(2 * gpu); }
inline engine::ResourceId comm_stream(int gpu) { return static_cast<engine::ResourceId>(2 * gpu + 1); }

// The tasks that step metrics read beside the schedule.
struct StepTasks {
  std::vector<std::vector<engine::TaskId>> all_to_alls;  // each all-to-all's task per EP group
  std::vector<engine::TaskId> migrations;                // per EP group that moves experts
  engine::TaskId first_backward = 0;                     // tasks from this id on belong to the backward pass
};

// Fills `graph` (reset first) with the step's tasks.
StepTasks build_step_dag(const StepConfig& config, const StepCosts& costs, const std::vector<LayerTraffic>& layers,
                         const MigrationTraffic& migration, network::NetworkModel& network, engine::TaskGraph& graph);

}  // namespace moesim
