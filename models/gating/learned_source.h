// Synthetic routing from a gate that learns.
//
// Each MoE layer has topic centers in a d-dimensional token space and a gate W (experts x d);
// the topic mixture's weights drift slowly. Every step:
//   1. a fixed set of probe tokens per layer, stratified by topic, is routed with the current W
//      by the router (cuda/router.h: the GPU kernel when present, else the CPU reference),
//      giving q(e | topic), the share of each topic's tokens that goes to each expert;
//   2. expected shares are sum over topics of weight(topic) * q(e | topic), and every rank's
//      tokens are split over experts around them with the noise of a multinomial draw of the
//      real batch size (rank_sampling.h);
//   3. W learns from a fresh minibatch of `learn_tokens` drawn from the current topic mix (its
//      sampling noise is the gradient noise of real training, so it fades with the rate):
//        W_e += lr * [pull * (m_e - W_e) - aux * E * (f_e - 1/E) * m_e]
//      with m_e the mean of the tokens routed first to e (the mean token when e got none) and
//      f_e its share: specialization toward its tokens, and the Switch auxiliary loss's push
//      away from them when e is overloaded (toward them when underloaded).
// The learning rate warms up linearly, then follows a cosine down to `min_lr_ratio` of its peak
// at `decay_steps`. Shallow layers learn from noisier gradients: their minibatch shrinks by a
// factor (1 + layer_volatility) from the last MoE layer to the first. Large steps early make
// experts overshoot and trade tokens from step to step; as the rate decays the loads settle.
// Nothing schedules the transition.
//
// Using the same probe tokens every step (common random numbers) keeps sampling noise out of
// the load changes: loads move because the gate or the topic mix moved. The number of probes sets
// how finely q(e | topic) is resolved, not the noise of the counts.
//
// Routing rules (routing/routing_rule.h) act on each probe's candidates, its best-scoring experts (up to
// 16): topk takes the first k; c2r takes the first, then the best among its collaborators;
// locmoe moves a share of the probes whose best expert is remote to their best candidate on the
// sender's node (none among the 16: the token stays remote). The gate learns from its own top-k
// choices in every mode; a mode changes where tokens go, not how the gate learns. Under hash, and
// under locmoe with LocMoE's own gate (gating.locmoe.gate: grap), the learned gate plays no part:
// experts are uniform.
#pragma once

#include <memory>
#include <vector>

#include "cuda/router.h"
#include "models/gating/expert_choice.h"
#include "models/gating/rank_sampling.h"
#include "models/gating/routing/routing_rule.h"
#include "models/gating/source.h"
#include "models/gating/topic_guide.h"
#include "sim/base/cache_aligned.h"
#include "sim/base/random.h"

namespace moesim::gating {

struct LearnedSourceParams {
  GatingShape shape;
  uint64_t seed = 1;
  int d = 64;  // token space dimension of the synthetic router
  int topics = 32;
  double topic_skew = 0.5;     // Zipf exponent of the initial topic weights
  double topic_drift = 0.002;  // per-step noise of log topic weights
  double noise = 0.5;          // half-width of per-dimension token noise (centers are N(0, 1))
  double init_scale = 0.1;     // gate weights start as N(0, init_scale^2)
  double lr = 0.5;             // peak learning rate
  int warmup_steps = 100;
  int decay_steps = 2000;  // cosine decay ends here (usually the run's length)
  double min_lr_ratio = 0.1;
  double pull = 1.0;                                              // specialization strength
  double aux = 0.05;                                              // auxiliary load-balancing coefficient
  double layer_volatility = 3.0;                                  // the first MoE layer learns from a (1 + v) times smaller minibatch
  int probe_tokens = 2048;                                        // per layer, fixed: they measure the loads
  int learn_tokens = 256;                                         // per layer and step, fresh: the minibatch the gate learns from
  std::shared_ptr<const RoutingConfig> routing = topk_routing();  // routing/routing_rule.h
  double capacity_factor = 1.0;                                   // locmoe: a local expert takes moved tokens up to its capacity
  void describe(params::Visitor& v);                              // the keys under gating: (source: learned)
};

class LearnedSource final : public Source {
 public:
  // `router` may be null: make_router() is used.
  explicit LearnedSource(const LearnedSourceParams& params, std::unique_ptr<router::Router> router = nullptr);
  bool placement_aware() const override { return rule_->placement_aware(); }
  std::string describe() const override;

  // Learning rate at `step` (warm-up, then cosine decay).
  double learning_rate(int step) const;
  // Tokens MoE layer `layer` learns from at every step.
  int learn_batch(int layer) const;

 protected:
  void advance(int step) override;
  void fill(const RoutingView& view, RoutingMatrix& out) override;

 private:
  void route_probes(int layer);
  void learn(int layer, int step);
  // The layer's probes as the router last ranked them, with their weights at the current step.
  RankedProbes ranked_probes(int layer);
  // Fills out's sends (tokens once per destination EP rank) for `layer`.
  // The share of the layer's tokens that visit each bucket of EP ranks (a GPU, a node) at least
  // once; bucket[j] is EP rank j's bucket. For top_k > 1.
  std::vector<double> visit_shares(int layer, const RoutingView& view, const std::vector<int>& bucket, int buckets) const;
  void fill_sends(int layer, const RoutingView& view, RoutingMatrix& out) const;
  // Fills out's co-activation from the probes' choices (computed once per step).
  void fill_coactivation(RoutingMatrix& out);
  double probe_weight(int layer, int probe) const;

  LearnedSourceParams p_;
  std::unique_ptr<router::Router> router_;
  Rng rng_;
  std::vector<std::vector<float>> gates_;  // [layer][experts * d]
  std::vector<uint64_t> gate_versions_;    // [layer]: changes with every update of its gate
  uint64_t last_gate_version_ = 0;
  std::vector<std::vector<float>> centers_;  // [layer][topics * d]
  std::vector<double> topic_log_weights_, topic_weights_;
  std::vector<float> uniform_cdf_;  // probes are stratified: every topic equally
  std::vector<float> mix_cdf_;      // the current topic mixture
  TopicGuide mix_guide_;            // over mix_cdf_
  std::unique_ptr<RoutingRule> rule_;
  router::RouterResult routed_;
  int candidates_ = 1;                                  // per probe: top_k, or 16 for the constrained modes
  std::vector<std::vector<int32_t>> probe_candidates_;  // [layer][probe][candidates_], best first
  std::vector<std::vector<int32_t>> chosen_;            // [layer][probe][top_k] (all but placement-aware rules)
  std::vector<std::vector<double>> layer_shares_;       // [layer][expert] (all but placement-aware rules)
  std::vector<double> probe_weights_;                   // [probe] of the layer being routed
  std::vector<int> probe_topic_;                        // [layer][probe]
  CacheAlignedVector<float> probe_noise_;               // [layer][probe][d]: the probes' u, drawn once
  CacheAlignedVector<float> learn_noise_;               // [token][d]: the learning batch's u, this layer
  std::vector<int> learn_topics_;                       // [token]: the learning batch's topics, this layer
  std::vector<double> probes_per_topic_;                // [layer][topic]
  std::vector<double> shares_, sums_, counts_;
  std::vector<double> pair_shares_;  // [layer][expert][expert], of step pair_shares_step_
  int pair_shares_step_ = -1;
  RankSampler sampler_;
  std::vector<int64_t> loads_;  // [layer * experts + expert], summed as the rows are sampled
};

}  // namespace moesim::gating
