#include "models/gating/learned_source.h"
#include "models/gating/load_statistics.h"

#include <gtest/gtest.h>

#include <numeric>

namespace moesim::gating {
namespace {

// GPT-3 125M-like: 6 MoE layers of 16 experts, top-1 (the expert-load prediction paper's setup).
LearnedSourceParams gpt3_125m_like() {
  LearnedSourceParams p;
  p.shape.moe_layers = 6;
  p.shape.ranks = 4;
  p.shape.experts = 16;
  p.shape.top_k = 1;
  p.shape.tokens_per_rank = 16384;
  p.decay_steps = 3000;
  p.probe_tokens = 1024;
  p.seed = 3;
  return p;
}

// Load proportion of every expert of every layer at every step: [layer][step][expert].
std::vector<std::vector<std::vector<double>>> proportions(LearnedSource& source, const LearnedSourceParams& p, int steps) {
  RoutingMatrix m(p.shape.moe_layers, p.shape.ranks, p.shape.experts);
  std::vector<std::vector<std::vector<double>>> out(p.shape.moe_layers);
  for (int s = 0; s < steps; ++s) {
    source.next(s, m);
    for (int layer = 0; layer < p.shape.moe_layers; ++layer) {
      const auto loads = m.expert_loads(layer);
      const double total = static_cast<double>(std::accumulate(loads.begin(), loads.end(), int64_t{0}));
      std::vector<double> row;
      for (int64_t v : loads) row.push_back(static_cast<double>(v) / total);
      out[layer].push_back(row);
    }
  }
  return out;
}

TEST(LearnedSource, RowsSumToTokensTimesTopK) {
  auto p = gpt3_125m_like();
  p.shape.top_k = 2;
  LearnedSource source(p, router::make_cpu_router());
  RoutingMatrix m(p.shape.moe_layers, p.shape.ranks, p.shape.experts);
  source.next(0, m);
  for (int l = 0; l < p.shape.moe_layers; ++l)
    for (int r = 0; r < p.shape.ranks; ++r) {
      const auto row = m.row(l, r);
      EXPECT_EQ(std::accumulate(row.begin(), row.end(), int64_t{0}), 2 * 16384);
    }
}

TEST(LearnedSource, LoadsGoFromFluctuatingToStableShallowLayersMost) {
  // The paper's statistic (window 100) falls by over an order of magnitude from the first to the
  // last tenth of the run, in every layer; and over the first third of the run the shallow half of
  // the MoE layers fluctuates clearly more than the deep half (a single layer against another is
  // at the mercy of one trajectory).
  const auto p = gpt3_125m_like();
  LearnedSource source(p, router::make_cpu_router());
  const int steps = 3000, layers = p.shape.moe_layers;
  const auto prop = proportions(source, p, steps);
  double shallow = 0, deep = 0;
  for (int layer = 0; layer < layers; ++layer) {
    const double first_tenth = windowed_variance(prop[layer], 0, steps / 10, 100);
    const double last_tenth = windowed_variance(prop[layer], steps - steps / 10, steps, 100);
    const double first_third = windowed_variance(prop[layer], 0, steps / 3, 100);
    std::printf(
        "[ info ] MoE layer %d: sliding-window variance of load proportion, first tenth %.3g, last tenth %.3g (%.0fx); "
        "first third %.3g\n",
        layer, first_tenth, last_tenth, first_tenth / last_tenth, first_third);
    EXPECT_GT(first_tenth, 10 * last_tenth) << "layer " << layer;
    (layer < layers / 2 ? shallow : deep) += first_third / (layers / 2);
  }
  EXPECT_GT(shallow, 1.3 * deep);
}

TEST(LearnedSource, SameSeedSameLoads) {
  const auto p = gpt3_125m_like();
  LearnedSource a(p, router::make_cpu_router()), b(p, router::make_cpu_router());
  RoutingMatrix x(p.shape.moe_layers, p.shape.ranks, p.shape.experts), y(p.shape.moe_layers, p.shape.ranks, p.shape.experts);
  for (int s = 0; s < 20; ++s) {
    a.next(s, x);
    b.next(s, y);
  }
  for (int l = 0; l < p.shape.moe_layers; ++l)
    for (int r = 0; r < p.shape.ranks; ++r)
      for (int e = 0; e < p.shape.experts; ++e) EXPECT_EQ(x.row(l, r)[e], y.row(l, r)[e]);
}

}  // namespace
}  // namespace moesim::gating
