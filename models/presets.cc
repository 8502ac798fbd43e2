#include "models/presets.h"

namespace moesim::models {
namespace {

// GPT-3 125M / 350M with MoE in every other layer: the two models traced in the expert-load
// prediction paper (arXiv 2404.16914, §3). Top-k and capacity factor are not stated there;
// top-1 (Switch) is the default.
MoeModel gpt3_125m_moe() {
  MoeModel m;
  m.preset = "gpt3-125m-moe";
  m.layers = 12;
  m.first_moe_layer = 1;
  m.moe_every = 2;
  m.hidden = 768;
  m.heads = 12;
  m.kv_heads = 12;
  m.ffn_hidden = 3072;
  m.expert_ffn_hidden = 3072;
  m.experts = 16;
  m.top_k = 1;
  m.vocab = 50257;
  return m;
}

MoeModel gpt3_350m_moe() {
  MoeModel m = gpt3_125m_moe();
  m.preset = "gpt3-350m-moe";
  m.layers = 24;
  m.hidden = 1024;
  m.heads = 16;
  m.kv_heads = 16;
  m.ffn_hidden = 4096;
  m.expert_ffn_hidden = 4096;
  m.experts = 128;
  return m;
}

// Mixtral-8x7B (arXiv 2401.04088): 32 layers all MoE, hidden 4096, SwiGLU experts of 14336,
// 8 experts top-2, 32 heads with 8 KV heads, vocabulary 32000.
MoeModel mixtral_8x7b() {
  MoeModel m;
  m.preset = "mixtral-8x7b";
  m.layers = 32;
  m.first_moe_layer = 0;
  m.moe_every = 1;
  m.hidden = 4096;
  m.heads = 32;
  m.kv_heads = 8;
  m.ffn_hidden = 14336;
  m.expert_ffn_hidden = 14336;
  m.experts = 8;
  m.top_k = 2;
  m.vocab = 32000;
  m.gated_ffn = true;
  return m;
}

// DeepSeek-V3 (arXiv 2412.19437): 61 layers, first 3 dense (FFN 18432), then MoE with 256
// routed + 1 shared SwiGLU experts of 2048, top-8, hidden 7168, 128 heads, vocabulary 129280.
MoeModel deepseek_v3() {
  MoeModel m;
  m.preset = "deepseek-v3";
  m.layers = 61;
  m.first_moe_layer = 3;
  m.moe_every = 1;
  m.hidden = 7168;
  m.heads = 128;
  m.kv_heads = 128;
  m.ffn_hidden = 18432;
  m.expert_ffn_hidden = 2048;
  m.experts = 256;
  m.shared_experts = 1;
  m.top_k = 8;
  m.vocab = 129280;
  m.gated_ffn = true;
  m.dtype = Dtype::kFp8;
  return m;
}

struct Entry {
  const char* name;
  const char* description;
  MoeModel (*make)();
};

constexpr Entry kPresets[] = {
    {"gpt3-125m-moe", "12 layers (6 MoE), hidden 768, 16 experts, top-1 (expert-load prediction paper)", gpt3_125m_moe},
    {"gpt3-350m-moe", "24 layers (12 MoE), hidden 1024, 128 experts, top-1 (expert-load prediction paper)", gpt3_350m_moe},
    {"mixtral-8x7b", "32 MoE layers, hidden 4096, 8 SwiGLU experts, top-2, GQA 32/8", mixtral_8x7b},
    {"deepseek-v3", "61 layers (58 MoE), hidden 7168, 256 routed + 1 shared expert, top-8, FP8", deepseek_v3},
};

}  // namespace

std::optional<MoeModel> model_preset(std::string_view name) {
  for (const Entry& e : kPresets) {
    if (name == e.name) return e.make();
  }
  return std::nullopt;
}

std::vector<PresetInfo> model_presets() {
  std::vector<PresetInfo> out;
  for (const Entry& e : kPresets) out.push_back({e.name, e.description});
  return out;
}

}  // namespace moesim::models
