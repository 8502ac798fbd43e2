// gating.source balanced: every rank sends each expert the same number of tokens, every step —
// what Megatron's --moe-router-force-load-balancing does for benchmarks ("force-balance the token
// distribution among experts"), so throughput is measured without routing noise. A rank's
// tokens x top_k assignments that do not divide evenly go one each to the experts after the
// rank's own offset, so that over a stage the remainders spread too.
//
// Which k experts a token takes matters to a deduplicating dispatch, which sends it once to each
// GPU (node) holding one of them. Two benchmarks balance differently (`expert_sets`):
//
// random: Megatron balances by routing on random logits, so each token's top-k is a uniformly
// random set of k experts, and a GPU holding n of E experts receives a given token with
// probability 1 - C(E - n, k) / C(E, k). Under group-limited routing the groups are scored by
// their best affinities, so a chosen group usually, not always, receives one of the k: how many
// experts a token takes from each group has no closed form. The source samples it once,
// kGroupSamples tokens of random logits routed as the router does (cuda/router.h), and by the
// groups' symmetry a GPU holding h_g experts of group g is missed with probability
// E[prod_g C(n - h_g, c_g) / C(n, c_g)] over the sampled counts c (n experts per group), averaged
// over every rotation of the groups.
//
// consecutive: NeMo AutoModel's FakeBalancedGate (fake_balanced_gate, noise 0) gives the t-th
// token of a GPU's micro-batch experts k*t .. k*t + k - 1 (mod E), ignoring expert groups. The
// first expert k*t mod E runs through the multiples of gcd(k, E), each as often, so a GPU (node)
// receives the share of those starts whose k experts include one it holds. Where a GPU's experts
// are consecutive and a multiple of k, that is one GPU per token: Qwen3-30B-A3B's 8 of 128 experts
// on EP 8 all sit on one GPU.
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

enum class ExpertSets { kRandom, kConsecutive };
constexpr std::string_view kExpertSetsNames[] = {"random", "consecutive"};

struct BalancedParams {
  ExpertSets sets = ExpertSets::kRandom;
  void describe(params::Visitor& v) {
    params::enumeration(v, "expert_sets", sets, kExpertSetsNames,
                        "which k experts a token takes, which sets what a deduplicating dispatch sends: random: a uniformly random "
                        "set (Megatron's --moe-router-force-load-balancing, random logits); consecutive: the t-th token of a GPU's "
                        "micro-batch takes experts k*t .. k*t + k - 1 (mod experts), ignoring expert groups (NeMo AutoModel's "
                        "fake_balanced_gate)");
  }
};

class BalancedSource final : public Source {
 public:
  BalancedSource(const GatingShape& shape, ExpertSets sets, uint64_t seed)
      : shape_(shape), sets_(sets), routing_(shape.moe_layers, shape.ranks, shape.experts) {
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
  std::string describe() const override {
    return sets_ == ExpertSets::kConsecutive ? "balanced gating (every expert gets the same tokens, each token k consecutive experts)"
                                             : "balanced gating (every expert gets the same tokens, as forced balance)";
  }

 protected:
  void advance(int) override {}
  void fill(const RoutingView& view, RoutingMatrix& out) override {
    out = routing_;
    if (view.has_placement()) fill_sends(view, out);
  }

 private:
  // Expert groups that shape which experts a token takes (the consecutive sets ignore them).
  int groups() const { return sets_ == ExpertSets::kRandom && shape_.topk_groups < shape_.expert_groups ? shape_.expert_groups : 1; }

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

  // The share of tokens whose k consecutive experts include one that `held` marks.
  double consecutive_share(const std::vector<uint8_t>& held) const {
    const int experts = shape_.experts, k = shape_.top_k, step = std::gcd(k, experts);
    int visited = 0;
    for (int first = 0; first < experts; first += step) {
      bool hit = false;
      for (int q = 0; q < k && !hit; ++q) hit = held[(first + q) % experts] != 0;
      visited += hit ? 1 : 0;
    }
    return static_cast<double>(visited) / (experts / step);
  }

  // The share of tokens a GPU (node) receives in layer l: at least one of a token's experts is on
  // an EP rank that `on` marks (the GPU's own, or every rank on its node).
  double share(const RoutingView& view, int l, const std::vector<uint8_t>& on) const {
    const int group_size = shape_.experts / groups();
    if (sets_ == ExpertSets::kConsecutive) {
      thread_local std::vector<uint8_t> held;
      held.assign(shape_.experts, 0);
      for (int e = 0; e < shape_.experts; ++e) held[e] = on[view.host(l, e)];
      return consecutive_share(held);
    }
    std::vector<int> hosted(groups(), 0);
    for (int e = 0; e < shape_.experts; ++e) hosted[e / group_size] += on[view.host(l, e)];
    return visit_share(std::move(hosted));
  }

  // Every EP group sends alike but for where its ranks' nodes are: each group's shares are found
  // once and copied to its ranks.
  void fill_sends(const RoutingView& view, RoutingMatrix& out) const {
    const int ep = view.ep;
    out.resize_sends(ep);
    const double tokens = static_cast<double>(shape_.tokens_per_rank);
    std::vector<int32_t> sends(ep), node_sends(ep);
    std::vector<uint8_t> on(ep);  // [EP rank]: counted as a destination
    for (int l = 0; l < shape_.moe_layers; ++l) {
      for (int first = 0; first < shape_.ranks; first += ep) {
        for (int j = 0; j < ep; ++j) {
          for (int i = 0; i < ep; ++i) on[i] = i == j ? 1 : 0;
          sends[j] = static_cast<int32_t>(std::lround(share(view, l, on) * tokens));
          for (int i = 0; i < ep; ++i) on[i] = view.node_of_rank[first + i] == view.node_of_rank[first + j] ? 1 : 0;
          node_sends[j] = static_cast<int32_t>(std::lround(share(view, l, on) * tokens));
        }
        for (int r = first; r < first + ep; ++r) {
          std::copy(sends.begin(), sends.end(), out.sends_row(l, r).begin());
          std::copy(node_sends.begin(), node_sends.end(), out.node_sends_row(l, r).begin());
        }
      }
    }
  }

  GatingShape shape_;
  ExpertSets sets_;
  RoutingMatrix routing_;
  std::vector<uint8_t> group_counts_;  // [sample][group]: experts taken
  mutable std::map<std::vector<int>, double> visit_cache_;
};

}  // namespace

const SourceEntry& source_entry_balanced() {
  using Config = SourceConfigOf<BalancedParams>;
  static const SourceEntry entry{
      .name = "balanced",
      .summary = "every expert gets the same tokens from every rank, every step (forced balance, as benchmarks run)",
      .token_destinations = true,
      .defaults = [](const SourceDefaults&) -> std::unique_ptr<SourceConfig> {
        return std::make_unique<Config>(
            "balanced", BalancedParams{},
            Config::Hooks{.make = [](const BalancedParams& p, const SourceContext& c) -> std::unique_ptr<Source> {
              return std::make_unique<BalancedSource>(c.shape, p.sets, c.seed);
            }});
      },
  };
  return entry;
}

}  // namespace moesim::gating
