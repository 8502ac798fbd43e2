// A synthetic routing source with a seeded, slowly drifting skew over experts.
//
// Each MoE layer has a base popularity over experts: Zipf(s) over a random permutation of the
// experts, Dirichlet(alpha), or uniform. Log-popularities then drift every step as an
// Ornstein-Uhlenbeck process around the base (`drift` = step noise, `reversion` = pull back), so
// loads move but stay skewed. Each rank's tokens are split over experts with multinomial-sized
// noise (normal approximation, rounded so each rank assigns exactly tokens x top_k). Routing
// modes: topk, or hash (uniform over experts, whatever the popularity).
#pragma once

#include <vector>

#include "models/gating/rank_sampling.h"
#include "models/gating/routing/routing_rule.h"
#include "models/gating/source.h"
#include "sim/base/random.h"

namespace moesim::gating {

enum class SkewDistribution { kZipf, kDirichlet, kUniform };
inline constexpr std::string_view kSkewDistributionNames[] = {"zipf", "dirichlet", "uniform"};

struct SkewedSourceParams {
  GatingShape shape;
  SkewDistribution distribution = SkewDistribution::kZipf;
  double zipf_s = 1.0;
  double dirichlet_alpha = 1.0;
  double drift = 0.02;
  double reversion = 0.01;
  uint64_t seed = 1;
  // topk or hash: the rules that act on each token's gate scores need a gate, which this source
  // does not have.
  std::shared_ptr<const RoutingConfig> routing = topk_routing();
  int threads = 1;                    // SourceContext::threads, not a key
  void describe(params::Visitor& v);  // the keys under gating: (source: skewed)
};

class SkewedSource final : public Source {
 public:
  explicit SkewedSource(const SkewedSourceParams& params);
  std::string describe() const override;

  // The expected share of assignments per expert of `layer` at the current step (sums to 1).
  const std::vector<double>& shares(int layer) const { return shares_[layer]; }

 protected:
  void advance(int step) override;
  void fill(const RoutingView& view, RoutingMatrix& out) override;

 private:
  void update_shares();
  SkewedSourceParams p_;
  bool gated_ = true;  // false: hash routing, uniform shares whatever the skew
  Rng rng_;
  std::vector<std::vector<double>> base_log_;  // [layer][expert]
  std::vector<std::vector<double>> log_;       // [layer][expert]
  std::vector<std::vector<double>> shares_;    // [layer][expert]
  std::vector<RankSampler> samplers_;          // one per thread
  std::vector<int64_t> loads_;                 // [layer * experts + expert], summed as the rows are sampled
  // The generator as the current step's sampling starts: every fill of the step samples from it
  // (so each gives the same routing, and no copy of a whole routing is kept); the first one leaves
  // rng_ where that sampling ends, as if advance() had sampled.
  Rng sampling_rng_;
  bool sampled_ = false;
};

}  // namespace moesim::gating
