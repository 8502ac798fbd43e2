// The step DAG's builder (step_dag.h), shared by the files that define it: step_dag.cc (the
// pipeline: passes in schedule order, sends between stages, the step's start and end) and
// layer_dag.cc (one layer's forward and backward: TP, CP, ETP, ZeRO gathers, all-to-alls).
// Not an interface: nothing else includes it.
#pragma once

#include <algorithm>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "sim/step/schedule.h"
#include "sim/step/step_dag.h"
#include "sim/step/task_kind.h"

namespace moesim::dag {

using engine::TaskId;
constexpr TaskId kNone = std::numeric_limits<TaskId>::max();
constexpr int32_t kAllToAllPriority = 2, kAllReducePriority = 1;

// Adds tasks in program order: each lane's tasks of one pipeline pass chained one after the other.
class DagBuilder {
 public:
  DagBuilder(const StepConfig& config, const StepCosts& costs, const Lanes& lanes, const std::vector<LayerTraffic>& layers,
             const MigrationTraffic& migration, network::NetworkModel& network, engine::TaskGraph& graph)
      : config_(config), costs_(costs), lanes_(lanes), layers_(layers), migration_(migration), network_(network), graph_(graph) {}

  StepTasks build() {
    const int n = lanes_.count();
    graph_.rebuild(static_cast<uint32_t>(kStreamsPerLane * n));
    cur_.assign(n, kNone);
    entry_.assign(n, {});
    previous_layer_end_.assign(n, {});
    prefetch_after_.assign(n, {});
    join_.assign(n, {});
    ends_.assign(n, {});
    grads_.assign(n, {});
    side_.assign(n, {});
    grads_mark_.assign(n, 0);
    chunk_grads_from_.assign(n, 0);
    kept_gathered_.assign(static_cast<size_t>(costs_.pp) * costs_.units(), false);
    mirror_waits_.assign(costs_.units(), {});
    group_lanes();
    contention();
    migrate();
    gather_weights();
    run_pipeline();
    sum_embedding_grads();
    for (int lane = 0; lane < n; ++lane) {
      begin(lane, ends_[lane]);
      const TaskId opt = compute(lane, costs_.optimizer[stage_of(lane)], TaskKind::kOptimizer, config_.model.transformer_layers(), 0, true);
      for (TaskId g : grads_[lane]) graph_.add_dependency(g, opt);
    }
    return std::move(tasks_);
  }

 private:
  int stage_of(int lane) const { return costs_.layout.stage_of(lanes_.gpu[lane]); }
  int local_of(int lane) const { return costs_.layout.local_of(lanes_.gpu[lane]); }

  // The lanes of each stage's EP groups, and of its expert-data-parallel groups (by EP rank).
  void group_lanes() {
    std::vector<int> group_of(costs_.stage_gpus), rank_of(costs_.stage_gpus);
    for (int g = 0; g < costs_.groups; ++g) {
      for (size_t i = 0; i < costs_.ep_groups[g].size(); ++i) {
        group_of[costs_.ep_groups[g][i]] = g;
        rank_of[costs_.ep_groups[g][i]] = static_cast<int>(i);
      }
    }
    ep_lanes_.assign(static_cast<size_t>(costs_.pp) * costs_.groups, {});
    edp_lanes_.assign(static_cast<size_t>(costs_.pp) * costs_.ep, {});
    group_.assign(lanes_.count(), 0);
    tp_lanes_.assign(static_cast<size_t>(costs_.pp) * config_.parallel.tp, {});
    for (int lane = 0; lane < lanes_.count(); ++lane) {
      const int s = stage_of(lane), local = local_of(lane);
      group_[lane] = group_of[local];
      ep_lanes_[static_cast<size_t>(s) * costs_.groups + group_of[local]].push_back(lane);
      edp_lanes_[static_cast<size_t>(s) * costs_.ep + rank_of[local]].push_back(lane);
      tp_lanes_[static_cast<size_t>(s) * config_.parallel.tp + costs_.layout.coordinates(lanes_.gpu[lane]).tp].push_back(lane);
    }
    const ParallelLayout& layout = costs_.layout;
    tp_groups_ = lanes_by(config_.parallel.tp > 1, [&](int gpu) { return layout.tp_group(gpu).front(); });
    cp_groups_ = lanes_by(config_.parallel.cp > 1, [&](int gpu) { return layout.cp_group(gpu).front(); });
    etp_groups_ = lanes_by(config_.parallel.etp > 1, [&](int gpu) { return layout.etp_group(gpu).front(); });
  }

  // Per stage, the simulated lanes of each group `first_of` names (by the group's first GPU): a
  // collective of the group runs on them; a lane's GPU stands for others only where they do the
  // same work, so their groups' collectives take the same time. Empty unless `wanted`.
  template <typename FirstOf>
  std::vector<std::vector<std::vector<int>>> lanes_by(bool wanted, FirstOf first_of) const {
    std::vector<std::vector<std::vector<int>>> out(costs_.pp);
    if (!wanted) return out;
    for (int s = 0; s < costs_.pp; ++s) {
      std::vector<int> keys;
      for (int lane : lanes_.of_stage[s]) {
        const int key = first_of(lanes_.gpu[lane]);
        const auto at = std::find(keys.begin(), keys.end(), key);
        if (at == keys.end()) {
          keys.push_back(key);
          out[s].push_back({lane});
        } else {
          out[s][static_cast<size_t>(at - keys.begin())].push_back(lane);
        }
      }
    }
    return out;
  }

  // While two passes run together (schedule overlap), one's communication kernels hold SMs
  // (dispatch.comm_sms) and slow the other's compute, for the share of the pass they run: per
  // lane, its stage's all-to-all time per micro-batch over its compute time, at most 1.
  void contention() {
    lane_slowdown_.assign(lanes_.count(), 1.0);
    if (costs_.comm_slowdown <= 1.0) return;
    for (int lane = 0; lane < lanes_.count(); ++lane) {
      const int local = local_of(lane), stage = stage_of(lane);
      double comm = 0, compute = 0;
      for (int l = 0; l < config_.model.transformer_layers(); ++l) {
        if (!costs_.holds(stage, l)) continue;
        compute += costs_.attention_fwd.seconds();
        const int moe = costs_.layer_to_moe[l];
        if (moe < 0) {
          compute += costs_.dense_ffn_fwd.seconds();
          continue;
        }
        const LayerTraffic& t = layers_[moe];
        compute += (costs_.gate_fwd + costs_.shared_fwd + t.experts_forward[local]).seconds();
        comm += (t.a2a[group_[lane]].time + t.a2a_combine[group_[lane]].time).seconds();
      }
      // Forward and backward: the all-to-alls twice, the compute three times.
      const double active = compute > 0 ? std::min(1.0, 2 * comm / (3 * compute)) : 0.0;
      lane_slowdown_[lane] = 1 + (costs_.comm_slowdown - 1) * active;
    }
  }

  // The lane's next task waits for `deps` (and no earlier task of its chain).
  void begin(int lane, const std::vector<TaskId>& deps) {
    cur_[lane] = kNone;
    entry_[lane] = deps;
  }
  void depend(int lane, TaskId t, bool advances) {
    if (cur_[lane] != kNone) graph_.add_dependency(cur_[lane], t);
    for (TaskId d : entry_[lane]) graph_.add_dependency(d, t);
    if (advances) {
      entry_[lane].clear();
      cur_[lane] = t;
    }
  }

  Duration slowed(int lane, Duration d) const { return paired_ && lane_slowdown_[lane] != 1.0 ? d * lane_slowdown_[lane] : d; }
  // A backward kernel's time, less its weight gradients' share where they run apart: deferred to
  // a later pass (zero bubble) or beside what follows (delay_wgrad, side()).
  Duration input_grad(Duration backward, Duration wgrad) const { return deferring_ || config_.delay_wgrad ? backward - wgrad : backward; }

  TaskId compute(int lane, Duration d, TaskKind kind, int layer, int mb, bool backward) {
    const TaskId t = graph_.add_task(slowed(lane, d), compute_stream(lane), 0, task_tag(kind, layer, mb, backward));
    depend(lane, t, true);
    wait_for_side(lane, t);
    return t;
  }

  // Under delay_wgrad, weight gradients that run beside the lane's chain: after its last task, with
  // nothing but the next compute task (and the pass's end, and the gradient reductions) waiting
  // for them, so that the collective after them starts at once.
  void side(int lane, Duration d, int layer, int mb) {
    if (!config_.delay_wgrad || d <= Duration()) return;
    const TaskId t = graph_.add_task(slowed(lane, d), compute_stream(lane), 0, task_tag(TaskKind::kWeightGrad, layer, mb, true));
    depend(lane, t, false);
    side_[lane].push_back(t);
  }
  void wait_for_side(int lane, TaskId t) {
    for (TaskId s : side_[lane]) graph_.add_dependency(s, t);
    side_[lane].clear();
  }

  // The lanes' NICs, for the network model: one per lane, numbered as the lanes are.
  std::span<const uint32_t> nics(const std::vector<int>& lanes) {
    nics_.assign(lanes.begin(), lanes.end());
    return nics_;
  }

  // A collective on the lanes' communication streams (`stream`), after each one's chain; it
  // becomes their chain's last task if it `advances` them.
  TaskId collective(const std::vector<int>& lanes, const network::CollectiveCost& cost, uint32_t tag, int32_t priority, bool advances,
                    LaneStream stream = LaneStream::kComm) {
    streams_.clear();
    for (int lane : lanes) streams_.push_back(lane_stream(lane, stream));
    const TaskId t = network_.add_task(graph_, cost, streams_, nics(lanes), priority, tag);
    for (int lane : lanes) depend(lane, t, advances);
    return t;
  }
  // A weight gather or gradient reduction: on the lanes' data-parallel streams, after each one's
  // chain, which goes on without waiting for it.
  TaskId data_parallel(const std::vector<int>& lanes, const network::CollectiveCost& cost, uint32_t tag) {
    return collective(lanes, cost, tag, kAllReducePriority, false, LaneStream::kDataParallel);
  }

  void migrate() {
    const bool blocking = config_.migration == MigrationMode::kBlocking;
    migration_task_.assign(migration_.groups.size(), kNone);
    for (size_t i = 0; i < migration_.groups.size(); ++i) {
      if (migration_.groups[i].time <= Duration() || ep_lanes_[i].empty()) continue;
      migration_task_[i] = collective(ep_lanes_[i], migration_.groups[i], task_tag(TaskKind::kMigration, 0), kAllToAllPriority, false);
      tasks_.migrations.push_back(migration_task_[i]);
      if (blocking) {
        for (int lane : ep_lanes_[i]) ends_[lane].push_back(migration_task_[i]);
      }
    }
  }

  // ZeRO 1 and 2: the weights, updated in shards by the last step's optimizer, are gathered in the
  // gradient buckets (Megatron's overlapped parameter gather), in forward order; a layer's first
  // forward waits for the gather of the bucket it is the lowest layer of, so the later buckets'
  // gathers run under the earlier layers' forwards.
  void gather_weights() {
    layer_gathers_.clear();
    if (config_.parallel.zero < 1 || config_.parallel.zero > 2) return;
    layer_gathers_.resize(static_cast<size_t>(lanes_.count()) * costs_.units());
    for (int stage = 0; stage < costs_.pp; ++stage) {
      for (int lane : lanes_.of_stage[stage]) begin(lane, {});
      for (int chunk = 0; chunk < costs_.vp; ++chunk) {
        const int v = costs_.virtual_layout.virtual_stage(stage, chunk);
        const int end = costs_.end_unit_of(v);
        const auto units = end >= 0 ? std::span<const int>(&end, 1) : std::span<const int>(costs_.virtual_stages[v]);
        for (int u : units) {
          gather_layer(stage, u, 0, false, [&](int lane, TaskId t) { layer_gathers_[gathers_of(lane, u)].push_back(t); });
        }
      }
    }
  }
  size_t gathers_of(int lane, int unit) const { return static_cast<size_t>(lane) * costs_.units() + unit; }
  // ZeRO 1 and 2: a layer's first forward waits for its bucket's gather, and the later ones follow
  // it; an end's own chunk (`every`), which computes nothing that later forwards would follow,
  // waits at every forward.
  void wait_for_gathers(int stage, int unit, bool every = false) {
    if (layer_gathers_.empty()) return;
    for (int lane : lanes_.of_stage[stage]) {
      auto& gathers = layer_gathers_[gathers_of(lane, unit)];
      entry_[lane].insert(entry_[lane].end(), gathers.begin(), gathers.end());
      if (!every) gathers.clear();
    }
  }

  // ZeRO 3's gather as FSDP prefetches it: it waits for what ended two layers back on each lane
  // (so that at most two layers' weights are gathered at once), runs while the layer before it
  // computes, and the layer's next task waits for it.
  TaskId prefetched(const std::vector<int>& lanes, const network::CollectiveCost& cost, uint32_t tag) {
    streams_.clear();
    for (int lane : lanes) streams_.push_back(data_parallel_stream(lane));
    const TaskId t = network_.add_task(graph_, cost, streams_, nics(lanes), kAllReducePriority, tag);
    for (int lane : lanes) {
      for (TaskId d : prefetch_after_[lane]) graph_.add_dependency(d, t);
      entry_[lane].push_back(t);
    }
    return t;
  }

  // Layer `layer`'s weight shards gathered on `stage`: its dense weights over each data-parallel
  // group, its experts' over each expert-data-parallel group. `use(lane, task)` takes each lane's
  // gathers; with `Prefetched` they are ZeRO 3's (prefetched()).
  struct Prefetched {};
  template <typename Use>
  void gather_layer(int stage, int layer, int mb, bool backward, Use use) {
    const uint32_t tag = task_tag(TaskKind::kParamAllGather, layer, mb, backward);
    auto gather = [&](const std::vector<int>& lanes, const network::CollectiveCost& cost) {
      if (lanes.empty()) return;
      if constexpr (std::is_same_v<Use, Prefetched>) {
        prefetched(lanes, cost, tag);
      } else {
        const TaskId t = data_parallel(lanes, cost, tag);
        for (int lane : lanes) use(lane, t);
      }
    };
    if (!costs_.param_gather[layer].empty()) {
      for (int t = 0; t < config_.parallel.tp; ++t) {
        gather(tp_lanes_[static_cast<size_t>(stage) * config_.parallel.tp + t], costs_.param_gather[layer][costs_.per_group ? t : 0]);
      }
    }
    if (costs_.expert_gather[layer].empty()) return;
    for (int r = 0; r < costs_.ep; ++r) {
      gather(edp_lanes_[static_cast<size_t>(stage) * costs_.ep + r], costs_.expert_gather[layer][costs_.by_ep_rank(stage, r)]);
    }
  }

  void run_pipeline();
  void run_op(int stage, const PipelineOp& op, bool last_backward);
  void layer_forward(int stage, int layer, int mb);
  void layer_backward(int stage, int layer, int mb, bool last_weights);
  void end_grads(int stage, int unit, int mb);
  void layer_weights(int stage, int layer, int mb, bool last_weights);
  void reduce_dense_grads(int stage, int layer, int mb);
  void mark_grads(int stage);
  void sum_mirror_grads(int stage, int layer, int mb);
  void sum_embedding_grads();
  std::vector<std::pair<int, int>> lane_pairs(int stage, int other) const;
  void after_weights(const std::vector<int>& lanes, TaskId reduce);
  void reduce_expert_grads(int stage, int layer, int mb);
  void moe_forward(int stage, int layer, int mb);
  void mtp_forward(int stage, int layer, int mb);
  void mtp_backward(int stage, int layer, int mb);
  void embedding_forward(int stage, int layer, int mb);
  void embedding_backward(int stage, int layer, int mb);
  void lm_head(int stage, int layer, int mb, Duration before);
  void moe_backward(int stage, int layer, int mb, bool last_weights);
  void all_to_all(int stage, int layer, int mb, TaskKind kind, bool backward);
  // One collective in each of a stage's TP or CP `groups`, at the cost of its first GPU.
  void group_collectives(const std::vector<std::vector<int>>& groups, const std::vector<network::CollectiveCost>& costs, uint32_t tag);
  void tensor_parallel(int stage, int layer, int mb, bool backward);
  // A block of compute between its TP collectives: the gather of its input before it, the scatter of
  // its output after it, or both beside it under parallelism.tp_comm_overlap (layer_dag.cc).
  template <class Block>
  void tp_block(int stage, int layer, int mb, bool backward, Block&& block);
  void loss_all_reduce(int stage, int layer, int mb);
  void context_parallel(int stage, int layer, int mb, bool backward);
  void expert_tensor_parallel(int stage, const LayerTraffic& t, bool gather, int layer, int mb, bool backward);
  void zero3_gather(int stage, int layer, int mb, bool backward);
  // FSDP drops the gathered weights a unit kept (its reshard after a backward).
  void reshard(int stage, int unit) { kept_gathered_[static_cast<size_t>(stage) * costs_.units() + unit] = false; }
  void send(int stage, int v, int mb, bool backward);

  const StepConfig& config_;
  const StepCosts& costs_;
  const Lanes& lanes_;
  const std::vector<LayerTraffic>& layers_;
  const MigrationTraffic& migration_;
  network::NetworkModel& network_;
  engine::TaskGraph& graph_;
  std::vector<double> lane_slowdown_;       // per lane: its compute's slowdown while another pass communicates
  bool paired_ = false;                     // the pass being emitted runs together with another
  bool deferring_ = false;                  // the backward being emitted leaves its weight gradients to a later pass
  bool drops_weights_ = true;               // ZeRO 3: the backward being emitted drops its units' gathered weights
  std::vector<TaskId> cur_;                 // per lane: the task its next one waits for
  std::vector<std::vector<TaskId>> entry_;  // per lane: what its next task also waits for
  // ZeRO 3, per lane: what ended the previous layer, and the layer before it (prefetched()).
  std::vector<std::vector<TaskId>> previous_layer_end_, prefetch_after_;
  // ZeRO 3, [stage x units + unit]: whether its weights are still gathered, kept after a forward
  // (reshard_after_forward false) or a backward (PyTorch's pipelining, before the run's last).
  std::vector<bool> kept_gathered_;
  std::vector<std::vector<TaskId>> join_;                       // per lane: what its latest pass started after
  std::vector<std::vector<TaskId>> ends_;                       // per lane: the last tasks of passes not yet joined
  std::vector<std::vector<TaskId>> grads_;                      // per lane: gradient reductions the optimizer waits for
  std::vector<std::vector<TaskId>> side_;                       // per lane: weight gradients beside its chain (side())
  std::vector<size_t> chunk_grads_from_;                        // per lane: grads_'s size where a backward that reduces and waits began
  std::vector<size_t> grads_mark_;                              // per lane: grads_'s size where the layer being finished began
  std::vector<std::vector<std::vector<TaskId>>> mirror_waits_;  // DualPipe, [layer][lane]: what the sum of its copies waits for
  std::vector<int> group_;                                      // per lane: its EP group
  std::vector<std::vector<int>> ep_lanes_;                      // [stage x groups + group]
  std::vector<std::vector<int>> edp_lanes_;                     // [stage x ep + ep rank]
  std::vector<std::vector<int>> tp_lanes_;                      // [stage x tp + tp rank]: a data-parallel group
  std::vector<std::vector<std::vector<int>>> tp_groups_, cp_groups_, etp_groups_;  // [stage][group]: its lanes
  std::vector<TaskId> migration_task_;                                             // [stage x groups + group]
  std::vector<std::vector<TaskId>> layer_gathers_;                                 // [gathers_of(lane, layer)]
  std::vector<std::vector<std::pair<int, TaskId>>> received_;                      // [(pass, virtual stage, mb)]: (lane, send)
  std::vector<bool> sent_;                                                         // likewise: whether that pass has run
  std::vector<engine::ResourceId> streams_;
  std::vector<uint32_t> nics_;
  StepTasks tasks_;
};

}  // namespace moesim::dag
