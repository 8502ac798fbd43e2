// Group-limited routing (DeepSeek-V3): a token's experts come from its best topk_groups groups,
// so with one group per node it reaches at most topk_groups nodes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "models/gating/learned_source.h"
#include "models/gating/source_registry.h"

namespace moesim::gating {
namespace {

// EP over every rank, `per_node` ranks per node, experts placed contiguously.
RoutingView contiguous_view(const GatingShape& shape, int per_node) {
  RoutingView v;
  v.ep = shape.ranks;
  for (int r = 0; r < shape.ranks; ++r) v.node_of_rank.push_back(r / per_node);
  const int per_rank = shape.experts / shape.ranks;
  v.hosts.assign(shape.moe_layers, std::vector<std::vector<int>>(shape.experts));
  for (auto& layer : v.hosts)
    for (int e = 0; e < shape.experts; ++e) layer[e] = {e / per_rank};
  return v;
}

// Mean destinations per token, GPUs (sends) or nodes (node_sends, once per node and receiving GPU).
struct Destinations {
  double gpus = 0, nodes = 0;
};
Destinations destinations(const RoutingMatrix& m, const RoutingView& v, int64_t tokens_per_rank) {
  Destinations d;
  for (int l = 0; l < m.layers(); ++l)
    for (int r = 0; r < m.ranks(); ++r) {
      const auto sends = m.sends_row(l, r), node_sends = m.node_sends_row(l, r);
      for (size_t j = 0; j < sends.size(); ++j) {
        d.gpus += sends[j];
        // node_sends counts a node's tokens at each of its GPUs; one GPU per node stands for it.
        if (j == 0 || v.node_of_rank[j] != v.node_of_rank[j - 1]) d.nodes += node_sends[j];
      }
    }
  const double tokens = static_cast<double>(tokens_per_rank) * m.layers() * m.ranks();
  return {d.gpus / tokens, d.nodes / tokens};
}

// 1 - C(n - h, k) / C(n, k): a random k of n experts include one of h.
double visit(int n, int h, int k) {
  double miss = 1;
  for (int i = 0; i < k; ++i) miss *= static_cast<double>(n - h - i) / (n - i);
  return 1 - miss;
}

Destinations balanced(const GatingShape& shape, int per_node) {
  const SourceContext context{shape, 1, 1};
  auto source = find_source("balanced")->defaults({})->make(context);
  const RoutingView view = contiguous_view(shape, per_node);
  RoutingMatrix m(shape.moe_layers, shape.ranks, shape.experts);
  source->route(0, view, m);
  return destinations(m, view, shape.tokens_per_rank);
}

// DeepSeek-V3 at EP64 on 8 nodes: 256 experts in 8 groups, top-8 from 4 groups, one group per node.
TEST(GroupLimitedRouting, BalancedDeepSeekV3TokensReachFourNodes) {
  const GatingShape free{1, 64, 256, 8, 1 << 20};
  const Destinations unlimited = balanced(free, 8);
  EXPECT_NEAR(unlimited.nodes, 8 * visit(256, 32, 8), 1e-3);  // 5.3 nodes
  EXPECT_NEAR(unlimited.gpus, 64 * visit(256, 4, 8), 1e-3);
  GatingShape grouped = free;
  grouped.expert_groups = 8;
  grouped.topk_groups = 4;
  const Destinations limited = balanced(grouped, 8);
  // A token's 4 groups are its 4 nodes, and a chosen group almost always receives one of its 8.
  EXPECT_LE(limited.nodes, 4.0);
  EXPECT_GT(limited.nodes, 3.8);
  EXPECT_LT(limited.gpus, unlimited.gpus);
}

// Two groups per node (EP32 on 4 nodes), against tokens routed one by one.
TEST(GroupLimitedRouting, BalancedMatchesTokensRoutedOneByOne) {
  const GatingShape grouped{1, 32, 256, 8, 1 << 20, 8, 4};
  const Destinations limited = balanced(grouped, 8);
  router::RouterProblem problem;
  problem.experts = 256;
  problem.expert_groups = 8;
  problem.topk_groups = 4;
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal;
  std::vector<float> logits(256);
  std::vector<uint8_t> allowed;
  double nodes = 0, gpus = 0;
  const int tokens = 20000;
  for (int t = 0; t < tokens; ++t) {
    for (float& x : logits) x = normal(rng);
    router::allowed_experts(problem, logits.data(), allowed);
    std::vector<std::pair<float, int>> ranked;
    for (int e = 0; e < 256; ++e)
      if (allowed[e]) ranked.emplace_back(-logits[e], e);
    std::sort(ranked.begin(), ranked.end());
    std::set<int> node_set, gpu_set;
    for (int q = 0; q < 8; ++q) {
      gpu_set.insert(ranked[q].second / 8);  // 8 experts per GPU
      node_set.insert(ranked[q].second / 64);
    }
    nodes += static_cast<double>(node_set.size()) / tokens;
    gpus += static_cast<double>(gpu_set.size()) / tokens;
  }
  EXPECT_NEAR(limited.nodes, nodes, 0.02);
  EXPECT_NEAR(limited.gpus, gpus, 0.03);
}

TEST(GroupLimitedRouting, LearnedTokensStayInTheirBestGroups) {
  LearnedSourceParams p;
  p.shape = GatingShape{2, 8, 16, 4, 4096};
  p.decay_steps = 50;
  p.probe_tokens = 1024;
  p.seed = 5;
  const RoutingView view = contiguous_view(p.shape, 4);
  auto gpus_per_token = [&](const LearnedSourceParams& params) {
    LearnedSource source(params, router::make_cpu_router());
    RoutingMatrix m(2, 8, 16);
    for (int s = 0; s < 3; ++s) source.route(s, view, m);
    return destinations(m, view, params.shape.tokens_per_rank).gpus;
  };
  const double unlimited = gpus_per_token(p);
  p.shape.expert_groups = 8;  // a group is one GPU's two experts
  p.shape.topk_groups = 2;
  const double limited = gpus_per_token(p);
  EXPECT_GT(unlimited, 2.5);
  EXPECT_LE(limited, 2.0 + 1e-9);
  EXPECT_GT(limited, 1.5);
}

}  // namespace
}  // namespace moesim::gating
