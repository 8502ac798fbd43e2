#include "sim/step/step_dag.h"

#include <span>
#include <stdexcept>

#include "sim/step/dag_builder.h"

namespace moesim {
namespace dag {

// Emits each stage's passes in its schedule's order, a stage waiting while the pass it is at needs
// another stage's pass not yet emitted (the schedules are deadlock-free, so all are emitted).
void DagBuilder::run_pipeline() {
  const int pp = costs_.pp, vp = costs_.vp, mbs = costs_.micro_batches, v_count = costs_.virtual_layout.count();
  const ScheduleEntry& schedule = *find_schedule(config_.schedule);
  std::vector<std::vector<PipelineOp>> orders;
  for (int s = 0; s < pp; ++s)
    orders.push_back(repeated_pipeline_order(schedule, s, pp, vp, mbs, config_.pipeline_runs, config_.split_weights));
  received_.assign(2 * static_cast<size_t>(v_count) * mbs, {});
  sent_.assign(received_.size(), false);
  auto index = [&](bool backward, int v, int mb) { return (static_cast<size_t>(backward) * v_count + v) * mbs + mb; };
  std::vector<size_t> next(pp, 0);
  std::vector<int> weight_passes(static_cast<size_t>(pp) * vp, 0);  // per (stage, chunk): passes that computed weight gradients
  std::vector<int> backwards(static_cast<size_t>(pp) * vp, 0);      // per (stage, chunk): its backward passes
  // Weight passes of a chunk between its gradient reductions: the step's, one run's, or each.
  const int per_step = costs_.virtual_layout.micro_batches_per_chunk(mbs);
  const int per_chunk = config_.grad_sync == GradSync::kStep  ? per_step
                        : config_.grad_sync == GradSync::kRun ? per_step / config_.pipeline_runs
                                                              : 1;
  size_t remaining = 0;
  for (const auto& order : orders) remaining += order.size();
  while (remaining > 0) {
    bool progress = false;
    for (int s = 0; s < pp; ++s) {
      for (; next[s] < orders[s].size(); ++next[s], --remaining, progress = true) {
        const PipelineOp& op = orders[s][next[s]];
        const int v = costs_.virtual_layout.virtual_stage(s, op.chunk);
        const bool waits = op.weights    ? false
                           : op.backward ? v + 1 < v_count && !sent_[index(true, v + 1, op.micro_batch)]
                                         : v > 0 && !sent_[index(false, v - 1, op.micro_batch)];
        if (waits) break;
        const bool computes_weights = op.weights || (op.backward && !op.defers_weights);
        const bool last_weights = computes_weights && ++weight_passes[static_cast<size_t>(s) * vp + op.chunk] % per_chunk == 0;
        // PyTorch's pipelining keeps an FSDP stage's weights gathered from one backward to the next,
        // up to the run's last (set_reshard_after_backward(False)).
        drops_weights_ = op.backward && !op.weights &&
                         (config_.grad_sync != GradSync::kRun || ++backwards[static_cast<size_t>(s) * vp + op.chunk] % per_chunk == 0);
        paired_ = op.overlaps_previous || (next[s] + 1 < orders[s].size() && orders[s][next[s] + 1].overlaps_previous);
        deferring_ = op.defers_weights;
        run_op(s, op, last_weights);
        if (!op.weights) sent_[index(op.backward, v, op.micro_batch)] = true;
      }
    }
    if (!progress) throw std::logic_error("pipeline schedule " + config_.schedule + " deadlocks");
  }
}

// `last_weights`: the op computes the last weight gradients of its chunk, which the gradient
// reductions wait for.
void DagBuilder::run_op(int stage, const PipelineOp& op, bool last_weights) {
  const int v = costs_.virtual_layout.virtual_stage(stage, op.chunk), v_count = costs_.virtual_layout.count(), mbs = costs_.micro_batches;
  const size_t from = ((static_cast<size_t>(op.backward) * v_count) + (op.backward ? v + 1 : v - 1)) * mbs + op.micro_batch;
  const bool receives = !op.weights && (op.backward ? v + 1 < v_count : v > 0);
  for (int lane : lanes_.of_stage[stage]) {
    std::vector<TaskId> deps = op.overlaps_previous ? join_[lane] : ends_[lane];
    if (!op.overlaps_previous) {
      join_[lane] = deps;
      ends_[lane].clear();
    }
    begin(lane, deps);
  }
  if (receives) {
    for (const auto& [lane, task] : received_[from]) entry_[lane].push_back(task);
  }
  // Where gradients are reduced before the step's end, PyTorch's FSDP waits on the compute stream
  // for the chunk's reduce-scatters at the end of the backward that reduces them (the
  // post-backward's final callback; DDP likewise): what follows on the lane, its send included,
  // waits for them.
  const bool waits_for_grads = last_weights && config_.grad_sync != GradSync::kStep;
  if (waits_for_grads) {
    for (int lane : lanes_.of_stage[stage]) chunk_grads_from_[lane] = grads_[lane].size();
  }
  const auto& layers = costs_.virtual_stages[v];
  const int end = costs_.end_unit_of(v);  // the embedding's or the LM head's own chunk
  if (op.weights) {
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) layer_weights(stage, *it, op.micro_batch, last_weights);
  } else if (!op.backward) {
    if (end >= 0) {
      wait_for_gathers(stage, end, true);
      zero3_gather(stage, end, op.micro_batch, false);
      if (v == 0) embedding_forward(stage, costs_.embedding_unit(), op.micro_batch);
    }
    for (int l : layers) layer_forward(stage, l, op.micro_batch);
    if (v + 1 == v_count) {
      // The model's LM head pass, after its final norm, then each prediction module's through the
      // same weights (a module's final norm is its own).
      const models::MoeModel& m = config_.model;
      lm_head(stage, m.transformer_layers(), op.micro_batch, costs_.final_norm);
      for (int l = m.layers; l < m.transformer_layers(); ++l) lm_head(stage, l, op.micro_batch, Duration());
    }
  } else {
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) layer_backward(stage, *it, op.micro_batch, last_weights);
    if (end >= 0 && v == 0) embedding_backward(stage, costs_.embedding_unit(), op.micro_batch);
    if (end >= 0 && drops_weights_) reshard(stage, end);
  }
  if (end >= 0 && last_weights) end_grads(stage, end, op.micro_batch);
  auto chunk_grads = [&](int lane) { return std::span(grads_[lane]).subspan(chunk_grads_from_[lane]); };
  if (waits_for_grads) {
    for (int lane : lanes_.of_stage[stage]) entry_[lane].insert(entry_[lane].end(), chunk_grads(lane).begin(), chunk_grads(lane).end());
  }
  if (!op.weights && (op.backward ? v > 0 : v + 1 < v_count)) send(stage, v, op.micro_batch, op.backward);
  for (int lane : lanes_.of_stage[stage]) {
    if (cur_[lane] != kNone) ends_[lane].push_back(cur_[lane]);
    ends_[lane].insert(ends_[lane].end(), side_[lane].begin(), side_[lane].end());
    side_[lane].clear();
    if (waits_for_grads) ends_[lane].insert(ends_[lane].end(), chunk_grads(lane).begin(), chunk_grads(lane).end());
  }
}

// The activations (or their gradients) of each lane's GPU to the GPU with the same local index in
// the stage of the next virtual stage; on the same GPU (pp 1 interleaved, the turn of a V) only
// the order.
void DagBuilder::send(int stage, int v, int mb, bool backward) {
  const VirtualStages& where = costs_.virtual_layout;
  const int pp = costs_.pp, v_count = where.count(),
            to_stage = where.stage_of(backward ? v - 1 : v + 1, where.direction(mb, costs_.micro_batches));
  auto& received = received_[(static_cast<size_t>(backward) * v_count + v) * costs_.micro_batches + mb];
  // A virtual stage may hold only the embedding (the first) or the LM head (the last).
  const auto& chunk = costs_.virtual_stages[v];
  const int layer = chunk.empty() ? (v == 0 ? 0 : config_.model.transformer_layers()) : (backward ? chunk.front() : chunk.back());
  // From the prediction modules' own virtual stage on, the sends carry their hidden states too.
  const bool wide = !costs_.send_next_wide.empty() && (backward ? v - 1 : v) >= costs_.mtp_virtual_stage;
  const auto& sends = to_stage == (stage + 1) % pp ? (wide ? costs_.send_next_wide : costs_.send_next)
                                                   : (wide ? costs_.send_previous_wide : costs_.send_previous);
  for (int lane : lanes_.of_stage[stage]) {
    const int to = lanes_.of_gpu[costs_.layout.gpu(to_stage, local_of(lane))];
    if (to == lane) {
      received.emplace_back(to, cur_[lane]);
      continue;
    }
    const engine::ResourceId streams[] = {comm_stream(lane), comm_stream(to)};
    const uint32_t pair[] = {static_cast<uint32_t>(lane), static_cast<uint32_t>(to)};
    const auto& cost = sends[costs_.by_gpu(lanes_.gpu[lane])];
    const TaskId t =
        network_.add_task(graph_, cost, streams, pair, kAllToAllPriority, task_tag(TaskKind::kPipelineSend, layer, mb, backward));
    depend(lane, t, false);
    received.emplace_back(to, t);
  }
}

}  // namespace dag

StepTasks build_step_dag(const StepConfig& config, const StepCosts& costs, const Lanes& lanes, const std::vector<LayerTraffic>& layers,
                         const MigrationTraffic& migration, network::NetworkModel& network, engine::TaskGraph& graph) {
  return dag::DagBuilder(config, costs, lanes, layers, migration, network, graph).build();
}

}  // namespace moesim
