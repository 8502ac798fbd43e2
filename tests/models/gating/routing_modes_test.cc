// The routing modes of the learned gate, on a small cluster: 8 ranks on 2 nodes, one EP group,
// 16 experts placed contiguously (expert e on EP rank e / 2).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <utility>

#include "models/gating/learned_source.h"

namespace moesim::gating {
namespace {

// A routing mode from the registry at its defaults, with `settings` ({key, value}) over them.
std::shared_ptr<const RoutingConfig> mode(const std::string& name, const std::vector<params::KeyValue>& settings = {}) {
  auto config = find_routing(name)->defaults({});
  for (const auto& [key, value] : settings) EXPECT_TRUE(params::assign(*config, key, value)) << name << "." << key;
  return config;
}

LearnedSourceParams small(std::shared_ptr<const RoutingConfig> routing, int top_k) {
  LearnedSourceParams p;
  p.shape = GatingShape{2, 8, 16, top_k, 4096};
  p.decay_steps = 200;
  p.probe_tokens = 1024;
  p.seed = 11;
  p.routing = std::move(routing);
  p.capacity_factor = 1.25;
  return p;
}

RoutingView contiguous_view(const GatingShape& shape) {
  RoutingView v;
  v.ep = shape.ranks;
  for (int r = 0; r < shape.ranks; ++r) v.node_of_rank.push_back(r / 4);
  const int per_rank = shape.experts / shape.ranks;
  v.hosts.assign(shape.moe_layers, std::vector<std::vector<int>>(shape.experts));
  for (auto& layer : v.hosts)
    for (int e = 0; e < shape.experts; ++e) layer[e] = {e / per_rank};
  return v;
}

double max_over_mean(const RoutingMatrix& m, int layer) {
  const auto loads = m.expert_loads(layer);
  const double mean = static_cast<double>(std::accumulate(loads.begin(), loads.end(), int64_t{0})) / static_cast<double>(loads.size());
  return static_cast<double>(*std::max_element(loads.begin(), loads.end())) / mean;
}

// The share of token assignments that stay on the sender's node.
double local_fraction(const RoutingMatrix& m, const RoutingView& v) {
  double local = 0, all = 0;
  for (int l = 0; l < m.layers(); ++l)
    for (int r = 0; r < m.ranks(); ++r) {
      const auto row = m.row(l, r);
      for (int e = 0; e < m.experts(); ++e) {
        all += row[e];
        if (v.node_of_rank[v.host(l, e)] == v.node_of_rank[r]) local += row[e];
      }
    }
  return local / all;
}

// Destinations per token: how many EP ranks a token visits, on average.
double destinations_per_token(const RoutingMatrix& m, int64_t tokens_per_rank) {
  double sends = 0;
  for (int l = 0; l < m.layers(); ++l)
    for (int r = 0; r < m.ranks(); ++r)
      for (int32_t s : m.sends_row(l, r)) sends += s;
  return sends / (static_cast<double>(tokens_per_rank) * m.layers() * m.ranks());
}

RoutingMatrix run(LearnedSource& source, const RoutingView& view, int steps) {
  RoutingMatrix m(2, 8, 16);
  for (int s = 0; s < steps; ++s) source.route(s, view, m);
  return m;
}

TEST(HashRouting, IsBalancedWhateverTheGate) {
  LearnedSource hash(small(mode("hash"), 1), router::make_cpu_router());
  LearnedSource topk(small(mode("topk"), 1), router::make_cpu_router());
  const RoutingView view = contiguous_view(small(mode("hash"), 1).shape);
  const RoutingMatrix h = run(hash, view, 5), t = run(topk, view, 5);
  for (int l = 0; l < 2; ++l) {
    // Multinomial noise of 32,768 tokens only: each expert's load is 2,048 ± 43.8, so the
    // largest of 16 stays within five standard deviations.
    EXPECT_LT(max_over_mean(h, l), 1 + 5 * 43.8 / 2048);
    EXPECT_GT(max_over_mean(t, l), 1.3);  // the untrained gate is skewed
  }
}

// Two sources give the same rows, step after step.
void expect_same_rows(LearnedSource& a, LearnedSource& b, const RoutingView& view, int steps) {
  RoutingMatrix x(2, 8, 16), y(2, 8, 16);
  for (int s = 0; s < steps; ++s) {
    a.route(s, view, x);
    b.route(s, view, y);
    for (int l = 0; l < 2; ++l)
      for (int r = 0; r < 8; ++r) ASSERT_TRUE(std::ranges::equal(x.row(l, r), y.row(l, r))) << "step " << s;
  }
}

TEST(LocMoeRouting, WithoutLocalityIsTopK) {
  auto p = small(mode("locmoe", {{"locality", "0"}}), 1);
  LearnedSource loc(p, router::make_cpu_router());
  LearnedSource topk(small(mode("topk"), 1), router::make_cpu_router());
  expect_same_rows(loc, topk, contiguous_view(p.shape), 20);
}

TEST(LocMoeRouting, LocalityKeepsTokensOnTheirNode) {
  const RoutingView view = contiguous_view(small(mode("locmoe"), 1).shape);
  std::vector<double> local;
  for (double locality : {0.0, 0.5, 1.0}) {
    auto p = small(mode("locmoe", {{"locality", params::format_number(locality)}}), 1);
    p.capacity_factor = 100;  // no capacity limit on the shift
    LearnedSource source(p, router::make_cpu_router());
    local.push_back(local_fraction(run(source, view, 50), view));
  }
  EXPECT_NEAR(local[0], 0.5, 0.15);  // two nodes, no preference
  EXPECT_GT(local[1], local[0] + 0.15);
  EXPECT_GT(local[2], 0.99);  // every token has a local expert among its 16 candidates
}

TEST(LocMoeRouting, CapacityBoundsTheShift) {
  const RoutingView view = contiguous_view(small(mode("locmoe"), 1).shape);
  std::vector<double> local;
  for (double capacity_factor : {100.0, 1.0}) {
    auto p = small(mode("locmoe", {{"locality", "1"}}), 1);
    p.capacity_factor = capacity_factor;
    LearnedSource source(p, router::make_cpu_router());
    const RoutingMatrix m = run(source, view, 50);
    local.push_back(local_fraction(m, view));
    if (capacity_factor == 1.0) {
      // Moved tokens fill a local expert up to its capacity (2,048 per rank here) and no further;
      // sampling noise aside, no local expert ends far above it.
      for (int l = 0; l < 2; ++l)
        for (int r = 0; r < 8; ++r)
          for (int e = 0; e < 16; ++e)
            if (view.node_of_rank[view.host(l, e)] == view.node_of_rank[r]) {
              EXPECT_LT(m.row(l, r)[e], 2048 * 1.1);
            }
    }
  }
  EXPECT_LT(local[1], local[0] - 0.05);
}

TEST(LocMoeRouting, NeedsThePlacement) {
  LearnedSource source(small(mode("locmoe"), 1), router::make_cpu_router());
  EXPECT_TRUE(source.placement_aware());
  RoutingMatrix m(2, 8, 16);
  EXPECT_THROW(source.next(0, m), std::invalid_argument);
}

TEST(LocMoeRouting, EveryPlacementOfAStepSeesTheSameTokens) {
  // Routed twice under one placement within a step: the same counts.
  LearnedSource source(small(mode("locmoe"), 1), router::make_cpu_router());
  const RoutingView view = contiguous_view(small(mode("locmoe"), 1).shape);
  RoutingMatrix a(2, 8, 16), b(2, 8, 16);
  source.route(0, view, a);
  source.route(0, view, b);
  for (int r = 0; r < 8; ++r) EXPECT_TRUE(std::ranges::equal(a.row(1, r), b.row(1, r)));
}

// LocMoE's own gate, GrAP: fixed and orthogonal, every expert a token's best equally often. Without
// locality it routes as hash does, draw for draw.
TEST(LocMoeRouting, TheGrapGateWithoutLocalityIsHash) {
  auto p = small(mode("locmoe", {{"locality", "0"}, {"gate", "grap"}}), 1);
  LearnedSource loc(p, router::make_cpu_router()), hash(small(mode("hash"), 1), router::make_cpu_router());
  EXPECT_FALSE(loc.describe().find("GrAP gate") == std::string::npos) << loc.describe();
  expect_same_rows(loc, hash, contiguous_view(p.shape), 5);
}

// Each node holds 8 of the 16 experts. A token's best expert is remote for half of them; locality
// 0.5 moves half of those (a quarter of the tokens) to the node's 8 experts, 1/32 of the tokens each,
// but capacity (factor 1.25: 320 of a rank's 4,096 tokens, 64 above the even 256) lets each take only
// half of that. Each local expert then gets 5/64 of a sender's tokens, each remote one 3/64: 5/8 of
// the tokens stay on their node, and every expert's load is still even.
TEST(LocMoeRouting, TheGrapGateMovesTokensToLocalExpertsUpToCapacity) {
  auto p = small(mode("locmoe", {{"gate", "grap"}}), 1);
  LearnedSource source(p, router::make_cpu_router());
  const RoutingView view = contiguous_view(p.shape);
  RoutingMatrix m(2, 8, 16);
  double local = 0, all = 0;
  for (int s = 0; s < 5; ++s) {
    source.route(s, view, m);
    for (int l = 0; l < 2; ++l) {
      for (int r = 0; r < 8; ++r)
        for (int e = 0; e < 16; ++e) {
          all += m.row(l, r)[e];
          if (view.node_of_rank[view.host(l, e)] == view.node_of_rank[r]) local += m.row(l, r)[e];
        }
      EXPECT_LT(max_over_mean(m, l), 1 + 5 * 43.8 / 2048);  // as hash: multinomial noise only
    }
  }
  // 327,680 assignments: the share's standard deviation is 0.0008.
  EXPECT_NEAR(local / all, 5.0 / 8, 0.004);
}

TEST(C2RRouting, GroupsPlacedTogetherCutDestinationsPerToken) {
  // Fixed groups of two consecutive experts: exactly the pairs that share a GPU here.
  auto p = small(mode("c2r", {{"groups", "fixed"}, {"group_size", "2"}}), 2);
  LearnedSource c2r(p, router::make_cpu_router());
  LearnedSource topk(small(mode("topk"), 2), router::make_cpu_router());
  const RoutingView view = contiguous_view(p.shape);
  const double constrained = destinations_per_token(run(c2r, view, 30), 4096);
  const double free = destinations_per_token(run(topk, view, 30), 4096);
  EXPECT_NEAR(constrained, 1.0, 1e-3);
  EXPECT_GT(free, 1.5);
}

TEST(C2RRouting, MeasuredGroupsApplyAfterTheWarmUp) {
  auto p = small(mode("c2r", {{"group_size", "3"}, {"warmup_steps", "10"}}), 2);
  LearnedSource c2r(p, router::make_cpu_router());
  LearnedSource topk(small(mode("topk"), 2), router::make_cpu_router());
  const RoutingView view = contiguous_view(p.shape);
  RoutingMatrix a(2, 8, 16), b(2, 8, 16);
  bool differs_after = false;
  for (int s = 0; s < 20; ++s) {
    c2r.route(s, view, a);
    topk.route(s, view, b);
    bool same = true;
    for (int l = 0; l < 2; ++l)
      for (int r = 0; r < 8; ++r) {
        same = same && std::ranges::equal(a.row(l, r), b.row(l, r));
        EXPECT_EQ(std::accumulate(a.row(l, r).begin(), a.row(l, r).end(), int64_t{0}), 2 * 4096);
      }
    if (s < 10)
      EXPECT_TRUE(same) << "step " << s << ": the warm-up routes freely";
    else
      differs_after = differs_after || !same;
  }
  EXPECT_TRUE(differs_after);
}

TEST(Sends, TopOneSendsAreTheCountsPerHost) {
  LearnedSource source(small(mode("topk"), 1), router::make_cpu_router());
  const RoutingView view = contiguous_view(small(mode("topk"), 1).shape);
  const RoutingMatrix m = run(source, view, 1);
  ASSERT_TRUE(m.has_sends());
  for (int r = 0; r < 8; ++r) {
    const auto row = m.row(0, r);
    EXPECT_EQ(m.sends_row(0, r)[3], row[6] + row[7]);
  }
  EXPECT_DOUBLE_EQ(destinations_per_token(m, 4096), 1.0);
}

TEST(Sends, HashVisitsFollowTheHypergeometricOdds) {
  // Two distinct experts of 16, two per EP rank: P(a rank is visited) = 1 - C(14, 2) / C(16, 2).
  LearnedSource source(small(mode("hash"), 2), router::make_cpu_router());
  const RoutingMatrix m = run(source, contiguous_view(small(mode("hash"), 2).shape), 1);
  EXPECT_NEAR(destinations_per_token(m, 4096), 8 * (1 - 91.0 / 120.0), 1e-3);
}

// The share of a layer's tokens whose expert pair shares an EP rank, from the co-activation.
double kept_on_one_rank(const RoutingMatrix& m, const RoutingView& v, int layer) {
  const int experts = m.experts();
  const auto pairs = m.coactivation().subspan(static_cast<size_t>(layer) * experts * experts, static_cast<size_t>(experts) * experts);
  double kept = 0;
  for (int e = 0; e < experts; ++e) {
    for (int f = e + 1; f < experts; ++f) {
      if (v.host(layer, e) == v.host(layer, f)) kept += pairs[static_cast<size_t>(e) * experts + f];
    }
  }
  return kept;
}

TEST(Coactivation, IsSymmetricAndEveryTokenHasOnePair) {
  LearnedSource source(small(mode("topk"), 2), router::make_cpu_router());
  RoutingMatrix m(2, 8, 16);
  m.enable_coactivation();
  for (int s = 0; s < 3; ++s) source.route(s, contiguous_view(small(mode("topk"), 2).shape), m);
  for (int l = 0; l < 2; ++l) {
    double sum = 0;
    for (int e = 0; e < 16; ++e) {
      for (int f = 0; f < 16; ++f) {
        const double share = m.coactivation()[(static_cast<size_t>(l) * 16 + e) * 16 + f];
        EXPECT_EQ(share, m.coactivation()[(static_cast<size_t>(l) * 16 + f) * 16 + e]);
        if (e == f) {
          EXPECT_EQ(share, 0.0);
        }
        sum += share;
      }
    }
    EXPECT_NEAR(sum, 2.0, 1e-9);  // top-2: one pair per token, counted both ways
  }
}

TEST(Coactivation, AccountsForTheSendsThatDeduplicationSaves) {
  // Under top-2, a token visits two EP ranks unless its pair shares one: the destinations per
  // token are 2 minus the co-activation kept on one rank, for any placement.
  LearnedSource source(small(mode("topk"), 2), router::make_cpu_router());
  RoutingView view = contiguous_view(small(mode("topk"), 2).shape);
  for (auto& layer : view.hosts) {
    for (int e = 0; e < 16; ++e) layer[e] = {(e * 5) % 8};  // another placement, two experts per rank
  }
  RoutingMatrix m(2, 8, 16);
  m.enable_coactivation();
  for (int s = 0; s < 4; ++s) {
    source.route(s, view, m);
    double kept = 0;
    for (int l = 0; l < 2; ++l) kept += kept_on_one_rank(m, view, l) / 2;
    EXPECT_GT(kept, 0.0);
    EXPECT_NEAR(destinations_per_token(m, 4096), 2 - kept, 8.0 / 4096);  // sends are rounded per rank
  }
}

TEST(Coactivation, HashPairsAreUniform) {
  LearnedSource source(small(mode("hash"), 2), router::make_cpu_router());
  RoutingMatrix m(2, 8, 16);
  m.enable_coactivation();
  source.route(0, contiguous_view(small(mode("hash"), 2).shape), m);
  EXPECT_DOUBLE_EQ(m.coactivation()[1], 2.0 / (16 * 15));
  EXPECT_EQ(m.coactivation()[0], 0.0);
}

// The loads the source hands over with its rows are the rows' sums, where it also fills each row's
// sends (top-1 reads the rows for them), top-1 and top-2.
TEST(LearnedSource, SetsTheLoadsOfTheRowsItSampled) {
  for (const int top_k : {1, 2}) {
    const auto p = small(mode("topk"), top_k);
    LearnedSource source(p, router::make_cpu_router());
    RoutingMatrix m(p.shape.moe_layers, p.shape.ranks, p.shape.experts);
    source.route(0, contiguous_view(p.shape), m);
    for (int l = 0; l < m.layers(); ++l) {
      std::vector<int64_t> summed(m.experts(), 0);
      for (int r = 0; r < m.ranks(); ++r)
        for (int e = 0; e < m.experts(); ++e) summed[e] += std::as_const(m).row(l, r)[e];
      EXPECT_EQ(m.expert_loads(l), summed) << "top-" << top_k << ", layer " << l;
    }
  }
}

}  // namespace
}  // namespace moesim::gating
