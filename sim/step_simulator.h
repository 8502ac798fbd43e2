// One synchronous training step as a task DAG on every GPU's compute and communication streams.
//
// For every layer, forward: attention -> (dense FFN | gate -> dispatch all-to-all -> expert FFN
// on exactly the tokens each GPU's experts received -> combine all-to-all), shared experts
// overlapping the dispatch; then the LM head; then backward in reverse (2x forward FLOPs), with
// each layer's gradient all-reduce (dense parameters over all data-parallel GPUs, expert
// parameters over the expert-data-parallel group) on the communication stream, overlapping the
// rest of the backward pass; finally the optimizer step. The step time is the critical path.
//
// Step-invariant costs are computed once at construction. Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "models/gating/routing_matrix.h"
#include "policies/placement/placement.h"
#include "scenarios/scenario.h"
#include "sim/engine/task_graph.h"
#include "sim/network/analytic_network.h"
#include "sim/network/flow_network.h"

namespace moesim {

// What a task in the step DAG is; stored in the task's tag with the layer (tag = kind | layer << 8).
enum class TaskKind : uint8_t {
  kAttention, kDenseFfn, kGate, kSharedExperts, kExperts, kDispatch, kCombine,
  kLmHead, kDenseGradAllReduce, kExpertGradAllReduce, kOptimizer, kMigration,
};

// The name of a task kind, as timelines show it.
const char* to_string(TaskKind kind);

// One task of a simulated step on one GPU stream: a timeline entry. A collective gives one span
// per GPU it occupies.
struct TimelineSpan {
  int step = 0;
  int gpu = 0;
  bool comm = false;      // on the communication stream (else the compute stream)
  bool backward = false;  // in the backward pass (the optimizer step counts as backward)
  TaskKind kind = TaskKind::kAttention;
  int layer = 0;          // model layer; the LM head and the optimizer step: the layer count
  Duration start;         // from the start of the run
  Duration duration;
  double tokens = 0;      // token rows this GPU computes on, or sends in an all-to-all
  double bytes = 0;       // bytes this GPU sends (all-to-all, migration) or reduces (all-reduce)
};

struct StepResult {
  Duration step_time;
  std::vector<Duration> compute_busy;  // per GPU
  Duration all_to_all_time;            // sum over all-to-all phases of the slowest EP group
  Bytes a2a_intra_node;
  Bytes a2a_inter_node;
  double imbalance = 1;                // mean over MoE layers of max/mean expert tokens per GPU
  int64_t dropped = 0;                 // token assignments dropped over capacity
  int64_t assignments = 0;             // token assignments routed (before drops)
  Bytes migration_bytes;               // expert state moved for this step's placement, all EP groups
  Duration migration_time;             // the slowest EP group's migration
};

class StepSimulator {
 public:
  // `spare_slots`: expert slots per GPU beyond experts / ep, whose weights also take optimizer
  // steps and gradient all-reduces.
  explicit StepSimulator(const scenarios::Scenario& scenario,
                         scenarios::MigrationMode migration = scenarios::MigrationMode::kOverlapped, int spare_slots = 0);
  StepSimulator(const StepSimulator&) = delete;
  StepSimulator& operator=(const StepSimulator&) = delete;

  // Simulates one step with this routing (capacity already applied where it applies) and placement.
  // When the placement differs from the previous step's, the step first migrates expert state
  // (policies/placement/migration.h): parameters, gradients and optimizer state of every moved
  // expert, as traffic in every EP group. The first step's placement is where training starts.
  StepResult simulate(const gating::RoutingMatrix& routing, const policies::Placement& placement);

  // Linear estimates for policies that weigh gains against moves: the busiest rank's expert
  // compute (forward and backward) and all-to-all time for a whole layer's tokens of an EP group,
  // the time to move one expert's state over the slowest link between two of its GPUs, and the
  // all-to-all time saved when a layer's tokens send one copy fewer.
  policies::PlacementCosts placement_costs() const;

  // Whether the last simulated step's placement differed from the step before (true for the
  // first step).
  bool placement_changed() const { return placement_changed_; }

  // Appends the last simulated step's tasks, one span per GPU stream they occupy, with `offset`
  // added to their times (where the step starts within the run).
  void append_timeline(int step, Duration offset, std::vector<TimelineSpan>& out) const;

  // The DAG of the last simulated step and its schedule (for tests and the timeline).
  const engine::TaskGraph& graph() const { return graph_; }
  const engine::Schedule& schedule() const { return schedule_; }
  int gpu_count() const { return gpus_; }

  static engine::ResourceId compute_stream(int gpu) { return static_cast<engine::ResourceId>(2 * gpu); }
  static engine::ResourceId comm_stream(int gpu) { return static_cast<engine::ResourceId>(2 * gpu + 1); }

 private:
  // A collective under the flow model: phases run one after another, each its demand on the
  // links and then a fixed tail (latency, message overhead).
  struct FlowPhases {
    std::vector<network::FlowDemand> demand;
    std::vector<Duration> tail;
  };
  struct LayerTraffic {
    std::vector<Duration> a2a_time;          // per EP group
    std::vector<FlowPhases> a2a_flows;       // per EP group, with the flow model
    std::vector<double> expert_rows;         // [gpu * experts + expert]: tokens processed
    std::vector<Duration> experts_forward;   // per GPU
    std::vector<double> rows;                // per GPU: token rows its experts process
    std::vector<double> sent;                // per GPU: bytes it sends to other GPUs per all-to-all
  };
  // Rewrites EP group g's dispatch traffic for dispatch.dedup node (see scenarios::Dedup).
  void node_dedup(const gating::RoutingMatrix& routing, int moe_layer, int g, double token_bytes, network::TrafficMatrix& traffic) const;
  void compute_layer(const gating::RoutingMatrix& routing, const policies::LayerPlacement& placement, int moe_layer,
                     StepResult& result);
  void migrate(const policies::Placement& placement, StepResult& result);
  void build_graph();
  // With the flow model: the phases of an all-to-all of `traffic` under the cluster's algorithm.
  FlowPhases flow_phases(const network::TrafficMatrix& traffic, bool algorithm = true);

  scenarios::Scenario scenario_;
  network::AnalyticNetwork network_;
  int gpus_, ep_, groups_;
  int64_t tokens_per_rank_;
  std::vector<int> layer_to_moe_;  // model layer -> MoE layer index, or -1

  // Per routed expert: weight parameters and forward FLOPs per token.
  double expert_params_ = 0, expert_flops_per_token_ = 0;
  // Step-invariant kernel and collective times.
  Duration attention_fwd_, dense_ffn_fwd_, gate_fwd_, shared_fwd_, lm_head_, optimizer_;
  std::vector<Duration> dense_grad_all_reduce_;  // per layer (layer 0 also carries the embedding)
  std::vector<double> dense_grad_bytes_;          // per layer
  double expert_grad_bytes_ = 0;                  // per GPU
  std::vector<Duration> expert_grad_all_reduce_;  // per EP rank
  std::vector<std::vector<int>> ep_groups_;       // GPUs of each EP group
  std::vector<std::vector<int>> edp_groups_;      // GPUs holding each EP rank's experts

  scenarios::MigrationMode migration_mode_;
  double expert_state_bytes_ = 0;          // per routed expert: weights, gradients, optimizer state
  std::optional<policies::Placement> previous_;
  bool placement_changed_ = false;
  std::vector<Duration> migration_time_;   // per EP group, for the step being simulated
  std::vector<double> migration_sent_;     // per GPU, bytes of expert state it sends

  // The flow-level network, with cluster.network.model flow; null with the analytic model.
  std::unique_ptr<hardware::Topology> topology_;
  std::unique_ptr<hardware::Router> router_;
  std::unique_ptr<network::FlowNetwork> flows_;
  std::vector<double> route_scratch_;
  std::vector<FlowPhases> dense_grad_flows_;   // per layer
  std::vector<FlowPhases> expert_grad_flows_;  // per EP rank
  std::vector<FlowPhases> migration_flows_;    // per EP group

  std::vector<LayerTraffic> layers_;  // per MoE layer, for the step being simulated
  std::vector<std::vector<engine::TaskId>> a2a_tasks_;  // each all-to-all's task per EP group
  std::vector<engine::TaskId> migration_tasks_;
  engine::TaskGraph graph_;
  engine::TaskId first_backward_ = 0;  // tasks from this id on belong to the backward pass
  engine::TaskGraphExecutor executor_;
  engine::Schedule schedule_;
};

}  // namespace moesim
