// One layer's forward and backward on a stage's lanes (dag_builder.h).
#include "sim/step/dag_builder.h"

#include <algorithm>

namespace moesim::dag {

// A gradient reduction: after the weight gradients it reduces (also those beside the chain), and
// before the optimizer.
void DagBuilder::after_weights(const std::vector<int>& lanes, TaskId reduce) {
  for (int lane : lanes) {
    for (TaskId s : side_[lane]) graph_.add_dependency(s, reduce);
    grads_[lane].push_back(reduce);
  }
}

void DagBuilder::group_collectives(const std::vector<std::vector<int>>& groups, const std::vector<network::CollectiveCost>& costs,
                                   uint32_t tag) {
  for (const auto& lanes : groups) collective(lanes, costs[costs_.by_gpu(lanes_.gpu[lanes.front()])], tag, 0, true);
}

void DagBuilder::tensor_parallel(int stage, int layer, int mb, bool backward) {
  group_collectives(tp_groups_[stage], costs_.tp_collective, task_tag(TaskKind::kTensorParallel, layer, mb, backward));
}

// Transformer Engine's userbuffers pipeline a block's input gather with its first GEMM and its
// output scatter with its last: both start when the block does (after what it waits for), and
// what follows the block waits for them. On a lane's communication stream they keep their order
// with what the block itself sends (context parallelism's exchange).
template <class Block>
void DagBuilder::tp_block(int stage, int layer, int mb, bool backward, Block&& block) {
  if (!config_.parallel.tp_comm_overlap) {
    tensor_parallel(stage, layer, mb, backward);
    block();
    tensor_parallel(stage, layer, mb, backward);
    return;
  }
  const uint32_t tag = task_tag(TaskKind::kTensorParallel, layer, mb, backward);
  const auto& groups = tp_groups_[stage];
  // Per TP group, what its lanes' block waits for.
  std::vector<std::vector<TaskId>> before(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    for (int lane : groups[g]) {
      if (cur_[lane] != kNone) before[g].push_back(cur_[lane]);
      before[g].insert(before[g].end(), entry_[lane].begin(), entry_[lane].end());
    }
  }
  // One collective per TP group, after what the block waits for.
  auto collectives = [&] {
    std::vector<TaskId> made;
    for (size_t g = 0; g < groups.size(); ++g) {
      streams_.clear();
      for (int lane : groups[g]) streams_.push_back(lane_stream(lane, LaneStream::kComm));
      const TaskId t =
          network_.add_task(graph_, costs_.tp_collective[costs_.by_gpu(lanes_.gpu[groups[g].front()])], streams_, nics(groups[g]), 0, tag);
      for (TaskId d : before[g]) graph_.add_dependency(d, t);
      made.push_back(t);
    }
    return made;
  };
  const std::vector<TaskId> gathers = collectives();
  block();
  const std::vector<TaskId> scatters = collectives();
  for (size_t g = 0; g < groups.size(); ++g) {
    for (int lane : groups[g]) entry_[lane].insert(entry_[lane].end(), {gathers[g], scatters[g]});
  }
}

void DagBuilder::loss_all_reduce(int stage, int layer, int mb) {
  group_collectives(tp_groups_[stage], costs_.loss_all_reduce, task_tag(TaskKind::kLossAllReduce, layer, mb));
}

void DagBuilder::context_parallel(int stage, int layer, int mb, bool backward) {
  group_collectives(cp_groups_[stage], costs_.cp_exchange, task_tag(TaskKind::kContextParallel, layer, mb, backward));
}

void DagBuilder::expert_tensor_parallel(int stage, const LayerTraffic& t, bool gather, int layer, int mb, bool backward) {
  for (const auto& lanes : etp_groups_[stage]) {
    const size_t group = static_cast<size_t>(local_of(lanes.front()) / config_.parallel.etp);
    collective(lanes, (gather ? t.etp_gather : t.etp_scatter)[group], task_tag(TaskKind::kExpertTensorParallel, layer, mb, backward), 0,
               true);
  }
}

void DagBuilder::zero3_gather(int stage, int layer, int mb, bool backward) {
  if (config_.parallel.zero < 3) return;
  for (int lane : lanes_.of_stage[stage]) {
    // What ended the layer before the last one, and what ends the last one: the lane's chain, or
    // at a pass's first layer what the pass waits for.
    prefetch_after_[lane] = std::move(previous_layer_end_[lane]);
    previous_layer_end_[lane] = cur_[lane] != kNone ? std::vector<TaskId>{cur_[lane]} : entry_[lane];
  }
  // Without resharding after the forward, the weights a forward gathered serve every later pass
  // of the unit up to and including the next backward, which drops them (in 1F1B's steady state a
  // forward and a backward share one gather), or under PyTorch's pipelining the run's last.
  const size_t unit = static_cast<size_t>(stage) * costs_.units() + layer;
  const bool gathered = kept_gathered_[unit];
  kept_gathered_[unit] = backward ? !drops_weights_ : !config_.parallel.reshard_after_forward;
  if (!gathered) gather_layer(stage, layer, mb, backward, Prefetched{});
}

void DagBuilder::layer_forward(int stage, int layer, int mb) {
  const auto& lanes = lanes_.of_stage[stage];
  wait_for_gathers(stage, layer);
  zero3_gather(stage, layer, mb, false);
  // Where the embedding shares the first layer's virtual stage, its weights are that layer's to gather.
  if (costs_.embeds_with(layer)) embedding_forward(stage, costs_.embedding_unit(), mb);
  if (config_.model.is_mtp_layer(layer)) mtp_forward(stage, layer, mb);
  tp_block(stage, layer, mb, false, [&] {
    context_parallel(stage, layer, mb, false);
    for (int lane : lanes) compute(lane, costs_.attention_fwd, TaskKind::kAttention, layer, mb, false);
  });
  if (costs_.layer_to_moe[layer] >= 0) return moe_forward(stage, layer, mb);
  tp_block(stage, layer, mb, false, [&] {
    for (int lane : lanes) compute(lane, costs_.dense_ffn_fwd, TaskKind::kDenseFfn, layer, mb, false);
  });
}

// A prediction module's norms and projection: under sequence parallelism the projection's input is
// gathered over the TP group (twice a layer's width) and its output, split by columns, gathered and
// scattered back to the sequence shards (Megatron's eh_proj): three TP collectives each way.
void DagBuilder::mtp_forward(int stage, int layer, int mb) {
  embedding_forward(stage, layer, mb);  // the next tokens' embeddings
  tensor_parallel(stage, layer, mb, false);
  tensor_parallel(stage, layer, mb, false);
  for (int lane : lanes_.of_stage[stage]) compute(lane, costs_.mtp_fwd, TaskKind::kMtpProjection, layer, mb, false);
  tensor_parallel(stage, layer, mb, false);
}

void DagBuilder::mtp_backward(int stage, int layer, int mb) {
  tensor_parallel(stage, layer, mb, true);
  for (int lane : lanes_.of_stage[stage]) {
    compute(lane, input_grad(costs_.mtp_bwd, costs_.mtp_wgrad), TaskKind::kMtpProjection, layer, mb, true);
    side(lane, costs_.mtp_wgrad, layer, mb);
  }
  tensor_parallel(stage, layer, mb, true);
  tensor_parallel(stage, layer, mb, true);
  embedding_backward(stage, layer, mb);
}

// The lookup, then under sequence parallelism its partial sums reduce-scattered to the sequence
// shards (Megatron's reduce_scatter_to_sequence_parallel_region).
void DagBuilder::embedding_forward(int stage, int layer, int mb) {
  for (int lane : lanes_.of_stage[stage]) compute(lane, costs_.embedding_fwd, TaskKind::kEmbedding, layer, mb, false);
  tensor_parallel(stage, layer, mb, false);
}

void DagBuilder::embedding_backward(int stage, int layer, int mb) {
  tensor_parallel(stage, layer, mb, true);
  for (int lane : lanes_.of_stage[stage]) compute(lane, costs_.embedding_bwd, TaskKind::kEmbedding, layer, mb, true);
}

// One pass through the LM head and the loss (`before`: what runs on the sequence shard first, the
// final norm), its input gathered over the TP group, the loss's all-reduces, and its input gradient
// scattered back.
void DagBuilder::lm_head(int stage, int layer, int mb, Duration before) {
  tensor_parallel(stage, layer, mb, false);
  for (int lane : lanes_.of_stage[stage]) compute(lane, costs_.lm_head + before, TaskKind::kLmHead, layer, mb, false);
  loss_all_reduce(stage, layer, mb);
  tensor_parallel(stage, layer, mb, true);
}

void DagBuilder::all_to_all(int stage, int layer, int mb, TaskKind kind, bool backward) {
  const LayerTraffic& t = layers_[costs_.layer_to_moe[layer]];
  // Forward dispatch and backward combine move tokens out; the other two bring them back.
  const bool out = (kind == TaskKind::kDispatch) != backward;
  auto& tasks = tasks_.all_to_alls.emplace_back();
  tasks_.all_to_all_stage.push_back(stage);
  for (int g = 0; g < costs_.groups; ++g) {
    const auto& lanes = ep_lanes_[static_cast<size_t>(stage) * costs_.groups + g];
    if (lanes.empty()) continue;
    tasks.push_back(collective(lanes, out ? t.a2a[g] : t.a2a_combine[g], task_tag(kind, layer, mb, backward), kAllToAllPriority, true));
  }
}

void DagBuilder::moe_forward(int stage, int layer, int mb) {
  const LayerTraffic& t = layers_[costs_.layer_to_moe[layer]];
  const auto& lanes = lanes_.of_stage[stage];
  std::vector<TaskId> gate(lanes.size());
  for (size_t i = 0; i < lanes.size(); ++i) gate[i] = compute(lanes[i], costs_.gate_fwd, TaskKind::kGate, layer, mb, false);
  all_to_all(stage, layer, mb, TaskKind::kDispatch, false);
  expert_tensor_parallel(stage, t, true, layer, mb, false);
  // Moved experts are needed from the first MoE layer a chunk runs (of either copy under DualPipe).
  const bool first_moe = costs_.first_moe_of_chunk[layer] != 0;
  for (size_t i = 0; i < lanes.size(); ++i) {
    const int lane = lanes[i];
    TaskId shared = kNone;
    if (costs_.shared_fwd > Duration()) {
      // Shared experts need only the gate's input, so they run while the dispatch is in flight.
      shared = graph_.add_task(slowed(lane, costs_.shared_fwd), compute_stream(lane), 0, task_tag(TaskKind::kSharedExperts, layer, mb));
      graph_.add_dependency(gate[i], shared);
    }
    const TaskId experts = compute(lane, t.experts_forward[local_of(lane)], TaskKind::kExperts, layer, mb, false);
    if (shared != kNone) graph_.add_dependency(shared, experts);
    const TaskId moving = migration_task_[static_cast<size_t>(stage) * costs_.groups + group_[lane]];
    if (first_moe && config_.migration != MigrationMode::kBlocking && moving != kNone) graph_.add_dependency(moving, experts);
  }
  expert_tensor_parallel(stage, t, false, layer, mb, false);
  all_to_all(stage, layer, mb, TaskKind::kCombine, false);
}

void DagBuilder::moe_backward(int stage, int layer, int mb, bool last_weights) {
  const LayerTraffic& t = layers_[costs_.layer_to_moe[layer]];
  const bool rerun = config_.parallel.reruns_moe_layer();
  if (rerun) {
    // Recomputing the layer from its input runs its forward all-to-alls again.
    all_to_all(stage, layer, mb, TaskKind::kDispatch, false);
    all_to_all(stage, layer, mb, TaskKind::kCombine, false);
  }
  all_to_all(stage, layer, mb, TaskKind::kCombine, true);
  for (int lane : lanes_.of_stage[stage]) {
    if (costs_.moe_recompute > Duration()) compute(lane, costs_.moe_recompute, TaskKind::kGate, layer, mb, true);
    if (costs_.shared_fwd > Duration()) {
      compute(lane, input_grad(costs_.shared_bwd, costs_.shared_wgrad), TaskKind::kSharedExperts, layer, mb, true);
    }
  }
  // Backward, the gradients take the gather's way in reverse and the other way round.
  expert_tensor_parallel(stage, t, false, layer, mb, true);
  for (int lane : lanes_.of_stage[stage]) {
    const int local = local_of(lane);
    const Duration backward = t.experts_backward[local], wgrad = t.experts_wgrad[local];
    compute(lane, input_grad(rerun ? backward + t.experts_forward[local] : backward, wgrad), TaskKind::kExperts, layer, mb, true);
    // Megatron's MoE layer computes its experts' and shared experts' weight gradients together.
    side(lane, wgrad + costs_.shared_wgrad, layer, mb);
  }
  expert_tensor_parallel(stage, t, true, layer, mb, true);
  if (last_weights) reduce_expert_grads(stage, layer, mb);
  all_to_all(stage, layer, mb, TaskKind::kDispatch, true);
  for (int lane : lanes_.of_stage[stage]) {
    // The router's weights are a plain linear layer's: Megatron does not delay their gradients.
    compute(lane, deferring_ ? costs_.gate_fwd * 2 - costs_.gate_wgrad : costs_.gate_fwd * 2, TaskKind::kGate, layer, mb, true);
  }
}

void DagBuilder::reduce_expert_grads(int stage, int layer, int mb) {
  const LayerTraffic& t = layers_[costs_.layer_to_moe[layer]];
  if (!t.replica_grad.empty()) {
    for (int g = 0; g < costs_.groups; ++g) {
      const auto& lanes = ep_lanes_[static_cast<size_t>(stage) * costs_.groups + g];
      if (lanes.empty() || t.replica_grad[g].time <= Duration()) continue;
      // The replicas' gradients are summed before the optimizer reads them.
      const TaskId reduce = data_parallel(lanes, t.replica_grad[g], task_tag(TaskKind::kReplicaGradReduce, layer, mb, true));
      after_weights(lanes, reduce);
    }
  }
  if (config_.parallel.expert_dp() > 1 && !costs_.expert_grad[layer].empty()) {
    // An expert gradient bucket's reduction starts after its lowest layer's backward (grad_buckets.h).
    for (int r = 0; r < costs_.ep; ++r) {
      const auto& lanes = edp_lanes_[static_cast<size_t>(stage) * costs_.ep + r];
      if (lanes.empty()) continue;
      // Each member's last task computed the experts' weight gradients; the reduction overlaps what follows.
      const TaskId reduce = data_parallel(lanes, costs_.expert_grad[layer][costs_.by_ep_rank(stage, r)],
                                          task_tag(TaskKind::kExpertGradAllReduce, layer, mb, true));
      after_weights(lanes, reduce);
    }
  }
}

void DagBuilder::layer_backward(int stage, int layer, int mb, bool last_weights) {
  if (last_weights) mark_grads(stage);
  zero3_gather(stage, layer, mb, true);
  if (costs_.layer_to_moe[layer] >= 0) {
    moe_backward(stage, layer, mb, last_weights);
  } else {
    tp_block(stage, layer, mb, true, [&] {
      for (int lane : lanes_.of_stage[stage]) {
        compute(lane, input_grad(costs_.dense_ffn_bwd + costs_.dense_ffn_recompute, costs_.dense_ffn_wgrad), TaskKind::kDenseFfn, layer, mb,
                true);
        side(lane, costs_.dense_ffn_wgrad, layer, mb);
      }
    });
  }
  tp_block(stage, layer, mb, true, [&] {
    for (int lane : lanes_.of_stage[stage]) {
      compute(lane, input_grad(costs_.attention_bwd + costs_.attention_recompute, costs_.attention_wgrad), TaskKind::kAttention, layer, mb,
              true);
      side(lane, costs_.attention_wgrad, layer, mb);
    }
    context_parallel(stage, layer, mb, true);
  });
  if (config_.model.is_mtp_layer(layer)) mtp_backward(stage, layer, mb);
  if (costs_.embeds_with(layer)) embedding_backward(stage, costs_.embedding_unit(), mb);
  if (!last_weights) return;
  reduce_dense_grads(stage, layer, mb);
  sum_mirror_grads(stage, layer, mb);
}

// A deferred backward's weight gradients, one task per layer and GPU; after the chunk's last
// micro-batch, the layer's gradient reductions start as they would after its backward.
void DagBuilder::layer_weights(int stage, int layer, int mb, bool last_weights) {
  const int moe = costs_.layer_to_moe[layer];
  for (int lane : lanes_.of_stage[stage]) {
    const Duration ffn =
        moe < 0 ? costs_.dense_ffn_wgrad : costs_.gate_wgrad + costs_.shared_wgrad + layers_[moe].experts_wgrad[local_of(lane)];
    const Duration mtp = config_.model.is_mtp_layer(layer) ? costs_.mtp_wgrad : Duration();
    compute(lane, costs_.attention_wgrad + ffn + mtp, TaskKind::kWeightGrad, layer, mb, true);
  }
  if (!last_weights) return;
  mark_grads(stage);
  if (moe >= 0) reduce_expert_grads(stage, layer, mb);
  reduce_dense_grads(stage, layer, mb);
  sum_mirror_grads(stage, layer, mb);
}

// The gradients of an end's own chunk (StepCosts::end_unit), its embedding's or its LM head's,
// reduced as a layer's are once the chunk's last backward is done.
void DagBuilder::end_grads(int stage, int unit, int mb) {
  mark_grads(stage);
  reduce_dense_grads(stage, unit, mb);
  sum_mirror_grads(stage, unit, mb);
}

void DagBuilder::mark_grads(int stage) {
  for (int lane : lanes_.of_stage[stage]) grads_mark_[lane] = grads_[lane].size();
}

// The GPUs with the same local index on two stages, as pairs of lanes, each pair once.
std::vector<std::pair<int, int>> DagBuilder::lane_pairs(int stage, int other) const {
  std::vector<std::pair<int, int>> pairs;
  for (int local = 0; local < costs_.stage_gpus; ++local) {
    const int a = lanes_.of_gpu[costs_.layout.gpu(stage, local)], b = lanes_.of_gpu[costs_.layout.gpu(other, local)];
    if (a != b) pairs.emplace_back(a, b);
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  return pairs;
}

// DualPipe: each GPU and its mirror (stage pp - 1 - stage, the same local index) hold the layer's
// two copies, whose gradients are summed once both copies have reduced theirs over their
// data-parallel groups (or finished them, without data parallelism). The first copy to get here
// leaves what the sum waits for; the second adds it, one task per pair of lanes.
void DagBuilder::sum_mirror_grads(int stage, int layer, int mb) {
  if (!costs_.virtual_layout.bidirectional) return;
  auto& waits = mirror_waits_[layer];  // per lane: what its copy's gradients are final after
  const bool second = !waits.empty();
  waits.resize(lanes_.count());
  for (int lane : lanes_.of_stage[stage]) {
    auto& w = waits[lane];
    w.assign(grads_[lane].begin() + static_cast<std::ptrdiff_t>(grads_mark_[lane]), grads_[lane].end());
    if (cur_[lane] != kNone) w.push_back(cur_[lane]);
  }
  if (!second) return;
  for (const auto& [lane, other] : lane_pairs(stage, costs_.pp - 1 - stage)) {
    const engine::ResourceId streams[] = {data_parallel_stream(lane), data_parallel_stream(other)};
    const uint32_t pair[] = {static_cast<uint32_t>(lane), static_cast<uint32_t>(other)};
    const TaskId sum = network_.add_task(graph_, costs_.mirror_grad[layer], streams, pair, kAllReducePriority,
                                         task_tag(TaskKind::kMirrorGradSum, layer, mb, true));
    for (int l : {lane, other}) {
      for (TaskId before : waits[l]) graph_.add_dependency(before, sum);
      grads_[l].push_back(sum);
    }
  }
}

// Megatron's embedding group: each GPU of one stage that holds the word embedding and the GPU with
// the same local index on the other sum its gradient once each has finished its backward and its
// data-parallel reductions; the optimizer waits for the sum.
void DagBuilder::sum_embedding_grads() {
  if (costs_.embedding_group[0] < 0) return;
  for (const auto& [lane, peer] : lane_pairs(costs_.embedding_group[0], costs_.embedding_group[1])) {
    const engine::ResourceId streams[] = {data_parallel_stream(lane), data_parallel_stream(peer)};
    const uint32_t pair[] = {static_cast<uint32_t>(lane), static_cast<uint32_t>(peer)};
    const TaskId sum = network_.add_task(graph_, costs_.embedding_grad, streams, pair, kAllReducePriority,
                                         task_tag(TaskKind::kEmbeddingGradSum, 0, 0, true));
    for (int l : {lane, peer}) {
      for (TaskId before : grads_[l]) graph_.add_dependency(before, sum);
      for (TaskId before : ends_[l]) graph_.add_dependency(before, sum);
      if (cur_[l] != kNone) graph_.add_dependency(cur_[l], sum);
    }
    for (int l : {lane, peer}) grads_[l].push_back(sum);
  }
}

void DagBuilder::reduce_dense_grads(int stage, int layer, int mb) {
  // A gradient bucket's reduction starts after its last layer's backward (grad_buckets.h).
  if (config_.parallel.dp * config_.parallel.cp > 1 && !costs_.dense_grad[layer].empty()) {
    for (int t = 0; t < config_.parallel.tp; ++t) {
      const auto& lanes = tp_lanes_[static_cast<size_t>(stage) * config_.parallel.tp + t];
      if (lanes.empty()) continue;
      const auto& cost = costs_.dense_grad[layer][costs_.per_group ? t : 0];
      const TaskId reduce = data_parallel(lanes, cost, task_tag(TaskKind::kDenseGradAllReduce, layer, mb, true));
      after_weights(lanes, reduce);
    }
  }
}

}  // namespace moesim::dag
