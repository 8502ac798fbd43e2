#include "models/gating/routing/routing_rule.h"

#include <stdexcept>

#include "models/gating/rank_sampling.h"
#include "sim/base/registry.h"

namespace moesim::gating {

const RoutingEntry* find_routing(std::string_view name) { return registry::find(routing_entries(), name); }

std::vector<std::string> routing_names() { return registry::names(routing_entries()); }

std::shared_ptr<const RoutingConfig> default_routing(std::string_view name, const RoutingDefaults& defaults) {
  if (const RoutingEntry* entry = find_routing(name)) return entry->defaults(defaults);
  throw std::invalid_argument("unknown routing mode '" + std::string(name) + "'");
}

const std::shared_ptr<const RoutingConfig>& topk_routing() {
  static const std::shared_ptr<const RoutingConfig> topk = default_routing("topk", {});
  return topk;
}

void share_choices(const RankedProbes& probes, int k, std::span<int32_t> chosen, std::vector<double>& shares,
                   const std::function<void(int probe, std::span<int32_t> pick)>& pick) {
  std::fill(shares.begin(), shares.end(), 0.0);
  double total = 0;
  for (int t = 0; t < probes.probes(); ++t) {
    const std::span<int32_t> experts = chosen.subspan(static_cast<size_t>(t) * k, k);
    pick(t, experts);
    const double weight = probes.weights[t];
    for (int32_t e : experts) shares[e] += weight / k;
    total += weight;
  }
  for (double& v : shares) v /= total;  // total < 1 only if a topic has no probe
  cap_shares(shares, k);
}

}  // namespace moesim::gating
