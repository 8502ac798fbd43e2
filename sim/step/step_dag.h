// The DAG builder: one synchronous training step as tasks on the compute and communication
// streams of every simulated GPU (lanes.h; engine/task_graph.h).
//
// Each pipeline stage runs its micro-batches' forward and backward passes in its schedule's order
// (schedule.h), chained on its compute stream; a pass waits for the previous stage's activations
// (or the next stage's gradients) sent over the network. A layer's forward is: sequence-parallel
// all-gather (TP) -> attention, keys and values exchanged first under CP -> reduce-scatter (TP) ->
// (dense FFN between another gather and scatter | gate -> dispatch all-to-all -> shared experts
// beside the dispatch -> expert FFN on exactly the tokens each GPU's experts received -> combine
// all-to-all); the last stage adds the LM head. Backward runs in reverse at twice the forward
// FLOPs, plus what it recomputes (under full recomputation, an MoE layer's forward all-to-alls too); its weight gradients may run apart
// (a zero-bubble schedule's weight passes, or beside the next all-to-all under delay_wgrad). After a layer's last micro-batch, the
// reduction of the gradient bucket it closes (grad_buckets.h; all-reduce, or reduce-scatter under ZeRO) overlaps the rest of the backward
// pass; under ZeRO the sharded weights are gathered before their first use (every use under ZeRO-3). The optimizer step ends the step. A
// change of placement first moves expert state: before the step (blocking) or beside its first layers (overlapped).
#pragma once

#include <vector>

#include "sim/engine/task_graph.h"
#include "sim/network/network_model.h"
#include "sim/step/lanes.h"
#include "sim/step/step_config.h"
#include "sim/step/step_costs.h"
#include "sim/step/traffic.h"

namespace moesim {

// Each lane has three streams. ZeRO's weight gathers and the gradient reductions (over the
// data-parallel and expert-data-parallel groups, the embedding group's sum, DualPipe's mirror sums)
// have one of their own: PyTorch runs each process group's NCCL kernels on that group's stream, so
// they run beside the EP group's all-to-alls, TP and pipeline transfers instead of queueing behind
// them (a prefetched FSDP gather does not hold up a combine).
inline constexpr int kStreamsPerLane = 3;
enum class LaneStream : uint8_t { kCompute, kComm, kDataParallel };
inline engine::ResourceId lane_stream(int lane, LaneStream s) {
  return static_cast<engine::ResourceId>(kStreamsPerLane * lane + static_cast<int>(s));
}
inline engine::ResourceId compute_stream(int lane) { return lane_stream(lane, LaneStream::kCompute); }
inline engine::ResourceId comm_stream(int lane) { return lane_stream(lane, LaneStream::kComm); }
inline engine::ResourceId data_parallel_stream(int lane) { return lane_stream(lane, LaneStream::kDataParallel); }
inline int lane_of_stream(engine::ResourceId r) { return static_cast<int>(r / kStreamsPerLane); }
inline LaneStream stream_kind(engine::ResourceId r) { return static_cast<LaneStream>(r % kStreamsPerLane); }

// The tasks that step metrics read beside the schedule.
struct StepTasks {
  std::vector<std::vector<engine::TaskId>> all_to_alls;  // each all-to-all's task per EP group
  std::vector<int> all_to_all_stage;                     // the stage of each
  std::vector<engine::TaskId> migrations;                // per EP group that moves experts
};

// Fills `graph` (reset first) with the step's tasks on `lanes`.
StepTasks build_step_dag(const StepConfig& config, const StepCosts& costs, const Lanes& lanes, const std::vector<LayerTraffic>& layers,
                         const MigrationTraffic& migration, network::NetworkModel& network, engine::TaskGraph& graph);

}  // namespace moesim
