#include "scenarios/loader/hf_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "models/presets.h"
#include "scenarios/errors.h"
#include "scenarios/loader/loader.h"

namespace moesim::scenarios {
namespace {

std::string fixture(const std::string& name) { return std::string(MOESIM_SOURCE_DIR) + "/tests/scenarios/hf_configs/" + name + ".json"; }

// Everything that sets what a model costs, head_dim as the width it gives.
void expect_same_model(const models::MoeModel& a, const models::MoeModel& b, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.layers, b.layers);
  EXPECT_EQ(a.first_moe_layer, b.first_moe_layer);
  EXPECT_EQ(a.moe_every, b.moe_every);
  EXPECT_EQ(a.hidden, b.hidden);
  EXPECT_EQ(a.heads, b.heads);
  EXPECT_EQ(a.kv_heads, b.kv_heads);
  EXPECT_EQ(a.gqa_head_dim(), b.gqa_head_dim());
  EXPECT_EQ(a.attention, b.attention);
  if (a.attention == models::Attention::kMla) {
    EXPECT_EQ(a.mla.q_lora_rank, b.mla.q_lora_rank);
    EXPECT_EQ(a.mla.kv_lora_rank, b.mla.kv_lora_rank);
    EXPECT_EQ(a.mla.qk_nope_head_dim, b.mla.qk_nope_head_dim);
    EXPECT_EQ(a.mla.qk_rope_head_dim, b.mla.qk_rope_head_dim);
    EXPECT_EQ(a.mla.v_head_dim, b.mla.v_head_dim);
  }
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  EXPECT_EQ(a.qk_norm, b.qk_norm);
  EXPECT_EQ(a.ffn_hidden, b.ffn_hidden);
  EXPECT_EQ(a.expert_ffn_hidden, b.expert_ffn_hidden);
  EXPECT_EQ(a.experts, b.experts);
  EXPECT_EQ(a.shared_experts, b.shared_experts);
  EXPECT_EQ(a.top_k, b.top_k);
  EXPECT_EQ(a.vocab, b.vocab);
  EXPECT_EQ(a.tied_embeddings, b.tied_embeddings);
  EXPECT_EQ(a.expert_groups, b.expert_groups);
  EXPECT_EQ(a.topk_groups, b.topk_groups);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.gated_ffn, b.gated_ffn);
  EXPECT_EQ(a.glu_clamp, b.glu_clamp);
  EXPECT_EQ(a.expert_bias, b.expert_bias);
  EXPECT_EQ(a.mtp_layers, b.mtp_layers);
}

// The presets were written from the same published configs: each mapping must give them back.
TEST(HfConfig, PublishedConfigsGiveThePresets) {
  for (const char* name : {"mixtral-8x7b", "qwen3-30b-a3b", "deepseek-v3", "gpt-oss-120b"})
    expect_same_model(read_hf_config(fixture(name)), *models::model_preset(name), name);
}

TEST(HfConfig, MapsEachArchitecturesOwnFields) {
  // Qwen1.5-MoE: one shared expert four experts wide, costed as four shared experts.
  const models::MoeModel qwen2 = read_hf_config(fixture("qwen1.5-moe-a2.7b"));
  EXPECT_EQ(qwen2.experts, 60);
  EXPECT_EQ(qwen2.top_k, 4);
  EXPECT_EQ(qwen2.expert_ffn_hidden, 1408);
  EXPECT_EQ(qwen2.shared_experts, 4);
  EXPECT_EQ(qwen2.moe_layer_count(), 24);
  EXPECT_FALSE(qwen2.qk_norm);  // Qwen1.5 has no query-key norm; Qwen3 (compared with its preset above) has
  // DeepSeek-V2-Lite: no query compression, the first layer dense, two shared experts.
  const models::MoeModel lite = read_hf_config(fixture("deepseek-v2-lite"));
  EXPECT_EQ(lite.attention, models::Attention::kMla);
  EXPECT_EQ(lite.mla.q_lora_rank, 0);
  EXPECT_EQ(lite.first_moe_layer, 1);
  EXPECT_EQ(lite.moe_layer_count(), 26);
  EXPECT_EQ(lite.shared_experts, 2);
  EXPECT_EQ(lite.top_k, 6);
  EXPECT_EQ(lite.dtype, models::Dtype::kBf16);
  // OLMoE: every layer MoE, 64 experts of 1024, top-8, its queries and keys normed.
  const models::MoeModel olmoe = read_hf_config(fixture("olmoe-1b-7b"));
  EXPECT_EQ(olmoe.moe_layer_count(), 16);
  EXPECT_EQ(olmoe.experts, 64);
  EXPECT_EQ(olmoe.expert_ffn_hidden, 1024);
  EXPECT_EQ(olmoe.top_k, 8);
  EXPECT_TRUE(olmoe.qk_norm);
}

TEST(HfConfig, ListsTheFieldsItDoesNotModel) {
  const models::MoeModel m = read_hf_config(fixture("mixtral-8x7b"));
  for (const char* key : {"rope_theta", "rms_norm_eps", "router_aux_loss_coef", "max_position_embeddings", "torch_dtype"})
    EXPECT_NE(std::find(m.config_unmodelled.begin(), m.config_unmodelled.end(), key), m.config_unmodelled.end()) << key;
  for (const char* key : {"hidden_size", "num_local_experts", "architectures", "intermediate_size"})
    EXPECT_EQ(std::find(m.config_unmodelled.begin(), m.config_unmodelled.end(), key), m.config_unmodelled.end()) << key;
  EXPECT_EQ(m.config, fixture("mixtral-8x7b"));
}

class HfConfigFile : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    path_ = (std::filesystem::temp_directory_path() / ("hf_config_test_" + std::to_string(::getpid()) + ".json")).string();
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override {
    if (!path_.empty()) std::filesystem::remove(path_);
  }
  // The error reading `text` gives.
  std::string error(const std::string& text) {
    try {
      read_hf_config(write(text));
    } catch (const ScenarioError& e) {
      return e.what();
    }
    return "(no error)";
  }
  std::string path_;
};

TEST_F(HfConfigFile, BadConfigsNameTheFieldAndWhere) {
  const std::string base = R"({"architectures": ["MixtralForCausalLM"], "num_hidden_layers": 32, "hidden_size": 4096,
 "num_attention_heads": 32, "vocab_size": 32000, "intermediate_size": 14336, "num_experts_per_tok": 2)";
  EXPECT_NE(error(base + R"(, "num_local_experts": 8})").find("(no error)"), std::string::npos);
  const std::string wrong_type = error(base + ",\n \"num_local_experts\": \"8\"}");
  EXPECT_NE(wrong_type.find("`model.config: num_local_experts`: expected an integer from 1 to 16777216, got \"8\""), std::string::npos)
      << wrong_type;
  EXPECT_NE(wrong_type.find(":3:2)"), std::string::npos) << wrong_type;  // line 3, column 2
  const std::string missing = error(base + "}");
  EXPECT_NE(missing.find("`model.config: num_local_experts`: is required"), std::string::npos) << missing;
  const std::string unknown = error(R"({"architectures": ["LlamaForCausalLM"]})");
  EXPECT_NE(unknown.find("expected one of MixtralForCausalLM, Qwen2MoeForCausalLM"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("got \"LlamaForCausalLM\""), std::string::npos) << unknown;
  const std::string broken = error("{\n  \"hidden_size\": 4096,\n  oops\n}");
  EXPECT_NE(broken.find("not valid JSON"), std::string::npos) << broken;
  EXPECT_NE(broken.find(":3:"), std::string::npos) << broken;
  EXPECT_NE(error("[1, 2]").find("expected a JSON object"), std::string::npos);
  const std::string layers = error(R"({"architectures": ["Qwen3MoeForCausalLM"], "num_hidden_layers": 4, "hidden_size": 64,
 "num_attention_heads": 4, "vocab_size": 100, "intermediate_size": 128, "moe_intermediate_size": 32, "num_experts": 8,
 "num_experts_per_tok": 2, "mlp_only_layers": [1, 3]})");
  EXPECT_NE(layers.find("`model.config: mlp_only_layers`: moesim's dense layers are the first ones"), std::string::npos) << layers;
  const std::string clamp = error(R"({"architectures": ["GptOssForCausalLM"], "num_hidden_layers": 2, "hidden_size": 64,
 "num_attention_heads": 4, "vocab_size": 100, "intermediate_size": 64, "num_local_experts": 8, "num_experts_per_tok": 2,
 "swiglu_limit": "seven"})");
  EXPECT_NE(clamp.find("`model.config: swiglu_limit`: expected a number >= 0, got \"seven\""), std::string::npos) << clamp;
}

TEST(HfConfig, AScenarioTakesItAndPrintsIt) {
  const std::string yaml = "cluster: {preset: h100-dgx, nodes: 2}\nmodel: {config: " + fixture("qwen3-30b-a3b") +
                           ", top_k: 4}\ntraining: {tokens_per_step: 65536, seq_len: 2048}\n";
  const Scenario s = load_scenario_text(yaml, "t.yaml", {});
  EXPECT_EQ(s.model.experts, 128);
  EXPECT_EQ(s.model.top_k, 4);  // a key given overrides the config
  const std::string printed = resolved_yaml(s);
  EXPECT_NE(printed.find("config: " + fixture("qwen3-30b-a3b")), std::string::npos) << printed;
  EXPECT_NE(printed.find("# not modelled from it: "), std::string::npos) << printed;
  EXPECT_NE(printed.find("rope_theta"), std::string::npos) << printed;
  // The printed scenario loads back to the same model.
  expect_same_model(load_scenario_text(printed, "printed.yaml", {}).model, s.model, "printed");
  try {
    load_scenario_text("cluster: {preset: h100-dgx}\nmodel: {preset: qwen3-30b-a3b, config: " + fixture("qwen3-30b-a3b") + "}\n", "t.yaml",
                       {});
    FAIL() << "preset and config together";
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("give model.preset or model.config, not both"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace moesim::scenarios
