#include "sim/step/traffic.h"

#include <algorithm>

#include "models/gating/capacity.h"
#include "sim/base/avx2_clones.h"
#include "sim/step/compute_model.h"
#include "sim/step/dispatch_cost.h"
#include "sim/step/dispatcher.h"
#include "sim/step/step_metrics.h"

namespace moesim {
namespace {

// Rewrites EP group g's dispatch copies for node deduplication (see Dedup): per-GPU copies to
// other nodes become one network copy per node, to the GPU there with the sender's local index
// (or the node's first EP rank), which forwards over NVLink to each GPU of its node that holds the
// token's experts. Copies inside the sender's node stay per GPU. Fills `forward` with the forwarded
// copies, [entry * ep + destination], which `copies` leaves out.
void node_dedup(const StepConfig& config, int first_rank, const std::vector<int>& gpus, const gating::RoutingMatrix& routing, int l,
                double per_micro_batch, network::TrafficMatrix& copies, std::vector<double>& forward) {
  const auto& cluster = config.cluster;
  const int ep = config.parallel.ep;
  forward.assign(static_cast<size_t>(ep) * ep, 0.0);
  thread_local std::vector<int> entry_of_node;  // per layer and EP group: kept, not allocated
  entry_of_node.assign(cluster.nodes, -1);
  for (int i = 0; i < ep; ++i) {
    const auto sends = routing.sends_row(l, first_rank + i);
    const auto node_sends = routing.node_sends_row(l, first_rank + i);
    const int node = cluster.node_of(gpus[i]), local = cluster.local_index(gpus[i]);
    for (int gpu : gpus) entry_of_node[cluster.node_of(gpu)] = -1;  // only the group's nodes, not all
    for (int j = 0; j < ep; ++j) {
      const int n = cluster.node_of(gpus[j]);
      if (n == node) continue;
      if (entry_of_node[n] < 0 || cluster.local_index(gpus[j]) == local) entry_of_node[n] = j;
    }
    for (int j = 0; j < ep; ++j) {
      const int n = cluster.node_of(gpus[j]);
      if (n == node) continue;
      copies.at(i, j) = 0;
      const int entry = entry_of_node[n];
      if (j == entry)
        copies.at(i, entry) += node_sends[j] * per_micro_batch;
      else
        forward[static_cast<size_t>(entry) * ep + j] += sends[j] * per_micro_batch;
    }
  }
}

// Adds a source's rows to each replica (`sent`) into its row of copies (`to`, per destination EP
// rank), a run of replicas on one rank at a time, each destination's sum in a register and in
// replica order.
void add_runs(const LayerTraffic& t, const double* sent, double* to) {
  if (const size_t n = t.run_length; n > 0) {
    // Four ranks' runs side by side: each sum's additions wait on the one before, so one run at a
    // time would wait on every addition.
    size_t r = 0;
    for (; r + 4 <= t.replica_runs.size(); r += 4) {
      double a = to[r], b = to[r + 1], c = to[r + 2], d = to[r + 3];
      const double* s = sent + r * n;
      for (size_t k = 0; k < n; ++k) {
        a += s[k];
        b += s[n + k];
        c += s[2 * n + k];
        d += s[3 * n + k];
      }
      to[r] = a, to[r + 1] = b, to[r + 2] = c, to[r + 3] = d;
    }
    for (; r < t.replica_runs.size(); ++r) {
      double sum = to[r];
      for (size_t k = r * n; k < (r + 1) * n; ++k) sum += sent[k];
      to[r] = sum;
    }
    return;
  }
  for (const auto& run : t.replica_runs) {
    double sum = to[run.ep_rank];
    for (size_t k = run.begin; k < run.end; ++k) sum += sent[k];
    to[run.ep_rank] = sum;
  }
}

// Adds each row of `m` but its diagonal entry, in column order, to totals[gpus[row]]: four rows
// at a time, in registers, as each row's additions wait on the one before. The columns left and
// right of the four diagonal entries take no test.
void add_row_sums(const network::TrafficMatrix& m, const std::vector<int>& gpus, std::vector<double>& totals) {
  const size_t n = m.size();
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    double a = totals[gpus[i]], b = totals[gpus[i + 1]], c = totals[gpus[i + 2]], d = totals[gpus[i + 3]];
    const double *ra = m.bytes().data() + i * n, *rb = ra + n, *rc = rb + n, *rd = rc + n;
    for (size_t j = 0; j < i; ++j) a += ra[j], b += rb[j], c += rc[j], d += rd[j];
    for (size_t j = i; j < i + 4; ++j) {
      if (j != i) a += ra[j];
      if (j != i + 1) b += rb[j];
      if (j != i + 2) c += rc[j];
      if (j != i + 3) d += rd[j];
    }
    for (size_t j = i + 4; j < n; ++j) a += ra[j], b += rb[j], c += rc[j], d += rd[j];
    totals[gpus[i]] = a, totals[gpus[i + 1]] = b, totals[gpus[i + 2]] = c, totals[gpus[i + 3]] = d;
  }
  for (; i < n; ++i) {
    double sum = totals[gpus[i]];
    for (size_t j = 0; j < n; ++j) {
      if (j != i) sum += m.at(i, j);
    }
    totals[gpus[i]] = sum;
  }
}

// The rows one source sends each replica (one copy of each expert: replica k reads the row's
// element k), added to each replica's total in the same pass; returns the row's assignments, also
// counted in that pass. Four doubles a vector where the CPU has AVX2, as the group's hundreds of
// thousands of sources a step make this loop a tenth of a DeepSeek-V3 step's traffic.
MOESIM_AVX2_CLONES
int64_t replica_rows_from(const int32_t* __restrict tokens, const double* __restrict share, double per_micro_batch, double* __restrict sent,
                          double* __restrict summed, size_t replicas) {
  int64_t assignments = 0;
  for (size_t k = 0; k < replicas; ++k) {
    summed[k] += sent[k] = tokens[k] * share[k] * per_micro_batch;
    assignments += tokens[k];
  }
  return assignments;
}

// EP group g's dispatch per micro-batch in token copies (each a row of hidden states from one GPU
// to another), and the tokens its GPUs' experts process.
void group_copies(const StepConfig& config, const DispatcherEntry& dispatcher, const StepCosts& costs, const gating::RoutingMatrix& routing,
                  int l, int g, LayerTraffic& t, network::TrafficMatrix& copies) {
  const auto& m = config.model;
  const int experts = m.experts, ep = config.parallel.ep;
  const double per_micro_batch = 1.0 / costs.micro_batches;
  const bool capacity_mode = config.expert_execution == ExpertExecution::kCapacity;
  const int64_t capacity = gating::expert_capacity(m.capacity_factor, config.tokens_per_rank, m.top_k, experts);
  const Dedup dedup = config.dedup;
  const std::vector<int>& ranks = costs.ep_groups[g];
  thread_local std::vector<int> gpus;
  thread_local std::vector<double> replica_rows, rows;
  gpus.clear();
  for (int local : ranks) gpus.push_back(costs.layout.gpu(t.stage, local));
  copies.reset(gpus);
  // Each replica's rows from the group's GPUs, summed in rank order into its slot at the end.
  const size_t replicas = t.replica_slots.size();
  replica_rows.assign(replicas, 0.0);
  rows.resize(replicas);
  const int first_rank = g * ep;  // the group's routing ranks (parallel_layout.h)
  for (int i = 0; i < ep; ++i) {
    const int src = first_rank + i;
    const auto row = routing.row(l, src);
    // The rows this source sends each replica, in passes that vectorize: with one copy of each
    // expert, replica k reads the row's element k.
    double* sent = rows.data();
    const double* share = t.replica_share.data();
    // Each replica's sum in the same pass (one load and store of it, not two).
    double* summed = replica_rows.data();
    if (t.one_replica_per_expert && !capacity_mode) {
      t.assignments += replica_rows_from(row.data(), share, per_micro_batch, sent, summed, replicas);
    } else if (capacity_mode) {
      // With capacity, buffers are padded: every (source, expert) slot costs full capacity.
      t.assignments += gating::count_total(row);
      for (size_t k = 0; k < replicas; ++k) summed[k] += sent[k] = static_cast<double>(capacity) * share[k] * per_micro_batch;
    } else {
      t.assignments += gating::count_total(row);
      for (size_t k = 0; k < replicas; ++k) summed[k] += sent[k] = row[t.replica_slots[k].expert] * share[k] * per_micro_batch;
    }
    add_runs(t, sent, &copies.at(i, 0));
    if (dispatcher.gathers) {
      // Every GPU of the group receives all of this GPU's tokens.
      const double tokens = static_cast<double>(config.tokens_per_rank) * per_micro_batch;
      for (int j = 0; j < ep; ++j) copies.at(i, j) = tokens;
    } else if (dedup != Dedup::kNone && routing.has_sends()) {
      // A token goes once to each GPU that holds any of its experts (with top-1, or without
      // per-token data, the expert counts already are that).
      const auto sends = routing.sends_row(l, src);
      for (int j = 0; j < ep; ++j) copies.at(i, j) = sends[j] * per_micro_batch;
    }
  }
  for (size_t k = 0; k < t.replica_slots.size(); ++k) {
    const auto& replica = t.replica_slots[k];
    t.expert_rows[t.slot_begin[ranks[replica.ep_rank]] + replica.slot] += replica_rows[k];
  }
  thread_local std::vector<double> forward;
  forward.clear();
  if (dedup == Dedup::kNode && routing.has_sends()) node_dedup(config, first_rank, gpus, routing, l, per_micro_batch, copies, forward);
  // The rows a GPU sends of its own tokens; what it forwards for others is bytes, not its tokens.
  add_row_sums(copies, ranks, t.sent_rows);
  if (!forward.empty()) {
    for (int e = 0; e < ep; ++e)
      for (int j = 0; j < ep; ++j) copies.at(e, j) += forward[static_cast<size_t>(e) * ep + j];
  }
}

// to[k] = from[k] * by: four a vector where the CPU has AVX2.
MOESIM_AVX2_CLONES
void scaled(const double* __restrict from, double by, double* __restrict to, size_t n) {
  for (size_t k = 0; k < n; ++k) to[k] = from[k] * by;
}

// `copies` at `row_bytes` each, into `bytes`.
void in_bytes(const network::TrafficMatrix& copies, double row_bytes, network::TrafficMatrix& bytes) {
  bytes.reset(copies.gpus());
  scaled(copies.bytes().data(), row_bytes, bytes.data(), copies.bytes().size());
}

// ETP: every GPU of an ETP group computes its 1/etp slice of each expert for the tokens that all
// of the group received: the group's rows, gathered before the experts and scattered after.
void expert_tensor_parallel(const StepConfig& config, const StepCosts& costs, network::NetworkModel& network, LayerTraffic& t) {
  const int experts = config.model.experts, etp = config.parallel.etp, groups = costs.stage_gpus / etp;
  const double hidden = config.model.hidden;
  t.etp_gather.assign(groups, network::CollectiveCost{});
  t.etp_scatter.assign(groups, network::CollectiveCost{});
  for (int group = 0; group < groups; ++group) {
    std::vector<double> rows(experts, 0.0);
    for (int i = 0; i < etp; ++i) {
      for (int e = 0; e < experts; ++e) rows[e] += t.expert_rows[static_cast<size_t>(group * etp + i) * experts + e];
    }
    double total = 0;
    for (int i = 0; i < etp; ++i) {
      for (int e = 0; e < experts; ++e) t.expert_rows[static_cast<size_t>(group * etp + i) * experts + e] = rows[e];
    }
    for (double r : rows) total += r;
    const std::vector<int> members = costs.layout.etp_group(costs.layout.gpu(t.stage, group * etp));
    // An all-gather of the group's dispatched rows, and a reduce-scatter of their outputs (which
    // costs the same): each one pass round the group's ring.
    t.etp_gather[group] = network.all_gather(members, Bytes(total * hidden * config.dispatch_bytes));
    t.etp_scatter[group] = network.all_gather(members, Bytes(total * hidden * config.combine_bytes));
  }
}

// The slots of t.expert_rows: each GPU's experts under `placement` (each EP group holds them
// alike), or every expert on every GPU under ETP, whose groups pool their GPUs' rows.
void lay_out_slots(const StepConfig& config, const StepCosts& costs, const policies::LayerPlacement& placement, LayerTraffic& t) {
  const int experts = config.model.experts, ep = config.parallel.ep, gpus = costs.stage_gpus;
  const bool every = config.parallel.etp > 1;
  // Per EP rank, its experts in increasing order: their slot offsets, then the experts themselves.
  t.slot_of_rank.assign(static_cast<size_t>(ep) * experts, -1);
  t.rank_begin.assign(ep + 1, 0);
  for (int e = 0; e < experts; ++e) {
    for (int r = 0; r < ep && every; ++r) t.slot_of_rank[static_cast<size_t>(r) * experts + e] = t.rank_begin[r + 1]++;
    for (const auto& replica : placement.replicas[e]) {
      int& slot = t.slot_of_rank[static_cast<size_t>(replica.ep_rank) * experts + e];
      if (slot < 0) slot = t.rank_begin[replica.ep_rank + 1]++;
    }
  }
  for (int r = 0; r < ep; ++r) t.rank_begin[r + 1] += t.rank_begin[r];
  t.rank_expert.assign(t.rank_begin[ep], 0);
  for (int r = 0; r < ep; ++r)
    for (int e = 0; e < experts; ++e)
      if (const int slot = t.slot_of_rank[static_cast<size_t>(r) * experts + e]; slot >= 0) t.rank_expert[t.rank_begin[r] + slot] = e;
  t.slot_begin.assign(gpus + 1, 0);
  for (int g = 0; g < costs.groups; ++g) {
    for (int r = 0; r < ep; ++r) {
      const int gpu = costs.ep_groups[g][r];
      t.slot_begin[gpu + 1] = t.rank_begin[r + 1] - t.rank_begin[r];
    }
  }
  for (int gpu = 0; gpu < gpus; ++gpu) t.slot_begin[gpu + 1] += t.slot_begin[gpu];
  t.slot_expert.assign(t.slot_begin[gpus], 0);
  for (int g = 0; g < costs.groups; ++g) {
    for (int r = 0; r < ep; ++r) {
      std::copy(t.rank_expert.begin() + t.rank_begin[r], t.rank_expert.begin() + t.rank_begin[r + 1],
                t.slot_expert.begin() + t.slot_begin[costs.ep_groups[g][r]]);
    }
  }
  t.expert_rows.assign(t.slot_expert.size(), 0.0);
  t.replica_slots.clear();
  t.replica_share.clear();
  t.replica_runs.clear();
  for (int e = 0; e < experts; ++e) {
    for (const auto& replica : placement.replicas[e]) {
      const size_t k = t.replica_slots.size();
      t.replica_slots.push_back({e, replica.ep_rank, t.slot_of_rank[static_cast<size_t>(replica.ep_rank) * experts + e], replica.share});
      t.replica_share.push_back(replica.share);
      if (t.replica_runs.empty() || t.replica_runs.back().ep_rank != replica.ep_rank) t.replica_runs.push_back({replica.ep_rank, k, k});
      ++t.replica_runs.back().end;
    }
  }
  t.one_replica_per_expert = true;
  for (size_t k = 0; k < t.replica_slots.size(); ++k) t.one_replica_per_expert &= t.replica_slots[k].expert == static_cast<int>(k);
  t.run_length = t.replica_runs.empty() ? 0 : t.replica_runs[0].end - t.replica_runs[0].begin;
  for (size_t r = 0; r < t.replica_runs.size(); ++r) {
    const auto& run = t.replica_runs[r];
    if (run.ep_rank != static_cast<int>(r) || run.begin != r * t.run_length || run.end - run.begin != t.run_length) t.run_length = 0;
  }
}

// The copies of a replicated expert sum their gradients every step, as data-parallel replicas do:
// a ring all-reduce among the EP ranks holding one, in which each sends 2 (c - 1) / c of the
// gradient to the next; all the layer's replicated experts at once, as one set of transfers per EP
// group on the network model.
void replica_gradients(const StepCosts& costs, network::NetworkModel& network, const policies::LayerPlacement& placement, LayerTraffic& t) {
  t.replica_grad.assign(costs.groups, network::CollectiveCost{});
  t.replica_grad_sent.assign(costs.stage_gpus, 0.0);
  bool any = false;
  for (const auto& copies : placement.replicas) any = any || copies.size() > 1;
  if (!any) return;
  for (int g = 0; g < costs.groups; ++g) {
    std::vector<int> gpus;
    for (int local : costs.ep_groups[g]) gpus.push_back(costs.layout.gpu(t.stage, local));
    network::TrafficMatrix traffic(gpus);
    for (const auto& copies : placement.replicas) {
      const size_t c = copies.size();
      if (c < 2) continue;
      const double bytes = 2.0 * static_cast<double>(c - 1) / static_cast<double>(c) * costs.expert_copy_grad_bytes;
      for (size_t i = 0; i < c; ++i) {
        traffic.at(copies[i].ep_rank, copies[(i + 1) % c].ep_rank) += bytes;
        t.replica_grad_sent[costs.ep_groups[g][copies[i].ep_rank]] += bytes;
      }
    }
    t.replica_grad[g] = network.transfers(traffic);
  }
}

// Each GPU's grouped GEMM over the rows its experts received (after ETP's gather); returns the
// layer's imbalance, the most rows on a GPU over the mean.
double experts_compute(const StepConfig& config, const StepCosts& costs, network::NetworkModel& network, LayerTraffic& t) {
  const auto& m = config.model;
  const int gpus = costs.stage_gpus;
  const int etp = config.parallel.etp;
  if (etp > 1) expert_tensor_parallel(config, costs, network, t);
  // Under ETP a GPU sees the group's rows, each at 1/etp of the expert's width.
  thread_local std::vector<KernelWork> groups;  // the GPU's experts, in increasing order
  double max_rows = 0, total_rows = 0;
  for (int gpu = 0; gpu < gpus; ++gpu) {
    double gpu_rows = 0;
    groups.clear();
    for (int slot = t.slot_begin[gpu]; slot < t.slot_begin[gpu + 1]; ++slot) {
      const double rows = t.expert_rows[slot];
      groups.push_back(
          KernelWork{Flops(rows * costs.expert_flops_per_token / etp), costs.expert_traffic.at(rows), rows, costs.expert_width});
      gpu_rows += rows;
    }
    // A weight's gradient (rows x in)^T (rows x out) takes the FLOPs of the forward GEMM.
    t.experts_wgrad[gpu] = grouped_kernel_time(config.cluster.gpu, m.dtype, groups);
    const Duration experts = t.experts_wgrad[gpu] + elementwise_time(config.cluster.gpu, costs.expert_elementwise_bytes * (gpu_rows / etp),
                                                                     costs.expert_elementwise_kernels);
    const auto quantize = [&](Bytes per_row) {
      return elementwise_time(config.cluster.gpu, per_row * gpu_rows, costs.expert_quantize_kernels);
    };
    t.experts_forward[gpu] = experts + quantize(costs.expert_quantize_forward);
    // Zero bytes (no moe_act) cost nothing.
    const Duration recompute =
        elementwise_time(config.cluster.gpu, costs.expert_recompute_bytes * gpu_rows, costs.expert_recompute_kernels);
    t.experts_backward[gpu] = experts * 2 + quantize(costs.expert_quantize_backward) + recompute;
    t.rows[gpu] = gpu_rows;
    max_rows = std::max(max_rows, gpu_rows);
    total_rows += gpu_rows;
  }
  return total_rows > 0 ? max_rows / (total_rows / gpus) : 1.0;
}

// A dispatched row carries its hidden state and the dispatcher's metadata; the combine returns
// the hidden state alone, in its own precision.
struct RowBytes {
  double dispatch, combine;
  // Rows of the same bytes both ways (BF16 without metadata) cost the same, and each GPU sends as
  // much in the combine as in the dispatch.
  bool alike() const { return combine == dispatch; }
};
RowBytes row_bytes(const StepConfig& config, const DispatcherEntry& dispatcher) {
  const auto& m = config.model;
  return {m.hidden * config.dispatch_bytes + dispatcher.metadata_per_copy + m.top_k * dispatcher.metadata_per_top_k +
              m.experts * dispatcher.metadata_per_expert,
          m.hidden * config.combine_bytes};
}

}  // namespace

void begin_layer_traffic(const StepConfig& config, const StepCosts& costs, network::NetworkModel& network,
                         const policies::LayerPlacement& placement, int l, LayerTraffic& t) {
  const int gpus = costs.stage_gpus;
  t.stage = costs.stage_of_layer[costs.moe_layers[l]];
  t.a2a.resize(costs.groups);
  t.a2a_combine.resize(costs.groups);
  t.count_exchange.assign(costs.groups, Duration());
  if (t.laid_out_for == placement) {
    std::fill(t.expert_rows.begin(), t.expert_rows.end(), 0.0);
  } else {
    lay_out_slots(config, costs, placement, t);
    replica_gradients(costs, network, placement, t);
    t.laid_out_for = placement;
  }
  t.experts_forward.assign(gpus, Duration());
  t.experts_backward.assign(gpus, Duration());
  t.experts_wgrad.assign(gpus, Duration());
  t.rows.assign(gpus, 0.0);
  t.sent.assign(gpus, 0.0);
  t.sent_combine.assign(gpus, 0.0);
  t.sent_rows.assign(gpus, 0.0);
  t.assignments = 0;
}

void group_traffic(const StepConfig& config, const StepCosts& costs, network::NetworkModel& network, const gating::RoutingMatrix& routing,
                   int l, int g, LayerTraffic& t) {
  const DispatcherEntry& dispatcher = *find_dispatcher(config.dispatcher);
  const RowBytes row = row_bytes(config, dispatcher);
  // One EP group's matrices at a time, in storage each thread keeps (a step costs thousands).
  thread_local network::TrafficMatrix copies, traffic, combine;
  group_copies(config, dispatcher, costs, routing, l, g, t, copies);
  in_bytes(copies, row.dispatch, traffic);
  add_row_sums(traffic, costs.ep_groups[g], t.sent);
  t.a2a[g] = dispatch_payload(config, dispatcher, network, traffic);
  if (row.alike()) {  // end_layer_traffic copies what each GPU sends
    t.a2a_combine[g] = t.a2a[g];
  } else {
    in_bytes(copies, row.combine, combine);
    add_row_sums(combine, costs.ep_groups[g], t.sent_combine);
    t.a2a_combine[g] = dispatch_payload(config, dispatcher, network, combine);
  }
  t.count_exchange[g] = costs.count_exchange[static_cast<size_t>(t.stage) * costs.groups + g];
  lengthen(t.a2a[g], t.count_exchange[g]);
}

void end_layer_traffic(const StepConfig& config, const StepCosts& costs, network::NetworkModel& network, LayerTraffic& t,
                       StepResult& result) {
  if (row_bytes(config, *find_dispatcher(config.dispatcher)).alike()) t.sent_combine = t.sent;
  // Dispatch and combine, forward and backward (and forward again where the layer is recomputed),
  // of every micro-batch.
  const double passes = (config.parallel.reruns_moe_layer() ? 3 : 2) * costs.micro_batches;
  for (int g = 0; g < costs.groups; ++g) {
    result.a2a_intra_node += (t.a2a[g].intra_node + t.a2a_combine[g].intra_node) * passes;
    result.a2a_inter_node += (t.a2a[g].inter_node + t.a2a_combine[g].inter_node) * passes;
  }
  result.imbalance += experts_compute(config, costs, network, t);
}

void layer_traffic(const StepConfig& config, const StepCosts& costs, network::NetworkModel& network, const gating::RoutingMatrix& routing,
                   const policies::LayerPlacement& placement, int l, LayerTraffic& t, StepResult& result) {
  begin_layer_traffic(config, costs, network, placement, l, t);
  for (int g = 0; g < costs.groups; ++g) group_traffic(config, costs, network, routing, l, g, t);
  end_layer_traffic(config, costs, network, t, result);
}

void migration_traffic(const StepCosts& costs, network::NetworkModel& network, const std::vector<policies::ExpertMove>& moves,
                       MigrationTraffic& out, StepResult& result) {
  const int stages = costs.pp;
  out.groups.assign(static_cast<size_t>(stages) * costs.groups, network::CollectiveCost{});
  out.sent.assign(static_cast<size_t>(stages) * costs.stage_gpus, 0.0);
  if (moves.empty()) return;
  for (int stage = 0; stage < stages; ++stage) {
    for (int g = 0; g < costs.groups; ++g) {
      std::vector<int> gpus;
      for (int local : costs.ep_groups[g]) gpus.push_back(costs.layout.gpu(stage, local));
      network::TrafficMatrix traffic(gpus);
      int moved = 0;
      for (const auto& move : moves) {
        if (!costs.holds(stage, costs.moe_layers[move.layer])) continue;
        traffic.at(move.from_rank, move.to_rank) += costs.expert_state_bytes;
        out.sent[static_cast<size_t>(stage) * costs.stage_gpus + costs.ep_groups[g][move.from_rank]] += costs.expert_state_bytes;
        ++moved;
      }
      if (moved == 0) continue;
      out.groups[static_cast<size_t>(stage) * costs.groups + g] = network.transfers(traffic);
      result.migration_bytes += Bytes(costs.expert_state_bytes * moved);
    }
  }
}

}  // namespace moesim
