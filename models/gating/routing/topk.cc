// topk: GShard / Switch: each token takes the k experts its gate scores best (top_k 1 is Switch).
#include <algorithm>

#include "models/gating/routing/routing_rule.h"

namespace moesim::gating {
namespace {

class TopKRule final : public RoutingRule {
 public:
  explicit TopKRule(int top_k) : k_(top_k) {}
  std::string describe() const override { return "topk routing"; }
  int candidates() const override { return k_; }
  void choose(const RankedProbes& probes, std::span<int32_t> chosen, std::vector<double>& shares) override {
    share_choices(probes, k_, chosen, shares, [&](int t, std::span<int32_t> pick) {
      std::copy_n(probes.ranked.begin() + static_cast<ptrdiff_t>(t) * probes.candidates, k_, pick.begin());
    });
  }

 private:
  int k_;
};

}  // namespace

const RoutingEntry& routing_entry_topk() {
  using Config = RoutingConfigOf<params::NoParams>;
  static const RoutingEntry entry{
      .name = "topk",
      .summary = "GShard / Switch: the k best-scoring experts",
      .defaults = [](const RoutingDefaults&) -> std::unique_ptr<RoutingConfig> {
        return std::make_unique<Config>("topk", params::NoParams{}, nullptr,
                                        [](const params::NoParams&, const RoutingContext& c) -> std::unique_ptr<RoutingRule> {
                                          return std::make_unique<TopKRule>(c.shape.top_k);
                                        });
      },
  };
  return entry;
}

}  // namespace moesim::gating
