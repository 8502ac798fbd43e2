#include "scenarios/loader/loader.h"

#include <gtest/gtest.h>

#include "models/gating/routing/routing_rule.h"
#include "models/gating/source_registry.h"
#include "models/presets.h"
#include "policies/placement/placement.h"
#include "policies/placement/registry.h"
#include "policies/predictors/registry.h"

namespace moesim::scenarios {
namespace {

const char* kMinimal = R"(
name: t
cluster: {preset: h100-dgx, nodes: 2}
model: {preset: gpt3-125m-moe}
parallelism: {ep: 16, dp: 16}
training: {tokens_per_step: 65536, seq_len: 2048}
)";

// The value of `key` among a registry entry's settings.
std::string value_of(const std::vector<params::KeyValue>& values, const std::string& key) {
  for (const auto& v : values) {
    if (v.key == key) return v.value;
  }
  return "(absent)";
}

TEST(Loader, PresetsExpandAndFieldsOverride) {
  const Scenario s = load_scenario_text(std::string(kMinimal) + R"(
policies:
  - {placement: static, layout: round_robin, label: rr}
)",
                                        "t.yaml", {"cluster.nic.bandwidth=200 Gb/s", "model.top_k=2"});
  EXPECT_EQ(s.cluster.gpu_count(), 16);
  EXPECT_DOUBLE_EQ(s.cluster.gpu.bf16_peak.per_second(), 989.4e12);
  EXPECT_DOUBLE_EQ(s.cluster.nic.link.bandwidth.bytes_per_second(), 25e9);
  EXPECT_EQ(s.model.top_k, 2);
  EXPECT_EQ(s.model.experts, 16);
  ASSERT_EQ(s.policies.size(), 1u);
  EXPECT_EQ(s.policies[0].label, "rr");
  EXPECT_EQ(s.policies[0].layout, policies::StaticLayout::kRoundRobin);
  EXPECT_EQ(s.output_dir, "results/runs/t");
}

TEST(Loader, DefaultsFillTheRest) {
  const Scenario s =
      load_scenario_text("cluster: {preset: a100-dgx}\nmodel: {preset: gpt3-125m-moe}\ntraining: {tokens_per_step: 16384}\n", "d.yaml");
  EXPECT_EQ(s.parallelism.dp, 8);
  EXPECT_EQ(s.parallelism.ep, 8);
  EXPECT_EQ(s.policies.size(), 1u);
  EXPECT_EQ(s.steps, 100);
}

// Megatron-Core dispatches BF16 hidden states whatever the GEMMs' precision; FP8 dispatch (DeepEP's,
// as DeepSeek-V3 trains) is asked for. The FP8 recipe defaults to current (tensorwise) scaling.
TEST(Loader, AnFp8ModelDispatchesBf16UnlessAskedAndScalesTensorwise) {
  const Scenario fp8 = load_scenario_text(kMinimal, "t.yaml", {"model.dtype=fp8"});
  EXPECT_EQ(fp8.dispatch.dtype, models::Dtype::kBf16);
  EXPECT_EQ(fp8.model.fp8_recipe, models::Fp8Recipe::kTensorwise);
  const Scenario asked = load_scenario_text(kMinimal, "t.yaml", {"model.dtype=fp8", "dispatch.dtype=fp8", "model.fp8_recipe=delayed"});
  EXPECT_EQ(asked.dispatch.dtype, models::Dtype::kFp8);
  EXPECT_EQ(asked.model.fp8_recipe, models::Fp8Recipe::kDelayed);
  EXPECT_EQ(models::model_preset("deepseek-v3")->fp8_recipe, models::Fp8Recipe::kBlockwise);
}

TEST(Loader, SetCanIndexListsAndReplaceWholeValues) {
  const Scenario s = load_scenario_text(std::string(kMinimal) + "policies: [{placement: static}, {placement: static}]\n", "t.yaml",
                                        {"policies.1.layout=round_robin", "steps=7"});
  EXPECT_EQ(s.policies[1].layout, policies::StaticLayout::kRoundRobin);
  EXPECT_EQ(s.steps, 7);
}

TEST(Loader, ResolvedYamlLoadsBackToTheSameScenario) {
  const Scenario s = load_scenario_text(std::string(kMinimal) + "gating: {source: skewed, distribution: dirichlet, dirichlet_alpha: 0.3}\n",
                                        "t.yaml", {"cluster.intra_node.latency=1.5 us", "cluster.gpu.launch_hidden=true"});
  const std::string yaml = resolved_yaml(s);
  const Scenario again = load_scenario_text(yaml, "resolved.yaml");
  EXPECT_EQ(resolved_yaml(again), yaml);
  EXPECT_EQ(again.cluster.intra_node.link.latency, Nanoseconds(1500));
  EXPECT_TRUE(again.cluster.gpu.launch_hidden);
  EXPECT_EQ(again.gating.source->name(), "skewed");
  EXPECT_EQ(value_of(again.gating.source->values(), "dirichlet_alpha"), "0.3");
}

TEST(Loader, AffinityPolicyRoundTrips) {
  const Scenario s =
      load_scenario_text(std::string(kMinimal) + "dispatch: {dedup: gpu}\npolicies:\n  - {placement: affinity, max_imbalance: 1.3}\n",
                         "t.yaml", {"model.top_k=2"});
  ASSERT_EQ(s.policies.size(), 1u);
  EXPECT_EQ(s.policies[0].placement_name(), "affinity");
  EXPECT_EQ(s.policies[0].label, "affinity");
  EXPECT_EQ(s.policies[0].predictor->name(), "sw_avg");
  const Scenario again = load_scenario_text(resolved_yaml(s), "resolved.yaml");
  EXPECT_EQ(again.policies[0].placement_name(), "affinity");
  EXPECT_EQ(value_of(again.policies[0].placement->values(), "max_imbalance"), "1.3");
}

TEST(Loader, SpareSlotsRoundTripWhereThePolicysDefaultIsNotZero) {
  // replicated holds one spare slot unless told otherwise: the resolved scenario (what a run writes
  // as its scenario.yaml) must keep an explicit 0 (found by fuzz_run).
  const Scenario s = load_scenario_text(
      std::string(kMinimal) + "policies:\n  - {placement: replicated, spare_slots: 0}\n  - {placement: replicated}\n", "t.yaml");
  ASSERT_EQ(s.policies.size(), 2u);
  EXPECT_EQ(s.policies[0].spare_slots, 0);
  EXPECT_EQ(s.policies[1].spare_slots, 1);
  const std::string yaml = resolved_yaml(s);
  const Scenario again = load_scenario_text(yaml, "resolved.yaml");
  EXPECT_EQ(again.policies[0].spare_slots, 0);
  EXPECT_EQ(again.policies[1].spare_slots, 1);
  EXPECT_EQ(resolved_yaml(again), yaml);
}

TEST(Loader, APredictorsSettingsAreScenarioKeys) {
  const Scenario s = load_scenario_text(std::string(kMinimal) + R"(
policies:
  - {placement: predictive, predictor: {name: sw_avg, window: 200}}
  - {placement: replicated, predictor: {name: ema, alpha: 0.2}, horizon: 50}
  - {placement: predictive, predictor: median}
)",
                                        "t.yaml");
  ASSERT_EQ(s.policies.size(), 3u);
  EXPECT_EQ(s.policies[0].label, "predictive-sw_avg");
  EXPECT_EQ(value_of(s.policies[0].predictor->values(), "window"), "200");
  EXPECT_EQ(value_of(s.policies[1].predictor->values(), "alpha"), "0.2");
  EXPECT_EQ(value_of(s.policies[1].placement->values(), "horizon"), "50");
  EXPECT_EQ(value_of(s.policies[2].predictor->values(), "window"), "100");
  // Settings away from their defaults are written out; a predictor at its defaults is its name.
  const std::string yaml = resolved_yaml(s);
  EXPECT_NE(yaml.find("predictor: {name: sw_avg, window: 200}"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("predictor: median,"), std::string::npos) << yaml;
  const Scenario again = load_scenario_text(yaml, "resolved.yaml");
  EXPECT_EQ(resolved_yaml(again), yaml);
  EXPECT_EQ(value_of(again.policies[1].predictor->values(), "alpha"), "0.2");
}

TEST(Loader, APredictorsSettingsCanBeSetFromTheCommandLine) {
  const Scenario s = load_scenario_text(std::string(kMinimal) + "policies: [{placement: predictive, predictor: {name: holt}}]\n", "t.yaml",
                                        {"policies.0.predictor.beta=0.01"});
  EXPECT_EQ(value_of(s.policies[0].predictor->values(), "beta"), "0.01");
}

TEST(Loader, RoutingSettingsRoundTrip) {
  for (const char* routing : {"locmoe", "c2r"}) {
    const Scenario s = load_scenario_text(
        std::string(kMinimal) + "steps: 300\n", "t.yaml",
        {std::string("gating.routing=") + routing, "model.top_k=" + std::string(routing == std::string("c2r") ? "2" : "1"),
         "gating.locmoe.locality=0.25", "gating.c2r.groups=fixed", "gating.c2r.group_size=4"});
    const std::string yaml = resolved_yaml(s);
    const Scenario again = load_scenario_text(yaml, "resolved.yaml");
    EXPECT_EQ(resolved_yaml(again), yaml);
    EXPECT_EQ(again.gating.routing->name(), s.gating.routing->name());
  }
  const Scenario loc = load_scenario_text(std::string(kMinimal), "t.yaml", {"gating.routing=locmoe", "gating.locmoe.locality=0.25"});
  EXPECT_EQ(value_of(load_scenario_text(resolved_yaml(loc), "r.yaml").gating.routing->values(), "locality"), "0.25");
}

TEST(Loader, GatingDefaultsToTheLearnedGateWithTopK) {
  const Scenario s = load_scenario_text(std::string(kMinimal), "t.yaml");
  EXPECT_EQ(s.gating.source->name(), "learned");
  EXPECT_EQ(s.gating.routing->name(), "topk");
}

TEST(Loader, C2RGroupSizeDefaultsToExpertsPerGpuAtLeastTopK) {
  const Scenario s = load_scenario_text(std::string(kMinimal) + "steps: 300\n", "t.yaml", {"gating.routing=c2r", "model.top_k=2"});
  EXPECT_EQ(value_of(s.gating.routing->values(), "group_size"), std::to_string(std::max(2, s.model.experts / s.parallelism.ep)));
}

TEST(Loader, QuickstartIsValid) {
  const Scenario s = load_scenario_file(std::string(MOESIM_SOURCE_DIR) + "/scenarios/quickstart.yaml");
  EXPECT_EQ(s.name, "quickstart");
  EXPECT_EQ(s.cluster.gpu_count(), s.parallelism.dp);
}

}  // namespace
}  // namespace moesim::scenarios

namespace moesim::scenarios {
namespace {

TEST(Loader, LearnedGatingKeysAndDefaults) {
  const Scenario s = load_scenario_text(std::string(kMinimal) + "steps: 500\ngating: {source: learned, lr: 0.3, topics: 8}\n", "t.yaml");
  EXPECT_EQ(s.gating.source->name(), "learned");
  const auto values = s.gating.source->values();
  EXPECT_EQ(value_of(values, "lr"), "0.3");
  EXPECT_EQ(value_of(values, "topics"), "8");
  EXPECT_EQ(value_of(values, "decay_steps"), "500");  // the run's length unless given
  const Scenario again = load_scenario_text(resolved_yaml(s), "resolved.yaml");
  EXPECT_EQ(resolved_yaml(again), resolved_yaml(s));
}

TEST(Loader, KeysOfTheOtherGatingSourceAreRejected) {
  try {
    load_scenario_text(std::string(kMinimal) + "gating: {source: learned, zipf_s: 1.2}\n", "t.yaml");
    FAIL();
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("`gating.zipf_s`: applies to gating.source skewed, not learned (t.yaml:7:35)"), std::string::npos)
        << e.what();
  }
}

// Labels name the rows of every result: coinciding default labels are numbered, past any given
// label; a label given twice is an error naming the second.
TEST(Loader, PolicyLabelsAreUnique) {
  const Scenario s = load_scenario_text(std::string(kMinimal) +
                                            "policies:\n"
                                            "  - {placement: replicated, spare_slots: 1}\n"
                                            "  - {placement: replicated, spare_slots: 2}\n"
                                            "  - {placement: static, label: replicated_2}\n"
                                            "  - {placement: replicated, spare_slots: 3}\n",
                                        "t.yaml");
  ASSERT_EQ(s.policies.size(), 4u);
  EXPECT_EQ(s.policies[0].label, "replicated");
  EXPECT_EQ(s.policies[1].label, "replicated_3");
  EXPECT_EQ(s.policies[2].label, "replicated_2");
  EXPECT_EQ(s.policies[3].label, "replicated_4");
  const Scenario again = load_scenario_text(resolved_yaml(s), "resolved.yaml");
  EXPECT_EQ(resolved_yaml(again), resolved_yaml(s));
  try {
    load_scenario_text(
        std::string(kMinimal) + "policies: [{placement: static, label: a}, {placement: replicated, spare_slots: 1, label: a}]\n", "t.yaml");
    FAIL();
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("`policies.1.label`: 'a' is also policies.0's label"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moesim::scenarios
