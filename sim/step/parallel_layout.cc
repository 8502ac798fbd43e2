#include "sim/step/parallel_layout.h"

#include <algorithm>

#include "sim/step/pipeline_layout.h"

namespace moesim {

std::vector<std::vector<int>> split_layers(int model_layers, int virtual_stages, int mtp_layers) {
  const int layers = model_layers + mtp_layers;
  std::vector<int> count(virtual_stages, layers / virtual_stages);
  int extra = layers % virtual_stages;
  for (int v = 1; v + 1 < virtual_stages && extra > 0; ++v, --extra) ++count[v];
  for (int v : {0, virtual_stages - 1}) {
    if (extra > 0 && (v != virtual_stages - 1 || virtual_stages > 1)) ++count[v], --extra;
  }
  std::vector<std::vector<int>> out(virtual_stages);
  int next = 0;
  for (int v = 0; v < virtual_stages; ++v) {
    for (int i = 0; i < count[v]; ++i) out[v].push_back(next++);
  }
  // The prediction modules run after the model's last layer and before the LM head: all of them on
  // the last virtual stage, in order.
  for (int v = virtual_stages - 2; v >= 0; --v) {
    while (!out[v].empty() && out[v].back() >= model_layers) {
      out.back().insert(out.back().begin(), out[v].back());
      out[v].pop_back();
    }
  }
  return out;
}

std::vector<std::vector<int>> stage_layers(const models::MoeModel& m, const Parallelism& p, int virtual_stages) {
  return p.pipeline_layout.empty() ? split_layers(m.layers, virtual_stages, m.mtp_layers) : split_of_layout(p.pipeline_layout);
}

int mtp_virtual_stage(const models::MoeModel& m, const std::vector<std::vector<int>>& stages) {
  if (m.mtp_layers == 0) return -1;
  for (size_t v = 0; v < stages.size(); ++v) {
    if (std::find(stages[v].begin(), stages[v].end(), m.layers) != stages[v].end()) return static_cast<int>(v);
  }
  return -1;
}

RankCoordinates ParallelLayout::coordinates(int gpu) const {
  RankCoordinates c;
  c.pp = stage_of(gpu);
  const int local = local_of(gpu);
  c.tp = local % p_.tp;
  c.cp = local / p_.tp % p_.cp;
  c.dp = local / (p_.tp * p_.cp);
  c.etp = local % p_.etp;
  if (p_.ep_layout == EpLayout::kPacked) {
    c.ep = local / p_.etp % p_.ep;
    c.edp = local / (p_.etp * p_.ep);
  } else {
    c.edp = local / p_.etp % p_.expert_dp();
    c.ep = local / (p_.etp * p_.expert_dp());
  }
  return c;
}

int ParallelLayout::expert_local(int etp_rank, int ep_rank, int edp_rank) const {
  return p_.ep_layout == EpLayout::kPacked ? etp_rank + p_.etp * (ep_rank + p_.ep * edp_rank)
                                           : etp_rank + p_.etp * (edp_rank + p_.expert_dp() * ep_rank);
}

std::vector<int> ParallelLayout::ep_group(int stage, int group) const {
  const int etp_rank = group % p_.etp, edp = group / p_.etp;
  std::vector<int> out;
  for (int e = 0; e < p_.ep; ++e) out.push_back(gpu(stage, expert_local(etp_rank, e, edp)));
  return out;
}

int ParallelLayout::ep_ranks_per_node(int gpus_per_node) const {
  int ranks = 0;
  for (int e = 0; e < p_.ep; ++e) ranks += expert_local(0, e, 0) < gpus_per_node;
  return ranks;
}

std::vector<int> ParallelLayout::expert_dp_group(int stage, int ep_rank, int etp_rank) const {
  std::vector<int> out;
  for (int d = 0; d < p_.expert_dp(); ++d) out.push_back(gpu(stage, expert_local(etp_rank, ep_rank, d)));
  return out;
}

std::vector<int> ParallelLayout::dense_dp_group(int g) const {
  const RankCoordinates c = coordinates(g);
  std::vector<int> out;
  for (int d = 0; d < p_.dp; ++d) {
    for (int x = 0; x < p_.cp; ++x) out.push_back(gpu(c.pp, c.tp + p_.tp * (x + p_.cp * d)));
  }
  return out;
}

std::vector<int> ParallelLayout::tp_group(int g) const {
  const int first = g - coordinates(g).tp;
  std::vector<int> out;
  for (int t = 0; t < p_.tp; ++t) out.push_back(first + t);
  return out;
}

std::vector<int> ParallelLayout::etp_group(int g) const {
  const int first = g - coordinates(g).etp;
  std::vector<int> out;
  for (int t = 0; t < p_.etp; ++t) out.push_back(first + t);
  return out;
}

std::vector<int> ParallelLayout::cp_group(int g) const {
  const RankCoordinates c = coordinates(g);
  std::vector<int> out;
  for (int x = 0; x < p_.cp; ++x) out.push_back(gpu(c.pp, c.tp + p_.tp * (x + p_.cp * c.dp)));
  return out;
}

}  // namespace moesim
