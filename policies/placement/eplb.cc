#include "policies/placement/eplb.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

namespace moesim::policies {
namespace {

struct Packing {
  std::vector<int> pack, rank;  // per item: its pack, and its position among the pack's items
};

// EPLB's balanced_packing: items heaviest first (equal ones in index order), each to the lightest
// pack with room, the first of equally light ones; every pack takes items.size() / packs.
Packing balanced_packing(const std::vector<float>& weight, int packs) {
  const int n = static_cast<int>(weight.size()), per_pack = n / packs;
  Packing out{std::vector<int>(n), std::vector<int>(n, 0)};
  if (per_pack == 1) {
    std::iota(out.pack.begin(), out.pack.end(), 0);
    return out;
  }
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return weight[a] > weight[b]; });
  std::vector<float> load(packs, 0.0f);
  std::vector<int> items(packs, 0);
  for (int item : order) {
    int best = -1;
    for (int p = 0; p < packs; ++p) {
      if (items[p] < per_pack && (best < 0 || load[p] < load[best])) best = p;
    }
    out.pack[item] = best;
    out.rank[item] = items[best]++;
    load[best] += weight[item];
  }
  return out;
}

struct Replication {
  std::vector<int> phy2log, rank;  // per physical expert
  std::vector<int> count;          // per logical expert
};

// EPLB's replicate_experts: each extra physical expert replicates the logical one with the
// highest load per replica (the first on a tie).
Replication replicate_experts(const std::vector<float>& weight, int physical) {
  const int logical = static_cast<int>(weight.size());
  Replication out{std::vector<int>(physical), std::vector<int>(physical, 0), std::vector<int>(logical, 1)};
  std::iota(out.phy2log.begin(), out.phy2log.begin() + logical, 0);
  for (int i = logical; i < physical; ++i) {
    int best = 0;
    for (int e = 1; e < logical; ++e) {
      if (weight[e] / static_cast<float>(out.count[e]) > weight[best] / static_cast<float>(out.count[best])) best = e;
    }
    out.phy2log[i] = best;
    out.rank[i] = out.count[best]++;
  }
  return out;
}

std::vector<int> inverse(const std::vector<int>& permutation) {
  std::vector<int> out(permutation.size());
  for (size_t i = 0; i < permutation.size(); ++i) out[permutation[i]] = static_cast<int>(i);
  return out;
}

// One layer by EPLB's rebalance_experts_hierarchical (global mode: one group, one node).
void plan_layer(const std::vector<float>& weight, const EplbShape& shape, int layer, EplbPlan& plan, std::vector<int>& count) {
  const int experts = static_cast<int>(weight.size()), nodes = shape.nodes, group_size = experts / shape.groups;
  const int groups_per_node = shape.groups / nodes, node_experts = experts / nodes, node_slots = shape.physical / nodes;
  const int gpus_per_node = shape.gpus / nodes, gpu_slots = shape.physical / shape.gpus;
  // 1. Groups to nodes: logical expert -> its position when the nodes' experts are laid end to end.
  std::vector<float> group_load(shape.groups, 0.0f);
  for (int g = 0; g < shape.groups; ++g)
    for (int j = 0; j < group_size; ++j) group_load[g] += weight[g * group_size + j];
  const Packing groups = balanced_packing(group_load, nodes);
  std::vector<int> log2mlog(experts);
  for (int g = 0; g < shape.groups; ++g)
    for (int j = 0; j < group_size; ++j)
      log2mlog[g * group_size + j] = (groups.pack[g] * groups_per_node + groups.rank[g]) * group_size + j;
  const std::vector<int> mlog2log = inverse(log2mlog);
  std::vector<int> mlog_count(experts);
  for (int n = 0; n < nodes; ++n) {
    // 2. Replicas inside the node.
    std::vector<float> node_weight(node_experts);
    for (int k = 0; k < node_experts; ++k) node_weight[k] = weight[mlog2log[n * node_experts + k]];
    const Replication r = replicate_experts(node_weight, node_slots);
    // 3. The node's physical experts to its GPUs, gpu_slots each.
    std::vector<float> slot_weight(node_slots);
    for (int p = 0; p < node_slots; ++p) slot_weight[p] = node_weight[r.phy2log[p]] / static_cast<float>(r.count[r.phy2log[p]]);
    const Packing gpus = balanced_packing(slot_weight, gpus_per_node);
    std::vector<int> phy2pphy(node_slots);
    for (int p = 0; p < node_slots; ++p) phy2pphy[p] = gpus.pack[p] * gpu_slots + gpus.rank[p];
    const std::vector<int> pphy2phy = inverse(phy2pphy);
    for (int q = 0; q < node_slots; ++q) {
      const int p = pphy2phy[q];
      const size_t slot = static_cast<size_t>(layer) * shape.physical + n * node_slots + q;
      plan.phy2log[slot] = mlog2log[n * node_experts + r.phy2log[p]];
      plan.replica[slot] = r.rank[p];
    }
    for (int k = 0; k < node_experts; ++k) mlog_count[n * node_experts + k] = r.count[k];
  }
  for (int e = 0; e < experts; ++e) count[e] = mlog_count[log2mlog[e]];
}

}  // namespace

EplbMode eplb_default_mode(const EplbShape& shape) {
  return shape.nodes > 0 && shape.groups % shape.nodes == 0 ? EplbMode::kHierarchical : EplbMode::kGlobal;
}

std::string eplb_shape_problem(int experts, const EplbShape& s, EplbMode mode) {
  const auto n = [](int v) { return std::to_string(v); };
  if (experts < 1 || s.physical < 1 || s.groups < 1 || s.nodes < 1 || s.gpus < 1)
    return "experts, physical slots, groups, nodes and GPUs must all be positive";
  if (s.gpus % s.nodes != 0) return "the GPUs (" + n(s.gpus) + ") must be a multiple of the nodes (" + n(s.nodes) + ")";
  if (s.physical % s.gpus != 0)
    return "the physical slots (" + n(s.physical) + ") must be a multiple of the GPUs (" + n(s.gpus) + "): every GPU has as many";
  if (s.physical < experts) return "fewer physical slots (" + n(s.physical) + ") than experts (" + n(experts) + ")";
  if (mode == EplbMode::kHierarchical) {
    if (experts % s.groups != 0) return "the expert groups (" + n(s.groups) + ") must divide the experts (" + n(experts) + ")";
    if (s.groups % s.nodes != 0)
      return "hierarchical mode needs the nodes (" + n(s.nodes) + ") to divide the expert groups (" + n(s.groups) +
             "); global mode does not";
  }
  return "";
}

EplbPlan rebalance_experts(const std::vector<std::vector<double>>& loads, const EplbShape& shape, EplbMode mode) {
  if (loads.empty()) throw std::invalid_argument("no layers to plan");
  const int experts = static_cast<int>(loads.front().size());
  for (const auto& row : loads)
    if (static_cast<int>(row.size()) != experts) throw std::invalid_argument("every layer must have the same experts");
  if (const std::string problem = eplb_shape_problem(experts, shape, mode); !problem.empty()) throw std::invalid_argument(problem);
  const EplbShape used = mode == EplbMode::kHierarchical ? shape : EplbShape{shape.physical, 1, 1, shape.gpus};
  EplbPlan plan;
  plan.layers = static_cast<int>(loads.size());
  plan.experts = experts;
  plan.physical = shape.physical;
  plan.phy2log.assign(static_cast<size_t>(plan.layers) * plan.physical, -1);
  plan.replica.assign(plan.phy2log.size(), 0);
  plan.logcnt.assign(static_cast<size_t>(plan.layers) * experts, 0);
  for (int l = 0; l < plan.layers; ++l) {
    const std::vector<float> weight(loads[l].begin(), loads[l].end());
    std::vector<int> count(experts);
    plan_layer(weight, used, l, plan, count);
    std::copy(count.begin(), count.end(), plan.logcnt.begin() + static_cast<ptrdiff_t>(l) * experts);
  }
  plan.max_count = *std::max_element(plan.logcnt.begin(), plan.logcnt.end());
  plan.log2phy.assign(static_cast<size_t>(plan.layers) * experts * plan.max_count, -1);
  for (int l = 0; l < plan.layers; ++l) {
    for (int p = 0; p < plan.physical; ++p) {
      const size_t slot = static_cast<size_t>(l) * plan.physical + p;
      plan.log2phy[(static_cast<size_t>(l) * experts + plan.phy2log[slot]) * plan.max_count + plan.replica[slot]] = p;
    }
  }
  return plan;
}

LayerPlacement layer_placement(const EplbPlan& plan, int layer, int gpus) {
  const int per_gpu = plan.physical / gpus;
  LayerPlacement out;
  out.replicas.resize(plan.experts);
  for (int s = 0; s < plan.physical; ++s) {
    const int e = plan.slot_expert(layer, s), rank = s / per_gpu;
    const double share = 1.0 / plan.logcnt[static_cast<size_t>(layer) * plan.experts + e];
    auto& replicas = out.replicas[e];
    const auto same = std::find_if(replicas.begin(), replicas.end(), [&](const Replica& r) { return r.ep_rank == rank; });
    if (same != replicas.end())
      same->share += share;
    else
      replicas.push_back({rank, share});
  }
  for (auto& replicas : out.replicas)
    std::sort(replicas.begin(), replicas.end(), [](const Replica& a, const Replica& b) { return a.ep_rank < b.ep_rank; });
  return out;
}

}  // namespace moesim::policies
