#include "sim/step_simulator.h"

#include <algorithm>
#include <numeric>

#include "models/gating/capacity.h"
#include "policies/placement/migration.h"
#include "sim/compute_model.h"
#include "sim/network/all_to_all.h"

namespace moesim {
namespace {

uint32_t tag(TaskKind kind, int layer) { return static_cast<uint32_t>(kind) | (static_cast<uint32_t>(layer) << 8); }
TaskKind tag_kind(uint32_t tag) { return static_cast<TaskKind>(tag & 0xff); }
int tag_layer(uint32_t tag) { return static_cast<int>(tag >> 8); }

KernelWork scaled(KernelWork w, double k) { return KernelWork{w.flops * k, w.bytes * k, w.rows}; }

}  // namespace

const char* to_string(TaskKind kind) {
  switch (kind) {
    case TaskKind::kAttention: return "attention";
    case TaskKind::kDenseFfn: return "dense FFN";
    case TaskKind::kGate: return "gate";
    case TaskKind::kSharedExperts: return "shared experts";
    case TaskKind::kExperts: return "experts";
    case TaskKind::kDispatch: return "dispatch";
    case TaskKind::kCombine: return "combine";
    case TaskKind::kLmHead: return "LM head";
    case TaskKind::kDenseGradAllReduce: return "dense grad all-reduce";
    case TaskKind::kExpertGradAllReduce: return "expert grad all-reduce";
    case TaskKind::kOptimizer: return "optimizer";
    case TaskKind::kMigration: return "migration";
  }
  return "?";
}

StepSimulator::StepSimulator(const scenarios::Scenario& s, scenarios::MigrationMode migration, int spare_slots)
    : scenario_(s),
      network_(network::make_analytic_network(s.cluster)),
      gpus_(s.cluster.gpu_count()),
      ep_(s.parallelism.ep),
      groups_(s.parallelism.dp / s.parallelism.ep),
      tokens_per_rank_(s.training.tokens_per_rank(s.parallelism)),
      migration_mode_(migration) {
  const auto& m = s.model;
  const auto& gpu = s.cluster.gpu;
  const auto params = models::param_counts(m);
  const auto flops = models::token_flops(m, s.training.seq_len);
  const double rows = static_cast<double>(tokens_per_rank_);
  const double act = m.activation_bytes();
  const double w = models::MoeModel::kWeightBytes;
  const double h = m.hidden;

  expert_params_ = params.expert;
  expert_flops_per_token_ = flops.expert.count();
  layer_to_moe_.assign(m.layers, -1);
  int moe = 0;
  for (int l = 0; l < m.layers; ++l) {
    if (m.is_moe_layer(l)) layer_to_moe_[l] = moe++;
  }

  auto time = [&](Flops f, double weight_params, double activations_per_row) {
    return kernel_time(gpu, m.dtype, KernelWork{f * rows, Bytes(weight_params * w + rows * activations_per_row * act), rows});
  };
  attention_fwd_ = time(flops.attention_projections + flops.attention_core, params.attention_per_layer, 6 * h);
  dense_ffn_fwd_ = time(flops.dense_ffn, params.dense_ffn_per_layer, 2 * h + 2.0 * m.ffn_hidden);
  gate_fwd_ = time(flops.gate, params.gate_per_moe_layer, h + m.experts);
  shared_fwd_ = m.shared_experts > 0 ? time(flops.shared_experts, params.shared_per_moe_layer,
                                            m.shared_experts * (2 * h + 2.0 * m.expert_ffn_hidden))
                                     : Duration();
  // Forward and backward of the LM head (tied embedding): 3x the forward work.
  lm_head_ = kernel_time(gpu, m.dtype, scaled(KernelWork{flops.lm_head * rows, Bytes(params.embedding * w + rows * (h + m.vocab) * act), rows}, 3));

  // Adam reads weight, gradient, master weight and moments and writes all but the gradient.
  const int experts_per_gpu = m.experts / ep_ + spare_slots;
  const double local_params = params.dense_total + static_cast<double>(experts_per_gpu) * m.moe_layer_count() * params.expert;
  const double state_per_param = models::MoeModel::kWeightBytes + m.grad_bytes_per_param + m.optimizer_bytes_per_param;
  optimizer_ = streaming_time(gpu, Bytes(local_params * (2 * state_per_param - m.grad_bytes_per_param)));
  expert_state_bytes_ = params.expert * state_per_param;

  ep_groups_.resize(groups_);
  for (int g = 0; g < groups_; ++g) {
    for (int r = 0; r < ep_; ++r) ep_groups_[g].push_back(g * ep_ + r);
  }
  edp_groups_.resize(ep_);
  for (int r = 0; r < ep_; ++r) {
    for (int g = 0; g < groups_; ++g) edp_groups_[r].push_back(g * ep_ + r);
  }
  std::vector<int> all(gpus_);
  std::iota(all.begin(), all.end(), 0);
  dense_grad_all_reduce_.resize(m.layers);
  dense_grad_bytes_.resize(m.layers);
  for (int l = 0; l < m.layers; ++l) {
    double p = params.attention_per_layer + (m.is_moe_layer(l) ? params.gate_per_moe_layer + params.shared_per_moe_layer
                                                              : params.dense_ffn_per_layer);
    if (l == 0) p += params.embedding;
    dense_grad_bytes_[l] = p * m.grad_bytes_per_param;
    dense_grad_all_reduce_[l] = network::ring_all_reduce_time(network_, all, Bytes(dense_grad_bytes_[l]));
  }
  expert_grad_all_reduce_.resize(ep_);
  expert_grad_bytes_ = experts_per_gpu * params.expert * m.grad_bytes_per_param;
  const Bytes expert_grads(expert_grad_bytes_);
  for (int r = 0; r < ep_; ++r) expert_grad_all_reduce_[r] = network::ring_all_reduce_time(network_, edp_groups_[r], expert_grads);

  if (s.cluster.network.model == hardware::NetworkModel::kFlow) {
    topology_ = std::make_unique<hardware::Topology>(hardware::build_topology(s.cluster));
    router_ = std::make_unique<hardware::Router>(*topology_, s.cluster.fabric.routing);
    std::vector<double> capacity(router_->link_count());
    for (hardware::LinkId l = 0; l < capacity.size(); ++l) capacity[l] = router_->capacity(l);
    flows_ = std::make_unique<network::FlowNetwork>(std::move(capacity));
    for (int l = 0; l < m.layers; ++l) {
      dense_grad_flows_.push_back({{network::ring_all_reduce_demand(*router_, s.cluster, all, Bytes(dense_grad_bytes_[l]), route_scratch_)},
                                   {network::ring_all_reduce_latency(network_, all)}});
    }
    for (int r = 0; r < ep_; ++r) {
      expert_grad_flows_.push_back({{network::ring_all_reduce_demand(*router_, s.cluster, edp_groups_[r], expert_grads, route_scratch_)},
                                    {network::ring_all_reduce_latency(network_, edp_groups_[r])}});
    }
  }

  layers_.resize(moe);
}

void StepSimulator::compute_layer(const gating::RoutingMatrix& routing, const policies::LayerPlacement& placement,
                                  int l, StepResult& result) {
  const auto& m = scenario_.model;
  const int experts = m.experts;
  const bool capacity_mode = scenario_.training.expert_execution == scenarios::ExpertExecution::kCapacity;
  const int64_t capacity = gating::expert_capacity(m.capacity_factor, tokens_per_rank_, m.top_k, experts);
  const double token_bytes = m.hidden * m.activation_bytes();
  const scenarios::Dedup dedup = scenario_.dispatch.dedup;
  LayerTraffic& t = layers_[l];
  t.a2a_time.assign(groups_, Duration());
  t.a2a_flows.resize(flows_ ? groups_ : 0);
  t.expert_rows.assign(static_cast<size_t>(gpus_) * experts, 0.0);
  t.experts_forward.assign(gpus_, Duration());
  t.rows.assign(gpus_, 0.0);
  t.sent.assign(gpus_, 0.0);

  for (int g = 0; g < groups_; ++g) {
    network::TrafficMatrix traffic(ep_groups_[g]);
    for (int i = 0; i < ep_; ++i) {
      const int src = g * ep_ + i;
      const auto row = routing.row(l, src);
      for (int e = 0; e < experts; ++e) {
        // With capacity, buffers are padded: every (source, expert) slot costs full capacity.
        const double tokens = capacity_mode ? static_cast<double>(capacity) : row[e];
        for (const auto& replica : placement.replicas[e]) {
          const double share = tokens * replica.share;
          traffic.at(i, replica.ep_rank) += share * token_bytes;
          t.expert_rows[static_cast<size_t>(g * ep_ + replica.ep_rank) * experts + e] += share;
        }
      }
      if (dedup != scenarios::Dedup::kNone && routing.has_sends()) {
        // A token goes once to each GPU that holds any of its experts (with top-1, or without
        // per-token data, the expert counts already are that).
        const auto sends = routing.sends_row(l, src);
        for (int j = 0; j < ep_; ++j) traffic.at(i, j) = sends[j] * token_bytes;
      }
    }
    if (dedup == scenarios::Dedup::kNode && routing.has_sends()) node_dedup(routing, l, g, token_bytes, traffic);
    for (int i = 0; i < ep_; ++i) {
      for (int j = 0; j < ep_; ++j) t.sent[g * ep_ + i] += i == j ? 0.0 : traffic.at(i, j);
    }
    const network::AllToAllCost cost = network::all_to_all_cost(network_, traffic);
    t.a2a_time[g] = cost.time;
    if (flows_) t.a2a_flows[g] = flow_phases(traffic);
    // Dispatch and combine, forward and backward, move the same bytes.
    result.a2a_intra_node += cost.intra_node * 4;
    result.a2a_inter_node += cost.inter_node * 4;
  }

  const double row_bytes = (2.0 * m.hidden + 2.0 * m.expert_ffn_hidden) * m.activation_bytes();
  std::vector<KernelWork> groups(experts);
  double max_rows = 0, total_rows = 0;
  for (int gpu = 0; gpu < gpus_; ++gpu) {
    double gpu_rows = 0;
    for (int e = 0; e < experts; ++e) {
      const double rows = t.expert_rows[static_cast<size_t>(gpu) * experts + e];
      groups[e] = KernelWork{Flops(rows * expert_flops_per_token_), Bytes(expert_params_ * models::MoeModel::kWeightBytes + rows * row_bytes), rows};
      gpu_rows += rows;
    }
    t.experts_forward[gpu] = grouped_kernel_time(scenario_.cluster.gpu, m.dtype, groups);
    t.rows[gpu] = gpu_rows;
    max_rows = std::max(max_rows, gpu_rows);
    total_rows += gpu_rows;
  }
  result.imbalance += total_rows > 0 ? max_rows / (total_rows / gpus_) : 1.0;
}

void StepSimulator::node_dedup(const gating::RoutingMatrix& routing, int l, int g, double token_bytes,
                               network::TrafficMatrix& traffic) const {
  // Per-GPU sends to other nodes become one network send per node, to the GPU there with the
  // sender's local index (or the node's first EP rank), which forwards over NVLink to each GPU of
  // its node that holds the token's experts. Sends inside the sender's node stay per GPU.
  const auto& cluster = scenario_.cluster;
  const auto& gpus = ep_groups_[g];
  std::vector<double> forward(static_cast<size_t>(ep_) * ep_, 0.0);  // [entry][destination]
  std::vector<int> entry_of_node(cluster.nodes, -1);
  for (int i = 0; i < ep_; ++i) {
    const int src = g * ep_ + i;
    const auto sends = routing.sends_row(l, src);
    const auto node_sends = routing.node_sends_row(l, src);
    const int node = cluster.node_of(gpus[i]), local = cluster.local_index(gpus[i]);
    for (int gpu : gpus) entry_of_node[cluster.node_of(gpu)] = -1;  // only the group's nodes, not all
    for (int j = 0; j < ep_; ++j) {
      const int n = cluster.node_of(gpus[j]);
      if (n == node) continue;
      if (entry_of_node[n] < 0 || cluster.local_index(gpus[j]) == local) entry_of_node[n] = j;
    }
    for (int j = 0; j < ep_; ++j) {
      const int n = cluster.node_of(gpus[j]);
      if (n == node) continue;
      traffic.at(i, j) = 0;
      const int entry = entry_of_node[n];
      if (j == entry) traffic.at(i, entry) += node_sends[j] * token_bytes;
      else forward[static_cast<size_t>(entry) * ep_ + j] += sends[j] * token_bytes;
    }
  }
  for (int e = 0; e < ep_; ++e)
    for (int j = 0; j < ep_; ++j) traffic.at(e, j) += forward[static_cast<size_t>(e) * ep_ + j];
}

StepResult StepSimulator::simulate(const gating::RoutingMatrix& routing, const policies::Placement& placement) {
  StepResult result;
  result.imbalance = 0;
  for (int l = 0; l < static_cast<int>(layers_.size()); ++l) {
    compute_layer(routing, placement.layers[l], l, result);
    for (int r = 0; r < routing.ranks(); ++r) {
      for (int32_t v : routing.row(l, r)) result.assignments += v;
      for (int32_t v : routing.dropped_row(l, r)) {
        result.assignments += v;
        result.dropped += v;
      }
    }
  }
  result.imbalance = layers_.empty() ? 1.0 : result.imbalance / static_cast<double>(layers_.size());
  migrate(placement, result);

  build_graph();
  executor_.execute(graph_, schedule_, flows_.get());
  result.step_time = schedule_.makespan.since_start();
  const auto took = [&](engine::TaskId task) { return schedule_.tasks[task].end - schedule_.tasks[task].start; };
  for (const auto& groups : a2a_tasks_) {
    Duration slowest;
    for (engine::TaskId task : groups) slowest = Max(slowest, took(task));
    result.all_to_all_time += slowest;
  }
  for (engine::TaskId task : migration_tasks_) result.migration_time = Max(result.migration_time, took(task));
  result.compute_busy.resize(gpus_);
  for (int g = 0; g < gpus_; ++g) result.compute_busy[g] = schedule_.resource_busy[compute_stream(g)];
  return result;
}

policies::PlacementCosts StepSimulator::placement_costs() const {
  const auto& m = scenario_.model;
  const double rows = static_cast<double>(tokens_per_rank_) * ep_ * m.top_k;
  const double row_bytes = (2.0 * m.hidden + 2.0 * m.expert_ffn_hidden) * m.activation_bytes();
  const Duration compute = kernel_time(scenario_.cluster.gpu, m.dtype,
                                       KernelWork{Flops(rows * expert_flops_per_token_),
                                                  Bytes(expert_params_ * models::MoeModel::kWeightBytes + rows * row_bytes), rows});
  const auto& c = scenario_.cluster;
  const bool crosses_nodes = ep_ > c.gpus_per_node;
  const double link = (crosses_nodes ? c.nic.link : c.intra_node.link).effective().bytes_per_second();
  const double token_bytes = m.hidden * m.activation_bytes();
  const double a2a = 4 * rows * token_bytes / link;
  // A token whose experts share a GPU is sent there once, in each of the four all-to-alls.
  const double kept = 4 * static_cast<double>(tokens_per_rank_) * token_bytes / link;
  return {3 * compute.seconds() + a2a, expert_state_bytes_ / link, kept};
}

StepSimulator::FlowPhases StepSimulator::flow_phases(const network::TrafficMatrix& traffic, bool algorithm) {
  const auto& c = scenario_.cluster;
  FlowPhases out;
  const auto phases = algorithm ? network::all_to_all_phases(c.network.all_to_all, c, traffic)
                                : std::vector<network::TrafficMatrix>{traffic};
  for (const auto& phase : phases) {
    const network::AllToAllCost cost = network::all_to_all_time(network_, phase);
    out.demand.push_back(network::route_traffic(*router_, phase, route_scratch_));
    out.tail.push_back(algorithm ? network::fixed_cost(cost, c.network.message_overhead) : cost.latency);
  }
  return out;
}

void StepSimulator::migrate(const policies::Placement& placement, StepResult& result) {
  migration_time_.assign(groups_, Duration());
  migration_flows_.resize(flows_ ? groups_ : 0);
  migration_sent_.assign(gpus_, 0.0);
  placement_changed_ = !previous_ || !(*previous_ == placement);
  if (!placement_changed_) return;
  const auto moves = previous_ ? policies::plan_migration(*previous_, placement) : std::vector<policies::ExpertMove>{};
  previous_ = placement;
  if (moves.empty()) return;
  for (int g = 0; g < groups_; ++g) {
    network::TrafficMatrix traffic(ep_groups_[g]);
    for (const auto& move : moves) {
      traffic.at(move.from_rank, move.to_rank) += expert_state_bytes_;
      migration_sent_[g * ep_ + move.from_rank] += expert_state_bytes_;
    }
    const network::AllToAllCost cost = network::all_to_all_time(network_, traffic);
    migration_time_[g] = cost.time;
    if (flows_) migration_flows_[g] = flow_phases(traffic, /*algorithm=*/false);
    result.migration_bytes += Bytes(expert_state_bytes_ * static_cast<double>(moves.size()));
  }
}

void StepSimulator::build_graph() {
  using engine::TaskId;
  const auto& m = scenario_.model;
  constexpr int32_t kAllToAllPriority = 2, kAllReducePriority = 1;
  graph_.reset(static_cast<uint32_t>(2 * gpus_));
  a2a_tasks_.clear();
  migration_tasks_.clear();
  if (flows_) flows_->reset();

  // The task each GPU's next computation must wait for.
  std::vector<TaskId> last(gpus_);
  std::vector<bool> has_last(gpus_, false);
  auto compute = [&](int gpu, Duration d, TaskKind kind, int layer) {
    const TaskId t = graph_.add_task(d, compute_stream(gpu), 0, tag(kind, layer));
    if (has_last[gpu]) graph_.add_dependency(last[gpu], t);
    last[gpu] = t;
    has_last[gpu] = true;
    return t;
  };
  std::vector<engine::ResourceId> streams;
  // A collective on the members' communication streams, after each member's last task: `time`
  // long with the analytic model; with the flow model, `flows`' phases back to back, then their
  // latencies. It becomes the members' last task if it `advances` them.
  auto collective = [&](const std::vector<int>& members, Duration time, const FlowPhases* flows, TaskKind kind, int layer,
                        int32_t priority, bool advances) {
    streams.clear();
    for (int g : members) streams.push_back(comm_stream(g));
    TaskId t = 0;
    if (!flows_) {
      t = graph_.add_task(time, streams, priority, tag(kind, layer));
    } else {
      Duration tail;
      for (Duration d : flows->tail) tail += d;
      t = graph_.add_shared_task(tail, streams, priority, tag(kind, layer));
      flows_->set_demand(t, flows->demand);
    }
    for (int g : members) {
      if (has_last[g]) graph_.add_dependency(last[g], t);
      if (advances) {
        last[g] = t;
        has_last[g] = true;
      }
    }
    return t;
  };
  // Blocking: the step starts once the experts have arrived. Overlapped: the move shares the
  // communication streams with the first layers; the first MoE layer's experts wait for it.
  const bool blocking = migration_mode_ == scenarios::MigrationMode::kBlocking;
  std::vector<TaskId> migration(groups_);
  std::vector<bool> migrating(groups_, false);
  for (int g = 0; g < groups_; ++g) {
    if (migration_time_[g] <= Duration()) continue;
    migration[g] = collective(ep_groups_[g], migration_time_[g], flows_ ? &migration_flows_[g] : nullptr,
                                  TaskKind::kMigration, 0, kAllToAllPriority, blocking);
    migration_tasks_.push_back(migration[g]);
    migrating[g] = true;
  }
  auto wait_for_migration = [&](int gpu, TaskId experts) {
    if (!blocking && migrating[gpu / ep_]) graph_.add_dependency(migration[gpu / ep_], experts);
  };
  auto all_to_all = [&](int moe_layer, TaskKind kind, int layer) {
    const LayerTraffic& t = layers_[moe_layer];
    auto& tasks = a2a_tasks_.emplace_back();
    for (int g = 0; g < groups_; ++g) {
      tasks.push_back(collective(ep_groups_[g], t.a2a_time[g], flows_ ? &t.a2a_flows[g] : nullptr, kind, layer, kAllToAllPriority, true));
    }
  };

  for (int l = 0; l < m.layers; ++l) {
    const int moe = layer_to_moe_[l];
    for (int g = 0; g < gpus_; ++g) compute(g, attention_fwd_, TaskKind::kAttention, l);
    if (moe < 0) {
      for (int g = 0; g < gpus_; ++g) compute(g, dense_ffn_fwd_, TaskKind::kDenseFfn, l);
      continue;
    }
    std::vector<TaskId> gate(gpus_);
    for (int g = 0; g < gpus_; ++g) gate[g] = compute(g, gate_fwd_, TaskKind::kGate, l);
    all_to_all(moe, TaskKind::kDispatch, l);
    for (int g = 0; g < gpus_; ++g) {
      // Shared experts need only the gate's input, so they run while the dispatch is in flight.
      if (shared_fwd_ > Duration()) {
        const TaskId s = graph_.add_task(shared_fwd_, compute_stream(g), 0, tag(TaskKind::kSharedExperts, l));
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
  for (int g = 0; g < gpus_; ++g) compute(g, lm_head_, TaskKind::kLmHead, m.layers);
  first_backward_ = static_cast<TaskId>(graph_.task_count());

  std::vector<std::vector<TaskId>> grad_reduces(gpus_);
  std::vector<int> all(gpus_);
  std::iota(all.begin(), all.end(), 0);
  for (int l = m.layers - 1; l >= 0; --l) {
    const int moe = layer_to_moe_[l];
    if (moe < 0) {
      for (int g = 0; g < gpus_; ++g) compute(g, dense_ffn_fwd_ * 2, TaskKind::kDenseFfn, l);
    } else {
      all_to_all(moe, TaskKind::kCombine, l);
      std::vector<TaskId> experts_bwd(gpus_);
      for (int g = 0; g < gpus_; ++g) {
        if (shared_fwd_ > Duration()) compute(g, shared_fwd_ * 2, TaskKind::kSharedExperts, l);
        experts_bwd[g] = compute(g, layers_[moe].experts_forward[g] * 2, TaskKind::kExperts, l);
      }
      if (groups_ > 1) {
        for (int r = 0; r < ep_; ++r) {
          streams.clear();
          for (int g : edp_groups_[r]) streams.push_back(comm_stream(g));
          // Each member's last task is its expert backward; the all-reduce overlaps what follows.
          const TaskId ar = collective(edp_groups_[r], expert_grad_all_reduce_[r], flows_ ? &expert_grad_flows_[r] : nullptr,
                                       TaskKind::kExpertGradAllReduce, l, kAllReducePriority, false);
          for (int g : edp_groups_[r]) grad_reduces[g].push_back(ar);
        }
      }
      all_to_all(moe, TaskKind::kDispatch, l);
      for (int g = 0; g < gpus_; ++g) compute(g, gate_fwd_ * 2, TaskKind::kGate, l);
    }
    for (int g = 0; g < gpus_; ++g) compute(g, attention_fwd_ * 2, TaskKind::kAttention, l);
    if (gpus_ > 1) {
      const TaskId ar = collective(all, dense_grad_all_reduce_[l], flows_ ? &dense_grad_flows_[l] : nullptr,
                                   TaskKind::kDenseGradAllReduce, l, kAllReducePriority, false);
      for (int g = 0; g < gpus_; ++g) grad_reduces[g].push_back(ar);
    }
  }
  for (int g = 0; g < gpus_; ++g) {
    const TaskId opt = compute(g, optimizer_, TaskKind::kOptimizer, m.layers);
    for (TaskId ar : grad_reduces[g]) graph_.add_dependency(ar, opt);
  }
}

void StepSimulator::append_timeline(int step, Duration offset, std::vector<TimelineSpan>& out) const {
  const double token_bytes = scenario_.model.hidden * scenario_.model.activation_bytes();
  for (engine::TaskId t = 0; t < graph_.task_count(); ++t) {
    TimelineSpan span;
    span.step = step;
    span.backward = t >= first_backward_;
    span.kind = tag_kind(graph_.tag(t));
    span.layer = tag_layer(graph_.tag(t));
    span.start = offset + schedule_.tasks[t].start.since_start();
    span.duration = schedule_.tasks[t].end - schedule_.tasks[t].start;
    const int moe = span.layer < static_cast<int>(layer_to_moe_.size()) ? layer_to_moe_[span.layer] : -1;
    for (engine::ResourceId r : graph_.resources(t)) {
      span.gpu = static_cast<int>(r / 2);
      span.comm = r % 2 == 1;
      switch (span.kind) {
        case TaskKind::kDispatch:
        case TaskKind::kCombine:
          span.bytes = layers_[moe].sent[span.gpu];
          span.tokens = span.bytes / token_bytes;
          break;
        case TaskKind::kExperts: span.tokens = layers_[moe].rows[span.gpu]; break;
        case TaskKind::kDenseGradAllReduce: span.bytes = dense_grad_bytes_[span.layer]; break;
        case TaskKind::kExpertGradAllReduce: span.bytes = expert_grad_bytes_; break;
        case TaskKind::kMigration: span.bytes = migration_sent_[span.gpu]; break;
        case TaskKind::kOptimizer: break;
        default: span.tokens = static_cast<double>(tokens_per_rank_);
      }
      out.push_back(span);
    }
  }
}

}  // namespace moesim
