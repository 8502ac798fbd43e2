#include "models/gating/routing_matrix.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "models/gating/skewed_source.h"

namespace moesim::gating {
namespace {

// Loads summed from the rows, whatever the matrix was told.
std::vector<int64_t> summed(const RoutingMatrix& m, int layer) {
  std::vector<int64_t> loads(m.experts(), 0);
  for (int r = 0; r < m.ranks(); ++r)
    for (int e = 0; e < m.experts(); ++e) loads[e] += m.row(layer, r)[e];
  return loads;
}

TEST(RoutingMatrix, SumsTheRowsIntoLoads) {
  RoutingMatrix m(2, 3, 4);
  for (int r = 0; r < 3; ++r)
    for (int e = 0; e < 4; ++e) m.row(1, r)[e] = 10 * r + e;
  EXPECT_EQ(m.expert_loads(1), (std::vector<int64_t>{30, 33, 36, 39}));
  EXPECT_EQ(m.expert_loads(0), (std::vector<int64_t>(4, 0)));
}

TEST(RoutingMatrix, GivesTheLoadsAWriterSetUntilARowIsWrittenAgain) {
  RoutingMatrix m(2, 3, 4);
  m.row(0, 0)[2] = 5;
  const std::vector<int64_t> told{1, 2, 3, 4, 5, 6, 7, 8};
  m.set_expert_loads(told);
  EXPECT_EQ(m.expert_loads(1), (std::vector<int64_t>{5, 6, 7, 8}));
  const RoutingMatrix copy = m;
  EXPECT_EQ(copy.expert_loads(0), (std::vector<int64_t>{1, 2, 3, 4}));
  m.row(0, 1)[0] = 7;  // a write forgets them
  EXPECT_EQ(m.expert_loads(0), (std::vector<int64_t>{7, 0, 5, 0}));
  m.set_expert_loads(told);
  m.dropped_row(1, 0)[3] = 2;  // so does writing drops (capacity rewrites the rows with them)
  EXPECT_EQ(m.expert_loads(1), (std::vector<int64_t>(4, 0)));
  m.set_expert_loads(told);
  m.resize(2, 3, 4);
  EXPECT_EQ(m.expert_loads(0), (std::vector<int64_t>(4, 0)));
  EXPECT_THROW(m.set_expert_loads(std::vector<int64_t>(7, 0)), std::logic_error);
}

TEST(SkewedSource, SetsTheLoadsOfTheRowsItSampled) {
  SkewedSourceParams p;
  p.shape = {.moe_layers = 3, .ranks = 5, .experts = 24, .top_k = 2, .tokens_per_rank = 300};
  p.seed = 4;
  SkewedSource src(p);
  RoutingMatrix m(3, 5, 24);
  for (int step = 0; step < 2; ++step) {
    src.next(step, m);
    for (int l = 0; l < 3; ++l) EXPECT_EQ(m.expert_loads(l), summed(m, l)) << "step " << step << " layer " << l;
  }
}

// Threads sample whole layers, each from its own place in the stream: the routing, its loads and
// the next step's are the same however many threads there are (at 3.7 M counts a step, up to three
// parts, of uneven numbers of layers).
TEST(SkewedSource, SamplesTheSameRowsOnAnyNumberOfThreads) {
  SkewedSourceParams p;
  p.shape = {.moe_layers = 7, .ranks = 2048, .experts = 256, .top_k = 4, .tokens_per_rank = 512};
  p.seed = 12;
  std::vector<RoutingMatrix> steps;
  for (const int threads : {1, 2, 3, 8}) {
    p.threads = threads;
    SkewedSource src(p);
    for (int step = 0; step < 2; ++step) {
      RoutingMatrix m(7, 2048, 256);
      src.next(step, m);
      if (threads == 1) {
        steps.push_back(m);
        continue;
      }
      for (int l = 0; l < 7; ++l) {
        EXPECT_EQ(m.expert_loads(l), steps[step].expert_loads(l)) << threads << " threads, step " << step << ", layer " << l;
        for (int r = 0; r < 2048; ++r)
          ASSERT_TRUE(std::ranges::equal(std::as_const(m).row(l, r), std::as_const(steps[step]).row(l, r)))
              << threads << " threads, step " << step << ", layer " << l << ", rank " << r;
      }
    }
  }
}

}  // namespace
}  // namespace moesim::gating
