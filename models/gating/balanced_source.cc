// gating.source balanced: every rank sends each expert the same number of tokens, every step —
// what Megatron's --moe-router-force-load-balancing does for benchmarks ("force-balance the token
// distribution among experts"), so throughput is measured without routing noise. A rank's
// tokens x top_k assignments that do not divide evenly go one each to the experts after the
// rank's own offset, so that over a stage the remainders spread too.
//
// Megatron balances by routing on random logits, so each token's top-k is a uniformly random set
// of k experts: a deduplicating dispatch sends it once to each GPU (node) holding one of them, and
// a GPU holding n of E experts receives a given token with probability 1 - C(E - n, k) / C(E, k).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "models/gating/source_registry.h"

namespace moesim::gating {
namespace {

class BalancedSource final : public Source {
 public:
  explicit BalancedSource(const GatingShape& shape) : shape_(shape), routing_(shape.moe_layers, shape.ranks, shape.experts) {
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
  // The share of tokens whose k random experts include one of `hosted` experts.
  double visit_share(int hosted) const {
    double miss = 1;
    for (int i = 0; i < shape_.top_k; ++i) miss *= std::max(0.0, static_cast<double>(shape_.experts - hosted - i) / (shape_.experts - i));
    return 1 - miss;
  }

  void fill_sends(const RoutingView& view, RoutingMatrix& out) const {
    const int ep = view.ep;
    out.resize_sends(ep);
    const double tokens = static_cast<double>(shape_.tokens_per_rank);
    for (int l = 0; l < shape_.moe_layers; ++l) {
      std::vector<int> hosted(ep, 0);
      for (int e = 0; e < shape_.experts; ++e) ++hosted[view.host(l, e)];
      for (int r = 0; r < shape_.ranks; ++r) {
        const int first = r / ep * ep;
        auto sends = out.sends_row(l, r);
        auto node_sends = out.node_sends_row(l, r);
        for (int j = 0; j < ep; ++j) {
          int on_node = 0;
          for (int i = 0; i < ep; ++i) on_node += view.node_of_rank[first + i] == view.node_of_rank[first + j] ? hosted[i] : 0;
          sends[j] = static_cast<int32_t>(std::lround(visit_share(hosted[j]) * tokens));
          node_sends[j] = static_cast<int32_t>(std::lround(visit_share(on_node) * tokens));
        }
      }
    }
  }

  GatingShape shape_;
  RoutingMatrix routing_;
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
              return std::make_unique<BalancedSource>(c.shape);
            }});
      },
  };
  return entry;
}

}  // namespace moesim::gating
