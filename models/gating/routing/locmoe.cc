#include "models/gating/routing/locmoe.h"

#include <boost/math/special_functions/beta.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "models/gating/capacity.h"
#include "models/gating/expert_choice.h"
#include "models/gating/routing/routing_rule.h"

namespace moesim::gating {

double locmoe_min_capacity(int d_model, int experts, double delta) {
  // For x = cos^2 between a uniformly random unit vector and a fixed one, x ~ Beta(1/2, (d-1)/2).
  const double aligned = 1.0 - boost::math::ibeta(0.5, (d_model - 1) / 2.0, delta * delta);
  return 1.0 / (experts * aligned);
}

namespace {

// Which gate ranks the experts: the learned source's own, or LocMoE's GrAP.
enum class LocMoeGate { kLearned, kGrap };
constexpr std::string_view kLocMoeGateNames[] = {"learned", "grap"};

struct LocMoeParams {
  double locality = 0.5;            // share of remote-first tokens moved to a local expert
  double angular_deviation = 0.03;  // delta of LocMoE's minimum-capacity theorem
  LocMoeGate gate = LocMoeGate::kLearned;
  void describe(params::Visitor& v) {
    v.real("locality", locality, {0, 1}, "share of the tokens whose best expert is remote moved to a local one");
    v.real("angular_deviation", angular_deviation, {0, 1, false},
           "the largest angle between gate weights and their tokens (delta of the minimum-capacity theorem)");
    params::enumeration(v, "gate", gate, kLocMoeGateNames,
                        "learned: the learned gate ranks the experts; grap: LocMoE's fixed grouped-average-pooling gate, whose "
                        "orthogonal weights make every expert a token's best equally often (the paper's Lemma 2): balanced as hash, "
                        "and the gate neither routes by content nor learns");
  }
};

class LocMoeRule final : public RoutingRule {
 public:
  LocMoeRule(const LocMoeParams& p, const RoutingContext& c) : p_(p), c_(c) {
    if (c.shape.top_k != 1) throw std::invalid_argument("locmoe routing is top-1");
  }
  std::string describe() const override {
    std::ostringstream os;
    os << "locmoe routing (locality " << p_.locality << (p_.gate == LocMoeGate::kGrap ? ", GrAP gate" : "") << ")";
    return os.str();
  }
  bool gated() const override { return p_.gate == LocMoeGate::kLearned; }
  bool placement_aware() const override { return true; }
  int candidates() const override { return std::min(c_.shape.experts, 16); }
  void choose(const RankedProbes&, std::span<int32_t>, std::vector<double>&) override {}  // per sender node
  void local_shares(const RankedProbes& probes, std::span<const uint8_t> local, std::vector<double>& shares) const override;

 private:
  // The share of a sender rank's tokens an expert may take at capacity.
  double capacity_share() const;
  void grap_shares(std::span<const uint8_t> local, std::vector<double>& shares) const;

  LocMoeParams p_;
  RoutingContext c_;
};

double LocMoeRule::capacity_share() const {
  const GatingShape& shape = c_.shape;
  return static_cast<double>(expert_capacity(c_.capacity_factor, shape.tokens_per_rank, 1, shape.experts)) /
         static_cast<double>(shape.tokens_per_rank);
}

// Under GrAP every expert is a token's best with the same chance, and so is each local expert its
// best local one: the probes' rule below in closed form. Each expert is best for 1/E of the tokens;
// those whose best is one of the E - L remote experts move a share `locality` to the L local
// ones, evenly, as far as the local experts' room at capacity allows.
void LocMoeRule::grap_shares(std::span<const uint8_t> local, std::vector<double>& shares) const {
  const int experts = c_.shape.experts;
  const int locals = static_cast<int>(std::count_if(local.begin(), local.end(), [](uint8_t l) { return l != 0; }));
  shares.assign(experts, 1.0 / experts);
  if (locals == 0 || locals == experts) return;
  const double moved = p_.locality * (experts - locals) / experts / locals;  // wanted by each local expert
  if (moved <= 0) return;
  const double room = std::clamp((capacity_share() - 1.0 / experts) / moved, 0.0, 1.0);
  for (int e = 0; e < experts; ++e) shares[e] = local[e] != 0 ? 1.0 / experts + moved * room : (1.0 - p_.locality * room) / experts;
}

void LocMoeRule::local_shares(const RankedProbes& probes, std::span<const uint8_t> local, std::vector<double>& shares) const {
  if (p_.gate == LocMoeGate::kGrap) return grap_shares(local, shares);
  // Top-1. A probe whose best expert is remote moves a share `locality` of its weight to its best
  // local candidate, as far as that expert's capacity (per sender rank) allows: a local expert
  // already over capacity with its own tokens takes none, one with room takes moved tokens up to
  // capacity, in proportion.
  const GatingShape& shape = c_.shape;
  const double capacity = capacity_share();
  std::vector<double> base(shape.experts, 0.0), moved(shape.experts, 0.0);
  std::vector<int> target(probes.probes(), -1);
  double total = 0;
  for (int t = 0; t < probes.probes(); ++t) {
    const std::span<const int32_t> candidates = probes.ranked.subspan(static_cast<size_t>(t) * probes.candidates, probes.candidates);
    const double weight = probes.weights[t];
    total += weight;
    const int best = candidates[0];
    target[t] = local[best] ? -1 : best_local(candidates, local);
    base[best] += target[t] < 0 ? weight : (1.0 - p_.locality) * weight;
    if (target[t] >= 0) moved[target[t]] += p_.locality * weight;
  }
  shares = base;
  for (int t = 0; t < probes.probes(); ++t) {
    const int to = target[t];
    if (to < 0 || moved[to] <= 0) continue;
    const double room = std::clamp((capacity * total - base[to]) / moved[to], 0.0, 1.0);
    const double weight = p_.locality * probes.weights[t];
    shares[to] += weight * room;
    shares[probes.ranked[static_cast<size_t>(t) * probes.candidates]] += weight * (1.0 - room);
  }
  for (double& v : shares) v /= total;
}

std::optional<RoutingProblem> check(const LocMoeParams& p, const RoutingFacts& f) {
  if (f.top_k != 1) {
    return RoutingProblem{"model.top_k",
                          "expected 1 with gating.routing locmoe (LocMoE is a top-1 router), got " + std::to_string(f.top_k)};
  }
  const double minimum = locmoe_min_capacity(f.hidden, f.experts, p.angular_deviation);
  if (static_cast<double>(f.capacity) >= std::ceil(minimum)) return std::nullopt;
  std::ostringstream message;
  message << "expected an expert capacity of at least " << std::ceil(minimum) << " tokens, LocMoE's minimum for hidden " << f.hidden << ", "
          << f.experts << " experts and angular deviation " << p.angular_deviation << ", got " << f.capacity_factor << " (" << f.capacity
          << " tokens per rank and expert)";
  return RoutingProblem{"model.capacity_factor", message.str()};
}

}  // namespace

const RoutingEntry& routing_entry_locmoe() {
  using Config = RoutingConfigOf<LocMoeParams>;
  static const RoutingEntry entry{
      .name = "locmoe",
      .summary = "LocMoE: part of the tokens bound for another node go to a local expert (top-1)",
      .per_token = true,
      .defaults = [](const RoutingDefaults&) -> std::unique_ptr<RoutingConfig> {
        return std::make_unique<Config>("locmoe", LocMoeParams{}, check,
                                        [](const LocMoeParams& p, const RoutingContext& c) -> std::unique_ptr<RoutingRule> {
                                          return std::make_unique<LocMoeRule>(p, c);
                                        });
      },
  };
  return entry;
}

}  // namespace moesim::gating
