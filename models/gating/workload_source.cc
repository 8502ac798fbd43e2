// gating.source workload: the token-imbalance workloads W0-W7 that Megatron-LM's proposed
// benchmark defines (NVIDIA/Megatron-LM pull request #7488, benchmarks/moe/token_imbalance/
// benchmark.py, routing_for_step, read at commit 241aa13; the MoE roadmap issue #6757), so that
// results can be set beside theirs. As there, a step's routing is a function of (workload, seed,
// step) alone, the same whatever the layout: every rank and every MoE layer routes the same
// tokens. Each token takes k distinct experts, drawn uniformly from a pool:
//
//   balanced            token t takes experts tk .. tk+k-1 (mod E): round robin
//   hot_expert_set      3 tokens in 4 from the hot set, experts 0 .. w-1 (w = max(k, E/4)); the
//                       fourth from all experts
//   hot_rank            the same construction (the benchmark separates it from hot_expert_set by
//                       the layout that owns the hot block, not by the routing)
//   spread_hot_experts  3 in 4 from every other expert, 0, 2, 4, ... (max(k, E/2) of them)
//   source_ragged       all experts, uniformly (the benchmark's routing function draws this; the
//                       ragged source token counts its notes describe are not in it)
//   zero_expert_rank    experts E/2 .. E-1 only: the other half is never chosen
//   rotating_hotspot    as hot_expert_set, the hot set starting at expert (step / 3) * w mod E
//   burst               all experts, but every 4th step (step mod 4 = 3) half the tokens (the
//                       even ones) from the hot set
//
// The draws are moesim's own (xoshiro streams per workload, seed and step), not PyTorch's: the
// same construction, so the same statistics, not the same samples.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "models/gating/source_registry.h"
#include "sim/base/random.h"

namespace moesim::gating {
namespace {

enum class Workload { kBalanced, kHotExpertSet, kHotRank, kSpreadHotExperts, kSourceRagged, kZeroExpertRank, kRotatingHotspot, kBurst };
constexpr std::string_view kWorkloadNames[] = {"balanced",      "hot_expert_set",   "hot_rank",         "spread_hot_experts",
                                               "source_ragged", "zero_expert_rank", "rotating_hotspot", "burst"};

struct WorkloadParams {
  Workload workload = Workload::kBalanced;
  void describe(params::Visitor& v) {
    params::enumeration(v, "workload", workload, kWorkloadNames,
                        "Megatron-LM's token-imbalance workloads W0-W7, in order (PR #7488): which experts tokens choose");
  }
};

class WorkloadSource final : public Source {
 public:
  WorkloadSource(const GatingShape& shape, uint64_t seed, Workload workload)
      : shape_(shape), seed_(seed), workload_(workload), routing_(shape.moe_layers, shape.ranks, shape.experts) {}

  std::string describe() const override {
    return "Megatron-LM token-imbalance workload W" + std::to_string(static_cast<int>(workload_)) + " " +
           std::string(kWorkloadNames[static_cast<size_t>(workload_)]) + " (every rank and layer routes alike)";
  }

 protected:
  void advance(int step) override {
    const std::vector<int32_t> counts = route_step(step);
    for (int l = 0; l < shape_.moe_layers; ++l)
      for (int r = 0; r < shape_.ranks; ++r) std::copy(counts.begin(), counts.end(), routing_.row(l, r).begin());
  }
  void fill(const RoutingView&, RoutingMatrix& out) override { out = routing_; }

 private:
  // One rank's tokens of `step`: each expert's assignments.
  std::vector<int32_t> route_step(int step) const {
    const int e_count = shape_.experts, k = shape_.top_k;
    const int hot_width = std::max(k, e_count / 4);
    std::vector<int> everyone(e_count), hot(hot_width), spread, live;
    for (int e = 0; e < e_count; ++e) everyone[e] = e;
    const int base = workload_ == Workload::kRotatingHotspot ? static_cast<int>(static_cast<int64_t>(step / 3) * hot_width % e_count) : 0;
    for (int i = 0; i < hot_width; ++i) hot[i] = (base + i) % e_count;
    for (int i = 0; i < std::max(k, e_count / 2); ++i) spread.push_back(2 * i % e_count);
    std::sort(spread.begin(), spread.end());
    spread.erase(std::unique(spread.begin(), spread.end()), spread.end());
    if (static_cast<int>(spread.size()) < k) spread = everyone;
    for (int e = e_count / 2; e < e_count; ++e) live.push_back(e);
    if (static_cast<int>(live.size()) < k) live = everyone;

    Rng rng(seed_, "gating.workload." + std::string(kWorkloadNames[static_cast<size_t>(workload_)]), static_cast<uint64_t>(step));
    std::vector<int32_t> counts(e_count, 0);
    std::vector<int> scratch;
    const bool burst = step % 4 == 3;
    for (int64_t t = 0; t < shape_.tokens_per_rank; ++t) {
      if (workload_ == Workload::kBalanced) {
        for (int j = 0; j < k; ++j) ++counts[static_cast<size_t>((t * k + j) % e_count)];
        continue;
      }
      const std::vector<int>* pool = &everyone;
      switch (workload_) {
        case Workload::kHotExpertSet:
        case Workload::kHotRank:
        case Workload::kRotatingHotspot: pool = t % 4 ? &hot : &everyone; break;
        case Workload::kSpreadHotExperts: pool = t % 4 ? &spread : &everyone; break;
        case Workload::kZeroExpertRank: pool = &live; break;
        case Workload::kBurst: pool = burst && t % 2 == 0 ? &hot : &everyone; break;
        default: break;
      }
      take_distinct(*pool, k, rng, scratch);
      for (int e : scratch) ++counts[static_cast<size_t>(e)];
    }
    return counts;
  }

  // k distinct experts of `pool`, uniformly: a partial Fisher-Yates shuffle of a copy.
  static void take_distinct(const std::vector<int>& pool, int k, Rng& rng, std::vector<int>& out) {
    out.assign(pool.begin(), pool.end());
    for (int i = 0; i < k; ++i)
      std::swap(out[static_cast<size_t>(i)], out[static_cast<size_t>(i) + rng.below(out.size() - static_cast<size_t>(i))]);
    out.resize(static_cast<size_t>(k));
  }

  GatingShape shape_;
  uint64_t seed_;
  Workload workload_;
  RoutingMatrix routing_;
};

}  // namespace

const SourceEntry& source_entry_workload() {
  using Config = SourceConfigOf<WorkloadParams>;
  static const SourceEntry entry{
      .name = "workload",
      .summary =
          "Megatron-LM's token-imbalance benchmark workloads W0-W7 (balanced, hot expert set, hot rank, spread, ragged, zero "
          "experts, rotating hotspot, burst)",
      .replays = true,
      .defaults = [](const SourceDefaults&) -> std::unique_ptr<SourceConfig> {
        return std::make_unique<Config>(
            "workload", WorkloadParams{},
            Config::Hooks{.make = [](const WorkloadParams& p, const SourceContext& c) -> std::unique_ptr<Source> {
                            return std::make_unique<WorkloadSource>(c.shape, c.seed, p.workload);
                          },
                          .check = [](const WorkloadParams&, const SourceContext& c) -> std::optional<SourceProblem> {
                            if (c.shape.topk_groups < c.shape.expert_groups)
                              return SourceProblem{
                                  "source", "the workloads choose experts without groups: set model.topk_groups to model.expert_groups (" +
                                                std::to_string(c.shape.expert_groups) + ")"};
                            return std::nullopt;
                          }});
      },
  };
  return entry;
}

}  // namespace moesim::gating
