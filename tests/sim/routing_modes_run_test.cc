// Routing modes through whole runs: what they do to the all-to-all.
#include <gtest/gtest.h>

#include "scenarios/loader/loader.h"
#include "sim/runner.h"
#include "sim/summary.h"

namespace moesim {
namespace {

// Two A100 servers, 16 experts, one per GPU; an EP group spans both servers.
const std::string kTwoNodes =
    "steps: 20\n"
    "cluster: {preset: a100-dgx, nodes: 2}\n"
    "model: {preset: gpt3-125m-moe}\n"
    "parallelism: {ep: 16, dp: 16}\n"
    "training: {tokens_per_step: 131072, seq_len: 2048}\n"
    "gating: {source: learned, probe_tokens: 512}\n"
    "policies: [{placement: static}, {placement: static, layout: round_robin}]\n";

std::vector<PolicySummary> run(const std::vector<std::string>& overrides) {
  const auto s = scenarios::load_scenario_text(kTwoNodes, "test.yaml", overrides);
  auto source = make_gating_source(s);
  return summarize(s, run_scenario(s, *source));
}

TEST(RoutingModes, LocMoeCutsInterNodeBytesAgainstTopK) {
  const auto topk = run({"gating.routing=topk"});
  const auto locmoe = run({"gating.routing=locmoe"});
  for (size_t p = 0; p < topk.size(); ++p) {  // under each placement, routed for that placement
    EXPECT_LT(locmoe[p].inter_node_a2a_gb, 0.85 * topk[p].inter_node_a2a_gb) << topk[p].label;
    // The tokens moved inside the node; none vanished (all-to-all bytes leave out tokens that
    // stay on their own GPU, a few more of which stay now).
    EXPECT_GT(locmoe[p].intra_node_a2a_gb, topk[p].intra_node_a2a_gb) << topk[p].label;
    const double total = topk[p].inter_node_a2a_gb + topk[p].intra_node_a2a_gb;
    EXPECT_NEAR(locmoe[p].inter_node_a2a_gb + locmoe[p].intra_node_a2a_gb, total, 0.05 * total);
  }
}

TEST(RoutingModes, HashBalancesButDoesNotLocalize) {
  const auto topk = run({"gating.routing=topk"});
  const auto hash = run({"gating.routing=hash"});
  EXPECT_LT(hash[0].imbalance, 1.1);
  EXPECT_GT(topk[0].imbalance, hash[0].imbalance + 0.1);
  EXPECT_NEAR(hash[0].inter_node_a2a_gb, topk[0].inter_node_a2a_gb, 0.1 * topk[0].inter_node_a2a_gb);
}

TEST(RoutingModes, C2RGroupsOnOneGpuCutBytesOnlyWithDedup) {
  // 32 experts top-2 on 16 GPUs: fixed groups of two are exactly the experts of one GPU under the
  // contiguous layout.
  const std::vector<std::string> shape = {"model.experts=32", "model.top_k=2", "gating.c2r.groups=fixed", "gating.c2r.group_size=2"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.end(), shape.begin(), shape.end());
    const auto summaries = run(more);
    return summaries[0].inter_node_a2a_gb + summaries[0].intra_node_a2a_gb;
  };
  const double topk = with({"gating.routing=topk"}), c2r = with({"gating.routing=c2r"});
  const double topk_dedup = with({"gating.routing=topk", "dispatch.dedup=gpu"});
  const double c2r_dedup = with({"gating.routing=c2r", "dispatch.dedup=gpu"});
  EXPECT_NEAR(c2r, topk, 0.01 * topk);              // one send per expert: co-location does not matter
  EXPECT_LT(topk_dedup, topk);                      // the odd token whose two experts share a GPU anyway
  EXPECT_NEAR(c2r_dedup, 0.5 * topk, 0.01 * topk);  // every token's two experts share a GPU
}

TEST(RoutingModes, NodeDedupSendsATokenOnceToANodeWhoseGpusHoldItsExperts) {
  // Under the round-robin layout (policy 1) C2R's fixed pairs sit on two GPUs of one node:
  // deduplicating per GPU saves nothing there, per node halves the network bytes.
  const std::vector<std::string> shape = {"model.experts=32", "model.top_k=2", "gating.routing=c2r", "gating.c2r.groups=fixed",
                                          "gating.c2r.group_size=2"};
  auto with = [&](const std::string& dispatch) {
    auto overrides = shape;
    overrides.push_back(dispatch);
    return run(overrides)[1];
  };
  const auto none = with("dispatch.dedup=none"), gpu = with("dispatch.dedup=gpu"), node = with("dispatch.kernel=deepep");
  EXPECT_NEAR(gpu.inter_node_a2a_gb, none.inter_node_a2a_gb, 0.01 * none.inter_node_a2a_gb);
  // DeepEP sends each copy with its two experts' indices and weights (2 x 12 bytes).
  const double hidden_bytes = 2.0 * scenarios::load_scenario_text(kTwoNodes, "test.yaml").model.hidden;
  EXPECT_NEAR(node.inter_node_a2a_gb, 0.5 * gpu.inter_node_a2a_gb * (hidden_bytes + 24) / hidden_bytes, 0.01 * gpu.inter_node_a2a_gb);
  // The second copy now crosses NVLink from the receiving GPU instead of the network.
  EXPECT_GT(node.intra_node_a2a_gb, gpu.intra_node_a2a_gb);
  EXPECT_LT(node.step_ms_mean, gpu.step_ms_mean);
}

TEST(RoutingModes, NodeDedupNeverSendsMoreOverTheNetworkThanGpuDedup) {
  for (const char* routing : {"topk", "hash"}) {
    const std::vector<std::string> shape = {"model.experts=32", "model.top_k=2", std::string("gating.routing=") + routing};
    auto gpu = shape, node = shape;
    gpu.push_back("dispatch.dedup=gpu");
    node.push_back("dispatch.kernel=deepep");
    const auto by_gpu = run(gpu), by_node = run(node);
    for (size_t p = 0; p < by_gpu.size(); ++p) {
      EXPECT_LT(by_node[p].inter_node_a2a_gb, by_gpu[p].inter_node_a2a_gb) << routing << " " << by_gpu[p].label;
      EXPECT_GT(by_node[p].inter_node_a2a_gb, 0.5 * by_gpu[p].inter_node_a2a_gb) << routing << " " << by_gpu[p].label;
    }
  }
}

}  // namespace
}  // namespace moesim
