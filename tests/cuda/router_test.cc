#include "cuda/router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "sim/base/random.h"

namespace moesim::router {

// Test names and ctest's listing show the kernel by name (gtest finds this by argument lookup).
void PrintTo(CudaKernel kernel, std::ostream* os) { *os << (kernel == CudaKernel::wgmma ? "wgmma" : "mma_sync"); }

namespace {

// A routing problem with random gate weights and topic centers.
struct Fixture {
  std::vector<float> gate, centers, cdf;
  RouterProblem p;
  Fixture(int tokens, int ranks, int d, int experts, int top_k, int topics, float noise, uint64_t seed, float center_scale = 1.0f) {
    Rng rng(seed, "router-test");
    gate.resize(static_cast<size_t>(experts) * d);
    centers.resize(static_cast<size_t>(topics) * d);
    for (auto& w : gate) w = static_cast<float>(rng.normal() / std::sqrt(d));
    for (auto& c : centers) c = static_cast<float>(rng.normal() * center_scale);
    cdf.resize(topics);
    for (int t = 0; t < topics; ++t) cdf[t] = static_cast<float>(t + 1) / static_cast<float>(topics);
    p = RouterProblem{tokens, ranks, d, experts, top_k, topics, gate.data(), centers.data(), cdf.data(), noise, 0, TokenKey{seed, 3, 1}};
  }
};

// Straightforward reimplementation: logits in double from the embedding x = center + noise * u
// and the BF16 gate, each dimension's noise looked up on its own, full sort.
std::vector<std::pair<std::vector<int>, double>> naive(const RouterProblem& p) {
  std::vector<std::pair<std::vector<int>, double>> out;  // (top-k, smallest gap at the k boundary or inside)
  for (int t = 0; t < p.tokens; ++t) {
    const int topic = token_topic(p.key, static_cast<uint32_t>(t), p.topic_cdf, p.topics);
    std::vector<double> x(p.d_model);
    for (int j = 0; j < p.d_model; ++j) {
      const NoiseSource n = noise_source(j);
      const double u = noise_variate(token_draw(p.key, static_cast<uint32_t>(t), n.block).v[n.word], n.shift);
      x[j] = p.centers[static_cast<size_t>(topic) * p.d_model + j] + static_cast<double>(p.noise) * u;
    }
    std::vector<double> logit(p.experts, 0);
    for (int e = 0; e < p.experts; ++e)
      for (int j = 0; j < p.d_model; ++j) logit[e] += x[j] * from_bf16_bits(to_bf16_bits(p.gate[static_cast<size_t>(e) * p.d_model + j]));
    std::vector<int> order(p.experts);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logit[a] > logit[b]; });
    double gap = 1e300;
    for (int q = 0; q < p.top_k && q + 1 < p.experts; ++q) gap = std::min(gap, logit[order[q]] - logit[order[q + 1]]);
    out.emplace_back(std::vector<int>(order.begin(), order.begin() + p.top_k), gap);
  }
  return out;
}

TEST(TokenEmbedding, Bf16RoundsToNearestEven) {
  EXPECT_EQ(to_bf16_bits(1.0f), 0x3F80);
  EXPECT_EQ(to_bf16_bits(1.00390625f), 0x3F80);  // halfway, even stays
  EXPECT_EQ(to_bf16_bits(1.01171875f), 0x3F82);  // halfway, odd rounds up
  EXPECT_EQ(from_bf16_bits(0xC040), -3.0f);
}

TEST(TokenEmbedding, NoiseIsSevenBitsCenteredAndExactInBf16) {
  EXPECT_EQ(noise_variate(0u, 0), -127.0f / 128.0f);
  EXPECT_EQ(noise_variate(0x7Fu, 0), 127.0f / 128.0f);
  EXPECT_EQ(noise_variate(0xFFFFFF80u, 0), -127.0f / 128.0f);  // only the 7-bit field counts
  EXPECT_EQ(noise_variate(0x3Fu << 16, 16), -1.0f / 128.0f);
  EXPECT_EQ(noise_variate(0x40u << 24, 24), 1.0f / 128.0f);
  for (uint32_t k = 0; k < 128; ++k) {
    const float u = noise_variate(k, 0);
    EXPECT_EQ(from_bf16_bits(to_bf16_bits(u)), u) << k;  // the tensor cores see it exactly
  }
}

// The layout the kernel relies on: dimension 64c + 16q + 8h + 2s + o reads bits [8h + 16o, +7)
// of word q of block 4c + s, and every field of a chunk's 4 blocks feeds one dimension.
TEST(TokenEmbedding, NoiseFieldsFollowTheTensorCoreOperandLayout) {
  EXPECT_EQ(noise_source(0).block, 0u);
  EXPECT_EQ(noise_source(1).shift, 16);
  EXPECT_EQ(noise_source(2).block, 1u);
  EXPECT_EQ(noise_source(8).shift, 8);
  EXPECT_EQ(noise_source(9).shift, 24);
  EXPECT_EQ(noise_source(16).word, 1);
  EXPECT_EQ(noise_source(64).block, 4u);
  EXPECT_EQ(noise_source(64 + 16 * 3 + 8 + 2 * 3 + 1).block, 7u);
  std::vector<int> uses(2 * 16 * 4, 0);  // [block][word][field] over two chunks
  for (int j = 0; j < 128; ++j) {
    const NoiseSource n = noise_source(j);
    ++uses[(n.block * 4 + n.word) * 4 + n.shift / 8];
  }
  EXPECT_EQ(std::count(uses.begin(), uses.end(), 1), 128);
}

TEST(TokenEmbedding, TokenNoiseIsUniformWithMeanZeroAndVarianceAThird) {
  const TokenKey key{5, 2, 1};
  const int d = 100;  // not a multiple of the chunk: the tail is drawn too
  std::vector<float> u(d);
  double sum = 0, squares = 0;
  for (uint32_t t = 0; t < 2000; ++t) {
    token_noise(key, t, d, u.data());
    for (int j = 0; j < d; ++j) {
      const NoiseSource n = noise_source(j);
      ASSERT_EQ(u[j], noise_variate(token_draw(key, t, n.block).v[n.word], n.shift));
      sum += u[j];
      squares += u[j] * u[j];
    }
  }
  EXPECT_NEAR(sum / (2000.0 * d), 0.0, 0.005);
  EXPECT_NEAR(squares / (2000.0 * d), 5461.0 / 16384.0, 0.005);  // E[(2k - 127)^2] / 128^2
}

TEST(TokenEmbedding, TopicsFollowTheMixtureWeights) {
  const std::vector<float> cdf{0.1f, 0.4f, 1.0f};
  int hits[3] = {0, 0, 0};
  const TokenKey key{9, 0, 0};
  for (uint32_t t = 0; t < 60000; ++t) ++hits[token_topic(key, t, cdf.data(), 3)];
  EXPECT_NEAR(hits[0] / 60000.0, 0.1, 0.01);
  EXPECT_NEAR(hits[1] / 60000.0, 0.3, 0.01);
  EXPECT_NEAR(hits[2] / 60000.0, 0.6, 0.01);
}

TEST(CpuRouter, MatchesANaiveImplementation) {
  Fixture f(2000, 4, 48, 12, 3, 5, 0.5f, 11);
  RouterResult r;
  make_cpu_router()->route(f.p, r, true);
  const auto expected = naive(f.p);
  int compared = 0;
  std::vector<int32_t> counts(4 * 12, 0);
  for (int t = 0; t < f.p.tokens; ++t) {
    for (int q = 0; q < 3; ++q) ++counts[(t / 500) * 12 + r.assignments[t * 3 + q]];
    if (expected[t].second < 1e-4) continue;  // a float-vs-double near-tie: either order is right
    ++compared;
    for (int q = 0; q < 3; ++q) EXPECT_EQ(r.assignments[t * 3 + q], expected[t].first[q]) << "token " << t;
  }
  EXPECT_GT(compared, 1900);
  EXPECT_EQ(r.counts, counts);
  EXPECT_EQ(std::accumulate(r.counts.begin(), r.counts.end(), 0), 2000 * 3);
}

// A caller that already drew its tokens' noise and topics (the learned gate's probes and batches)
// hands them over; the router reads them, and routes as it does when it draws them itself.
TEST(CpuRouter, ReadsTheCallersNoiseAndTopics) {
  Fixture f(600, 3, 64, 16, 2, 8, 0.5f, 5, 3.0f);
  RouterResult drawn, given, other;
  make_cpu_router()->route(f.p, drawn, true);
  std::vector<float> noise(static_cast<size_t>(f.p.tokens) * f.p.d_model);
  std::vector<int> topics(f.p.tokens);
  for (int t = 0; t < f.p.tokens; ++t) {
    token_noise(f.p.key, static_cast<uint32_t>(t), f.p.d_model, noise.data() + static_cast<size_t>(t) * f.p.d_model);
    topics[t] = token_topic(f.p.key, static_cast<uint32_t>(t), f.p.topic_cdf, f.p.topics);
  }
  f.p.token_noise = noise.data();
  f.p.token_topics = topics.data();
  make_cpu_router()->route(f.p, given, true);
  EXPECT_EQ(given.assignments, drawn.assignments);
  EXPECT_EQ(given.counts, drawn.counts);
  for (int& topic : topics) topic = (topic + 1) % f.p.topics;  // read, not drawn again
  make_cpu_router()->route(f.p, other, true);
  EXPECT_NE(other.assignments, drawn.assignments);
}

// A gate version lets the router keep the centers' logits between calls; a new version (the
// gate learned) derives them again: every call routes as a fresh router would.
TEST(CpuRouter, KeepsWhatItDerivedFromAGateOnlyForItsVersion) {
  Fixture f(256, 2, 64, 16, 2, 8, 0.5f, 11);
  auto kept = make_cpu_router();
  const auto route = [](Router& router, const RouterProblem& p) {
    RouterResult out;
    router.route(p, out, true);
    return out.assignments;
  };
  f.p.gate_version = 1;
  const auto first = route(*kept, f.p);
  EXPECT_EQ(route(*kept, f.p), first);
  for (size_t i = 0; i < f.gate.size(); i += 3) f.gate[i] = -f.gate[i];
  f.p.gate_version = 2;
  const auto learned = route(*kept, f.p);
  EXPECT_NE(learned, first);
  EXPECT_EQ(learned, route(*make_cpu_router(), f.p));
}

TEST(CpuRouter, TiesGoToTheLowerExpertIndex) {
  Fixture f(300, 1, 16, 6, 2, 2, 0.3f, 5);
  for (int j = 0; j < 16; ++j) f.gate[5 * 16 + j] = f.gate[2 * 16 + j];  // experts 2 and 5 identical
  RouterResult r;
  make_cpu_router()->route(f.p, r, true);
  for (int t = 0; t < 300; ++t) {
    const int a = r.assignments[t * 2], b = r.assignments[t * 2 + 1];
    EXPECT_FALSE(a == 5 && b != 2) << "expert 5 chosen before its twin 2 at token " << t;
    if (a == 2) {
      EXPECT_EQ(b, 5);
    }
  }
}

// Top-1 scans its logits in eight lanes (with a tail when the experts are not a multiple of eight)
// and must still pick the first of the largest: the naive order where logits differ, and among
// twins in different lanes (4, 13, 22, 36) and the same lane (4, 12) the lowest index.
TEST(CpuRouter, TopOnePicksTheFirstOfTheLargest) {
  for (int experts : {16, 37}) {
    Fixture f(1500, 3, 32, experts, 1, 4, 0.5f, 17);
    RouterResult r;
    make_cpu_router()->route(f.p, r, true);
    const auto expected = naive(f.p);
    for (int t = 0; t < f.p.tokens; ++t) {
      if (expected[t].second < 1e-4) continue;  // a float-vs-double near-tie
      EXPECT_EQ(r.assignments[t], expected[t].first[0]) << experts << " experts, token " << t;
    }
    std::vector<int> twins = experts == 37 ? std::vector<int>{13, 22, 36} : std::vector<int>{12, 13};
    for (int twin : twins) std::copy_n(f.gate.begin() + 4 * 32, 32, f.gate.begin() + twin * 32);
    make_cpu_router()->route(f.p, r, true);
    int fours = 0;
    for (int t = 0; t < f.p.tokens; ++t) {
      for (int twin : twins) EXPECT_NE(r.assignments[t], twin) << experts << " experts, token " << t;
      fours += r.assignments[t] == 4;
    }
    EXPECT_GT(fours, 0);
  }
}

TEST(CpuRouter, CapacityDropsTheExcessPerRankAndExpert) {
  Fixture f(1024, 2, 32, 4, 1, 3, 0.5f, 21);
  RouterResult unlimited, clipped;
  make_cpu_router()->route(f.p, unlimited, false);
  f.p.capacity = 100;
  make_cpu_router()->route(f.p, clipped, false);
  for (size_t i = 0; i < unlimited.counts.size(); ++i) {
    EXPECT_EQ(clipped.counts[i], std::min(unlimited.counts[i], 100));
    EXPECT_EQ(clipped.counts[i] + clipped.dropped[i], unlimited.counts[i]);
  }
}

TEST(CpuRouter, SameKeySameTokensOtherStepOtherTokens) {
  Fixture f(512, 1, 32, 8, 2, 4, 1.0f, 3);
  RouterResult a, b, c;
  auto router = make_cpu_router();
  router->route(f.p, a, true);
  router->route(f.p, b, true);
  f.p.key.step += 1;
  router->route(f.p, c, true);
  EXPECT_EQ(a.assignments, b.assignments);
  EXPECT_NE(a.assignments, c.assignments);
}

TEST(CpuRouter, RejectsInconsistentProblems) {
  Fixture f(100, 3, 8, 4, 2, 1, 0.1f, 1);  // 100 tokens do not split over 3 ranks
  RouterResult r;
  EXPECT_THROW(make_cpu_router()->route(f.p, r, false), std::invalid_argument);
}

// One dimension, no noise, one topic at 1: every token's logits are the gate's values.
TEST(CpuRouter, GroupLimitedRoutingKeepsTheBestGroupsBySumOfTwoAffinities) {
  std::vector<float> gate = {5, -5, 4, 3.875f, 1, 1, 0, 0}, center = {1}, cdf = {1};
  RouterProblem p{4, 1, 1, 8, 3, 1, gate.data(), center.data(), cdf.data(), 0, 0, TokenKey{1, 0, 0}};
  RouterResult r;
  make_cpu_router()->route(p, r, true);
  EXPECT_EQ(std::vector<int32_t>(r.assignments.begin(), r.assignments.begin() + 3), (std::vector<int32_t>{0, 2, 3}));
  // Groups of two: {0, 1} scores σ(5) + σ(-5) = 1.0, below {2, 3} (1.96) and {4, 5} (1.46).
  p.expert_groups = 4;
  p.topk_groups = 2;
  make_cpu_router()->route(p, r, true);
  EXPECT_EQ(std::vector<int32_t>(r.assignments.begin(), r.assignments.begin() + 3), (std::vector<int32_t>{2, 3, 4}));
  // Groups of one score their single affinity: the plain top-k again.
  p.expert_groups = 8;
  p.topk_groups = 3;
  make_cpu_router()->route(p, r, true);
  EXPECT_EQ(std::vector<int32_t>(r.assignments.begin(), r.assignments.begin() + 3), (std::vector<int32_t>{0, 2, 3}));
  p.topk_groups = 2;  // two groups cannot hold three experts
  EXPECT_THROW(make_cpu_router()->route(p, r, false), std::invalid_argument);
}

TEST(CpuRouter, GroupLimitedTokensUseAtMostTopkGroupsAndTheirBestExperts) {
  Fixture f(1000, 2, 32, 64, 8, 6, 0.8f, 17);
  f.p.expert_groups = 8;
  f.p.topk_groups = 3;
  RouterResult r;
  make_cpu_router()->route(f.p, r, true);
  f.p.top_k = 64;  // the naive full ranking of every expert
  const auto ranking = naive(f.p);
  int spread = 0, compared = 0;
  for (int t = 0; t < f.p.tokens; ++t) {
    std::vector<int> groups;
    for (int q = 0; q < 8; ++q) groups.push_back(r.assignments[t * 8 + q] / 8);
    std::sort(groups.begin(), groups.end());
    const auto used = std::unique(groups.begin(), groups.end()) - groups.begin();
    EXPECT_LE(used, 3) << "token " << t;
    spread += used == 3;
    // The chosen experts are the best of their groups, in order (near-ties aside).
    if (ranking[t].second < 1e-5) continue;
    ++compared;
    std::vector<int> expected;
    for (int e : ranking[t].first)
      if (std::binary_search(groups.begin(), groups.begin() + used, e / 8) && expected.size() < 8) expected.push_back(e);
    for (int q = 0; q < 8; ++q) EXPECT_EQ(r.assignments[t * 8 + q], expected[q]) << "token " << t;
  }
  EXPECT_GT(spread, 500);  // most tokens use all three groups: the limit binds
  EXPECT_GT(compared, 300);
}

// Each CUDA kernel against the CPU reference, where this GPU can run it.
class GpuRouter : public ::testing::TestWithParam<CudaKernel> {
 protected:
  void SetUp() override {
    gpu_ = make_cuda_router(GetParam());
    if (!gpu_) {
      if (GetParam() == CudaKernel::wgmma)
        GTEST_SKIP() << "no Hopper (compute capability 9.0) GPU here: the wgmma kernel's agreement with the CPU is not checked";
      GTEST_SKIP() << "no CUDA GPU here (or built without CUDA): CPU/GPU agreement not checked";
    }
  }
  std::unique_ptr<Router> gpu_;
};

TEST_P(GpuRouter, IdenticalCountsOnWellSeparatedLogits) {
  // Topic centers far apart relative to the noise: every token's ranking is clear. 8 experts,
  // and 100 (padded to 128: the wgmma kernel's shape).
  for (int experts : {8, 100}) {
    Fixture f(1 << 16, 8, 256, experts, 2, 8, 0.05f, 2, 4.0f);
    RouterResult cpu, gpu;
    make_cpu_router()->route(f.p, cpu, false);
    gpu_->route(f.p, gpu, false);
    EXPECT_EQ(cpu.counts, gpu.counts) << experts << " experts";
  }
}

TEST_P(GpuRouter, AgreesOnAtLeast999PerMilleOfAssignments) {
  // d_model 960 is 15 chunks of 64 dimensions (the wgmma kernel pads to an even count).
  for (auto [experts, d] : {std::pair{16, 1024}, {100, 960}, {128, 1024}, {256, 1024}}) {
    Fixture f(1 << 15, 4, d, experts, 2, 16, 1.0f, 7 + experts);
    RouterResult cpu, gpu;
    make_cpu_router()->route(f.p, cpu, true);
    gpu_->route(f.p, gpu, true);
    size_t same = 0;
    for (size_t i = 0; i < cpu.assignments.size(); ++i) same += cpu.assignments[i] == gpu.assignments[i];
    const double agreement = static_cast<double>(same) / static_cast<double>(cpu.assignments.size());
    EXPECT_GE(agreement, 0.999) << experts << " experts, d " << d;
    std::printf("[ info ] %d experts, d %d: %.5f of assignments identical on %s\n", experts, d, agreement, gpu_->name().c_str());
  }
}

// Group-limited routing on the GPU: DeepSeek-V3's shape (256 experts, 8 groups, top 4, top-8),
// 64 experts in 8 groups of 8, and 100 experts (the wgmma kernel's shape) in 4 groups of 25, whose
// edges split a lane's pair of experts. Every token keeps within its groups, and the kernel agrees
// with the CPU reference as the plain top-k does.
TEST_P(GpuRouter, GroupLimitedRoutingAgreesWithTheCpuReference) {
  struct Shape {
    int experts, groups, topk_groups, top_k;
  };
  for (const Shape shape : {Shape{256, 8, 4, 8}, Shape{64, 8, 3, 6}, Shape{100, 4, 2, 8}}) {
    Fixture f(1 << 15, 4, 1024, shape.experts, shape.top_k, 16, 1.0f, 31 + shape.experts);
    f.p.expert_groups = shape.groups;
    f.p.topk_groups = shape.topk_groups;
    RouterResult cpu, gpu;
    make_cpu_router()->route(f.p, cpu, true);
    gpu_->route(f.p, gpu, true);
    const int size = shape.experts / shape.groups;
    size_t same = 0, spread = 0;
    for (int t = 0; t < f.p.tokens; ++t) {
      uint32_t groups = 0;
      for (int q = 0; q < shape.top_k; ++q) {
        const size_t i = static_cast<size_t>(t) * shape.top_k + q;
        same += cpu.assignments[i] == gpu.assignments[i];
        groups |= 1u << (gpu.assignments[i] / size);
      }
      ASSERT_LE(__builtin_popcount(groups), shape.topk_groups) << shape.experts << " experts, token " << t;
      spread += __builtin_popcount(groups) == shape.topk_groups;
    }
    const double agreement = static_cast<double>(same) / static_cast<double>(cpu.assignments.size());
    EXPECT_GE(agreement, 0.999) << shape.experts << " experts in " << shape.groups << " groups";
    EXPECT_GT(spread, f.p.tokens / 2) << "the limit should bind for most tokens";
    std::printf("[ info ] %d experts in %d groups (top %d), top-%d: %.5f of assignments identical on %s\n", shape.experts, shape.groups,
                shape.topk_groups, shape.top_k, agreement, gpu_->name().c_str());
  }
}

TEST_P(GpuRouter, TakesAtMostEightGroups) {
  Fixture f(1 << 10, 1, 64, 32, 2, 4, 1.0f, 3);
  f.p.expert_groups = 16;
  f.p.topk_groups = 4;
  RouterResult out;
  EXPECT_THROW(gpu_->route(f.p, out, false), std::invalid_argument);
  EXPECT_EQ(gpu_->max_expert_groups(), 8);
}

INSTANTIATE_TEST_SUITE_P(Kernels, GpuRouter, ::testing::Values(CudaKernel::mma_sync, CudaKernel::wgmma),
                         [](const ::testing::TestParamInfo<CudaKernel>& kernel) { return ::testing::PrintToString(kernel.param); });

}  // namespace
}  // namespace moesim::router
