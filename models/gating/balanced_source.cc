// gating.source balanced: every rank sends each expert the same number of tokens, every step —
// what Megatron's --moe-router-force-load-balancing does for benchmarks ("force-balance the token
// distribution among experts"), so throughput is measured without routing noise. A rank's
// tokens x top_k assignments that do not divide evenly go one each to the experts after the
// rank's own offset, so that over a stage the remainders spread too.
#include <memory>
#include <string>

#include "models/gating/source_registry.h"

namespace moesim::gating {
namespace {

class BalancedSource final : public Source {
 public:
  explicit BalancedSource(const GatingShape& shape) : routing_(shape.moe_layers, shape.ranks, shape.experts) {
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
  void fill(const RoutingView&, RoutingMatrix& out) override { out = routing_; }

 private:
  RoutingMatrix routing_;
};

}  // namespace

const SourceEntry& source_entry_balanced() {
  using Config = SourceConfigOf<params::NoParams>;
  static const SourceEntry entry{
      .name = "balanced",
      .summary = "every expert gets the same tokens from every rank, every step (forced balance, as benchmarks run)",
      .defaults = [](const SourceDefaults&) -> std::unique_ptr<SourceConfig> {
        return std::make_unique<Config>(
            "balanced", params::NoParams{},
            Config::Hooks{.make = [](const params::NoParams&, const SourceContext& c) -> std::unique_ptr<Source> {
              return std::make_unique<BalancedSource>(c.shape);
            }});
      },
  };
  return entry;
}

}  // namespace moesim::gating
