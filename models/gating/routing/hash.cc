// hash: a hash of the token id picks its experts: balanced and blind to content (LocMoE's
// baseline); the gate plays no part.
#include <stdexcept>

#include "models/gating/routing/routing_rule.h"

namespace moesim::gating {
namespace {

class HashRule final : public RoutingRule {
 public:
  std::string describe() const override { return "hash routing"; }
  bool gated() const override { return false; }
  int candidates() const override { return 1; }
  void choose(const RankedProbes&, std::span<int32_t>, std::vector<double>&) override {
    throw std::logic_error("hash routing does not read the gate");
  }
};

}  // namespace

const RoutingEntry& routing_entry_hash() {
  using Config = RoutingConfigOf<params::NoParams>;
  static const RoutingEntry entry{
      .name = "hash",
      .summary = "a hash of the token picks its experts: balanced, blind to content",
      .defaults = [](const RoutingDefaults&) -> std::unique_ptr<RoutingConfig> {
        return std::make_unique<Config>(
            "hash", params::NoParams{}, nullptr,
            [](const params::NoParams&, const RoutingContext&) -> std::unique_ptr<RoutingRule> { return std::make_unique<HashRule>(); });
      },
  };
  return entry;
}

}  // namespace moesim::gating
