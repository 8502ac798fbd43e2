#include "sim/step/step_dag.h"

#include <numeric>

#include "sim/step/task_kind.h"

namespace moesim {
namespace {

using engine::TaskId;
constexpr int32_t kAllToAllPriority = 2, kAllReducePriority = 1;

// Adds tasks in program order, each GPU's computations one after the other.
class DagBuilder {
 public:
  DagBuilder(const StepConfig& config, const StepCosts& costs, const std::vector<LayerTraffic>& layers, const MigrationTraffic& migration,
             network::NetworkModel& network, engine::TaskGraph& graph)
      : config_(config),
        costs_(costs),
        layers_(layers),
        migration_(migration),
        network_(network),
        graph_(graph),
        last_(costs.gpus),
        has_last_(costs.gpus, false) {}

  StepTasks build() {
    graph_.reset(static_cast<uint32_t>(2 * costs_.gpus));
    migrate();
    forward();
    tasks_.first_backward = static_cast<TaskId>(graph_.task_count());
    backward();
    return std::move(tasks_);
  }

 private:
  // A computation on `gpu`'s compute stream after its last task.
  TaskId compute(int gpu, Duration d, TaskKind kind, int layer) {
    const TaskId t = graph_.add_task(d, compute_stream(gpu), 0, task_tag(kind, layer));
    if (has_last_[gpu]) graph_.add_dependency(last_[gpu], t);
    last_[gpu] = t;
    has_last_[gpu] = true;
    return t;
  }

  // A collective on the members' communication streams, after each member's last task. It becomes
  // the members' last task if it `advances` them.
  TaskId collective(const std::vector<int>& members, const network::CollectiveCost& cost, TaskKind kind, int layer, int32_t priority,
                    bool advances) {
    streams_.clear();
    for (int g : members) streams_.push_back(comm_stream(g));
    const TaskId t = network_.add_task(graph_, cost, streams_, priority, task_tag(kind, layer));
    for (int g : members) {
      if (has_last_[g]) graph_.add_dependency(last_[g], t);
      if (advances) {
        last_[g] = t;
        has_last_[g] = true;
      }
    }
    return t;
  }

  // Blocking: the step starts once the experts have arrived. Overlapped: the move shares the
  // communication streams with the first layers; the first MoE layer's experts wait for it.
  void migrate() {
    const bool blocking = config_.migration == MigrationMode::kBlocking;
    migration_task_.assign(costs_.groups, 0);
    migrating_.assign(costs_.groups, false);
    for (int g = 0; g < costs_.groups; ++g) {
      if (migration_.groups[g].time <= Duration()) continue;
      migration_task_[g] = collective(costs_.ep_groups[g], migration_.groups[g], TaskKind::kMigration, 0, kAllToAllPriority, blocking);
      tasks_.migrations.push_back(migration_task_[g]);
      migrating_[g] = true;
    }
  }

  void wait_for_migration(int gpu, TaskId experts) {
    const int g = gpu / costs_.ep;
    if (config_.migration != MigrationMode::kBlocking && migrating_[g]) graph_.add_dependency(migration_task_[g], experts);
  }

  void all_to_all(int moe_layer, TaskKind kind, int layer) {
    const LayerTraffic& t = layers_[moe_layer];
    auto& tasks = tasks_.all_to_alls.emplace_back();
    for (int g = 0; g < costs_.groups; ++g) {
      tasks.push_back(collective(costs_.ep_groups[g], t.a2a[g], kind, layer, kAllToAllPriority, true));
    }
  }

  void forward() {
    const int gpus = costs_.gpus;
    for (int l = 0; l < config_.model.layers; ++l) {
      const int moe = costs_.layer_to_moe[l];
      for (int g = 0; g < gpus; ++g) compute(g, costs_.attention_fwd, TaskKind::kAttention, l);
      if (moe < 0) {
        for (int g = 0; g < gpus; ++g) compute(g, costs_.dense_ffn_fwd, TaskKind::kDenseFfn, l);
        continue;
      }
      std::vector<TaskId> gate(gpus);
      for (int g = 0; g < gpus; ++g) gate[g] = compute(g, costs_.gate_fwd, TaskKind::kGate, l);
      all_to_all(moe, TaskKind::kDispatch, l);
      for (int g = 0; g < gpus; ++g) {
        // Shared experts need only the gate's input, so they run while the dispatch is in flight.
        if (costs_.shared_fwd > Duration()) {
          const TaskId s = graph_.add_task(costs_.shared_fwd, compute_stream(g), 0, task_tag(TaskKind::kSharedExperts, l));
          graph_.add_dependency(gate[g], s);
          const TaskId e = compute(g, layers_[moe].experts_forward[g], TaskKind::kExperts, l);
          graph_.add_dependency(s, e);
          if (moe == 0) wait_for_migration(g, e);
        } else {
          const TaskId e = compute(g, layers_[moe].experts_forward[g], TaskKind::kExperts, l);
          if (moe == 0) wait_for_migration(g, e);
        }
      }
      all_to_all(moe, TaskKind::kCombine, l);
    }
    for (int g = 0; g < gpus; ++g) compute(g, costs_.lm_head, TaskKind::kLmHead, config_.model.layers);
  }

  void backward() {
    const int gpus = costs_.gpus, layers = config_.model.layers;
    std::vector<std::vector<TaskId>> grad_reduces(gpus);
    std::vector<int> all(gpus);
    std::iota(all.begin(), all.end(), 0);
    for (int l = layers - 1; l >= 0; --l) {
      const int moe = costs_.layer_to_moe[l];
      if (moe < 0) {
        for (int g = 0; g < gpus; ++g) compute(g, costs_.dense_ffn_fwd * 2, TaskKind::kDenseFfn, l);
      } else {
        all_to_all(moe, TaskKind::kCombine, l);
        for (int g = 0; g < gpus; ++g) {
          if (costs_.shared_fwd > Duration()) compute(g, costs_.shared_fwd * 2, TaskKind::kSharedExperts, l);
          compute(g, layers_[moe].experts_forward[g] * 2, TaskKind::kExperts, l);
        }
        if (costs_.groups > 1) {
          for (int r = 0; r < costs_.ep; ++r) {
            // Each member's last task is its expert backward; the all-reduce overlaps what follows.
            const TaskId ar =
                collective(costs_.edp_groups[r], costs_.expert_grad[r], TaskKind::kExpertGradAllReduce, l, kAllReducePriority, false);
            for (int g : costs_.edp_groups[r]) grad_reduces[g].push_back(ar);
          }
        }
        all_to_all(moe, TaskKind::kDispatch, l);
        for (int g = 0; g < gpus; ++g) compute(g, costs_.gate_fwd * 2, TaskKind::kGate, l);
      }
      for (int g = 0; g < gpus; ++g) compute(g, costs_.attention_fwd * 2, TaskKind::kAttention, l);
      if (gpus > 1) {
        const TaskId ar = collective(all, costs_.dense_grad[l], TaskKind::kDenseGradAllReduce, l, kAllReducePriority, false);
        for (int g = 0; g < gpus; ++g) grad_reduces[g].push_back(ar);
      }
    }
    for (int g = 0; g < gpus; ++g) {
      const TaskId opt = compute(g, costs_.optimizer, TaskKind::kOptimizer, layers);
      for (TaskId ar : grad_reduces[g]) graph_.add_dependency(ar, opt);
    }
  }

  const StepConfig& config_;
  const StepCosts& costs_;
  const std::vector<LayerTraffic>& layers_;
  const MigrationTraffic& migration_;
  network::NetworkModel& network_;
  engine::TaskGraph& graph_;
  std::vector<TaskId> last_;  // the task each GPU's next computation must wait for
  std::vector<bool> has_last_;
  std::vector<engine::ResourceId> streams_;
  std::vector<TaskId> migration_task_;  // per EP group
  std::vector<bool> migrating_;
  StepTasks tasks_;
};

}  // namespace

StepTasks build_step_dag(const StepConfig& config, const StepCosts& costs, const std::vector<LayerTraffic>& layers,
                         const MigrationTraffic& migration, network::NetworkModel& network, engine::TaskGraph& graph) {
  return DagBuilder(config, costs, layers, migration, network, graph).build();
}

}  // namespace moesim
