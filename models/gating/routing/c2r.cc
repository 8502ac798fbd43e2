// c2r: collaboration-constrained routing (C2R, arXiv 2504.01337): the first expert is chosen
// freely, the other k - 1 only among its collaborators: the group_size - 1 experts co-activated
// with it most often over a warm-up window (`measured`), or the rest of its block of group_size
// consecutive experts (`fixed`).
#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "models/gating/expert_choice.h"
#include "models/gating/routing/routing_rule.h"

namespace moesim::gating {
namespace {

enum class C2RGroups { kMeasured, kFixed };
constexpr std::string_view kGroupNames[] = {"measured", "fixed"};

struct C2RParams {
  C2RGroups groups = C2RGroups::kMeasured;
  int group_size = 1;      // an expert and its collaborators
  int warmup_steps = 100;  // measured groups: co-activation is counted over these first steps
  void describe(params::Visitor& v) {
    params::enumeration(v, "groups", groups, kGroupNames,
                        "measured: each expert's most co-activated experts over the warm-up; fixed: blocks of consecutive experts");
    v.count("group_size", group_size, 1, 4096, "an expert and its collaborators (default: the experts of an EP rank, at least top_k)");
    v.count("warmup_steps", warmup_steps, 1, 100'000'000, "measured groups: steps whose co-activation is counted");
  }
};

class C2RRule final : public RoutingRule {
 public:
  C2RRule(const C2RParams& p, const GatingShape& shape);
  std::string describe() const override;
  int candidates() const override { return std::min(shape_.experts, 16); }
  void choose(const RankedProbes& probes, std::span<int32_t> chosen, std::vector<double>& shares) override;

 private:
  C2RParams p_;
  GatingShape shape_;
  std::vector<CoactivationCounter> coactivation_;                 // [layer] (measured groups)
  std::vector<std::vector<std::vector<int32_t>>> collaborators_;  // [layer][expert]
};

C2RRule::C2RRule(const C2RParams& p, const GatingShape& shape) : p_(p), shape_(shape) {
  if (p.group_size < shape.top_k || p.group_size > shape.experts) throw std::invalid_argument("c2r group_size must be in [top_k, experts]");
  collaborators_.resize(shape.moe_layers);
  if (p.groups == C2RGroups::kFixed) {
    for (auto& c : collaborators_) c = block_collaborators(shape.experts, p.group_size);
  } else {
    coactivation_.assign(shape.moe_layers, CoactivationCounter(shape.experts));
  }
}

std::string C2RRule::describe() const {
  std::ostringstream os;
  os << "c2r routing (" << kGroupNames[static_cast<size_t>(p_.groups)] << " groups of " << p_.group_size;
  if (p_.groups == C2RGroups::kMeasured) os << " after " << p_.warmup_steps << " warm-up steps";
  os << ")";
  return os.str();
}

void C2RRule::choose(const RankedProbes& probes, std::span<int32_t> chosen, std::vector<double>& shares) {
  const int l = probes.layer;
  const bool measured = p_.groups == C2RGroups::kMeasured;
  if (measured && probes.step == p_.warmup_steps) collaborators_[l] = coactivation_[l].collaborators(p_.group_size - 1);
  // Each probe's k experts: its best until the collaborators are known, then its best and its
  // best collaborators.
  const bool constrained = !collaborators_[l].empty();
  const bool measuring = measured && probes.step < p_.warmup_steps;
  const int k = shape_.top_k;
  share_choices(probes, k, chosen, shares, [&](int t, std::span<int32_t> pick) {
    const std::span<const int32_t> candidates = probes.ranked.subspan(static_cast<size_t>(t) * probes.candidates, probes.candidates);
    if (constrained)
      c2r_choose(candidates, collaborators_[l][candidates[0]], pick);
    else
      std::copy_n(candidates.begin(), k, pick.begin());
    if (measuring) coactivation_[l].add(pick, probes.weights[t]);
  });
}

std::optional<RoutingProblem> check(const C2RParams& p, const RoutingFacts& f) {
  const auto str = [](int64_t v) { return std::to_string(v); };
  if (f.top_k < 2) {
    return RoutingProblem{"model.top_k",
                          "expected at least 2 with gating.routing c2r (it constrains the experts after the first), got " + str(f.top_k)};
  }
  if (p.group_size < f.top_k || p.group_size > f.experts) {
    return RoutingProblem{"gating.c2r.group_size", "expected between model.top_k (" + str(f.top_k) + ") and model.experts (" +
                                                       str(f.experts) + "): an expert's group must hold all of a token's experts, got " +
                                                       str(p.group_size)};
  }
  if (p.groups == C2RGroups::kFixed && f.experts % p.group_size != 0) {
    return RoutingProblem{"gating.c2r.group_size",
                          "expected a divisor of model.experts (" + str(f.experts) + ") with fixed groups, got " + str(p.group_size)};
  }
  if (p.groups == C2RGroups::kMeasured && p.warmup_steps >= f.steps) {
    return RoutingProblem{"gating.c2r.warmup_steps", "expected fewer than steps (" + str(f.steps) +
                                                         "): groups are measured over the warm-up and used after it, got " +
                                                         str(p.warmup_steps)};
  }
  return std::nullopt;
}

}  // namespace

const RoutingEntry& routing_entry_c2r() {
  using Config = RoutingConfigOf<C2RParams>;
  static const RoutingEntry entry{
      .name = "c2r",
      .summary = "C2R: a token's later experts only among its first expert's collaborators",
      .per_token = true,
      .defaults = [](const RoutingDefaults& d) -> std::unique_ptr<RoutingConfig> {
        C2RParams params;
        params.group_size = std::max(d.top_k, d.experts / d.ep);
        return std::make_unique<Config>("c2r", params, check,
                                        [](const C2RParams& p, const RoutingContext& c) -> std::unique_ptr<RoutingRule> {
                                          return std::make_unique<C2RRule>(p, c.shape);
                                        });
      },
  };
  return entry;
}

}  // namespace moesim::gating
