// gating.source balanced: every rank sends each expert the same number of tokens, every step —
// what Megatron's --moe-router-force-load-balancing does for benchmarks ("force-balance the token
// distribution among experts"), so throughput is measured without routing noise. A rank's
// tokens x top_k assignments that do not divide evenly go one each to the experts after the
// rank's own offset, so that over a stage the remainders spread too.
//
// Megatron balances by routing on random logits, so each token's top-k is a uniformly random set
// of k experts: a deduplicating dispatch sends it once to each GPU (node) holding one of them, and
// a GPU holding n of E experts receives a given token with probability 1 - C(E - n, k) / C(E, k).
// Under group-limited routing the groups are scored by their best affinities, so a chosen group
// usually, not always, receives one of the k: how many experts a token takes from each group has
// no closed form. The source samples it once, kGroupSamples tokens of random logits routed as the
// router does (cuda/router.h), and by the groups' symmetry a GPU holding h_g experts of group g is
// missed with probability E[prod_g C(n - h_g, c_g) / C(n, c_g)] over the sampled counts c (n
// experts per group), averaged over every rotation of the groups.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "cuda/router.h"
#include "models/gating/source_registry.h"
#include "sim/base/random.h"

namespace moesim::gating {
namespace {

constexpr int kGroupSamples = 16384;

class BalancedSource final : public Source {
 public:
  BalancedSource(const GatingShape& shape, uint64_t seed) : shape_(shape), routing_(shape.moe_layers, shape.ranks, shape.experts) {
    if (groups() > 1) sample_group_counts(seed);
    const int64_t assignments = shape.tokens_per_rank * shape.top_k;
    const int64_t each = assignments / shape.experts, rest = assignments % shape.experts;
    for (int l = 0; l < shape.moe_layers; ++l) {
      for (int r = 0; r < shape.ranks; ++r) {
        auto row = routing_.row(l, r);
        for (int e = 0; e < shape.experts; ++e) {
          const int64_t offset = (e - static_cast<int64_t>(r) * rest % shape.experts + shape.experts) % shape.experts;
          row[e] = static_cast<int32_t>(each + (offset < rest ? 1 : 0));
        }
      }
    }
  }
  std::string describe() const override { return "balanced gating (every expert gets the same tokens, as forced balance)"; }

 protected:
  void advance(int) override {}
  void fill(const RoutingView& view, RoutingMatrix& out) override {
    out = routing_;
    if (view.has_placement()) fill_sends(view, out);
  }

 private:
  int groups() const { return shape_.topk_groups < shape_.expert_groups ? shape_.expert_groups : 1; }

  // The experts each of kGroupSamples tokens takes from each group, its logits drawn at random.
  void sample_group_counts(uint64_t seed) {
    Rng rng(seed, "gating.balanced.groups");
    const int experts = shape_.experts, k = shape_.top_k, size = experts / groups();
    router::RouterProblem problem;
    problem.experts = experts;
    problem.expert_groups = shape_.expert_groups;
    problem.topk_groups = shape_.topk_groups;
    std::vector<float> logits(experts);
    std::vector<uint8_t> allowed;
    std::vector<int> order(experts);
    group_counts_.assign(static_cast<size_t>(kGroupSamples) * groups(), 0);
    for (int t = 0; t < kGroupSamples; ++t) {
      for (float& x : logits) x = static_cast<float>(rng.normal());
      router::allowed_experts(problem, logits.data(), allowed);
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
        if (allowed[a] != allowed[b]) return allowed[a] > allowed[b];
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
      });
      for (int q = 0; q < k; ++q) ++group_counts_[static_cast<size_t>(t) * groups() + order[q] / size];
    }
  }

  // The share of tokens whose k random experts include one of the experts a GPU (node) holds,
  // hosted[g] of them in group g.
  double visit_share(std::vector<int> hosted) const {
    const int k = shape_.top_k, g_count = groups(), size = shape_.experts / g_count;
    if (g_count == 1) return 1 - miss_odds(shape_.experts, hosted[0], k);
    std::sort(hosted.begin(), hosted.end());  // the groups are exchangeable
    if (const auto it = visit_cache_.find(hosted); it != visit_cache_.end()) return it->second;
    std::vector<double> miss(static_cast<size_t>(size + 1) * (k + 1));  // [held][taken]
    for (int h = 0; h <= size; ++h)
      for (int c = 0; c <= k; ++c) miss[static_cast<size_t>(h) * (k + 1) + c] = miss_odds(size, h, c);
    double missed = 0;
    for (int t = 0; t < kGroupSamples; ++t) {
      const uint8_t* taken = group_counts_.data() + static_cast<size_t>(t) * g_count;
      for (int rotation = 0; rotation < g_count; ++rotation) {
        double p = 1;
        for (int g = 0; g < g_count; ++g) p *= miss[static_cast<size_t>(hosted[(g + rotation) % g_count]) * (k + 1) + taken[g]];
        missed += p;
      }
    }
    return visit_cache_[hosted] = 1 - missed / (static_cast<double>(kGroupSamples) * g_count);
  }

  // C(n - held, taken) / C(n, taken): `taken` random experts of n miss all `held` of them.
  static double miss_odds(int n, int held, int taken) {
    double p = 1;
    for (int i = 0; i < taken; ++i) p *= std::max(0.0, static_cast<double>(n - held - i) / (n - i));
    return p;
  }

  void fill_sends(const RoutingView& view, RoutingMatrix& out) const {
    const int ep = view.ep;
    out.resize_sends(ep);
    const double tokens = static_cast<double>(shape_.tokens_per_rank);
    for (int l = 0; l < shape_.moe_layers; ++l) {
      const int group_size = shape_.experts / groups();
      std::vector<std::vector<int>> hosted(ep, std::vector<int>(groups(), 0));  // [EP rank][group]
      for (int e = 0; e < shape_.experts; ++e) ++hosted[view.host(l, e)][e / group_size];
      for (int r = 0; r < shape_.ranks; ++r) {
        const int first = r / ep * ep;
        auto sends = out.sends_row(l, r);
        auto node_sends = out.node_sends_row(l, r);
        for (int j = 0; j < ep; ++j) {
          std::vector<int> on_node(groups(), 0);
          for (int i = 0; i < ep; ++i)
            if (view.node_of_rank[first + i] == view.node_of_rank[first + j])
              for (int g = 0; g < groups(); ++g) on_node[g] += hosted[i][g];
          sends[j] = static_cast<int32_t>(std::lround(visit_share(hosted[j]) * tokens));
          node_sends[j] = static_cast<int32_t>(std::lround(visit_share(on_node) * tokens));
        }
      }
    }
  }

  GatingShape shape_;
  RoutingMatrix routing_;
  std::vector<uint8_t> group_counts_;  // [sample][group]: experts taken
  mutable std::map<std::vector<int>, double> visit_cache_;
};

}  // namespace

const SourceEntry& source_entry_balanced() {
  using Config = SourceConfigOf<params::NoParams>;
  static const SourceEntry entry{
      .name = "balanced",
      .summary = "every expert gets the same tokens from every rank, every step (forced balance, as benchmarks run)",
      .token_destinations = true,
      .defaults = [](const SourceDefaults&) -> std::unique_ptr<SourceConfig> {
        return std::make_unique<Config>(
            "balanced", params::NoParams{},
            Config::Hooks{.make = [](const params::NoParams&, const SourceContext& c) -> std::unique_ptr<Source> {
              return std::make_unique<BalancedSource>(c.shape, c.seed);
            }});
      },
  };
  return entry;
}

}  // namespace moesim::gating
