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

// Mixtral-8x7B (arXiv 2401.04088; config.json of mistralai/Mixtral-8x7B-v0.1): 32 layers all
// MoE, hidden 4096, SwiGLU experts of 14336, 8 experts top-2, 32 heads with 8 KV heads of 128,
// vocabulary 32000, untied embeddings.
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
  m.tied_embeddings = false;
  m.gated_ffn = true;
  return m;
}

// Mixtral-8x22B (config.json of mistralai/Mixtral-8x22B-v0.1): 56 layers, hidden 6144, 48 heads
// with 8 KV heads of 128, SwiGLU experts of 16384, 8 experts top-2, vocabulary 32000.
MoeModel mixtral_8x22b() {
  MoeModel m = mixtral_8x7b();
  m.preset = "mixtral-8x22b";
  m.layers = 56;
  m.hidden = 6144;
  m.heads = 48;
  m.ffn_hidden = 16384;
  m.expert_ffn_hidden = 16384;
  return m;
}

// Qwen3-30B-A3B (config.json of Qwen/Qwen3-30B-A3B): 48 layers all MoE, hidden 2048, 32 heads
// with 4 KV heads of 128 (each head's query and key RMS-normed: q_norm, k_norm), 128 SwiGLU experts
// of 768, top-8, no shared expert, vocabulary 151936, untied embeddings.
MoeModel qwen3_30b_a3b() {
  MoeModel m;
  m.preset = "qwen3-30b-a3b";
  m.layers = 48;
  m.first_moe_layer = 0;
  m.moe_every = 1;
  m.hidden = 2048;
  m.heads = 32;
  m.kv_heads = 4;
  m.head_dim = 128;
  m.qk_norm = true;
  m.ffn_hidden = 6144;
  m.expert_ffn_hidden = 768;
  m.experts = 128;
  m.top_k = 8;
  m.vocab = 151936;
  m.tied_embeddings = false;
  m.gated_ffn = true;
  return m;
}

// Qwen3-235B-A22B (config.json of Qwen/Qwen3-235B-A22B): 94 layers, hidden 4096, 64 heads with 4
// KV heads of 128, 128 experts of 1536, top-8.
MoeModel qwen3_235b_a22b() {
  MoeModel m = qwen3_30b_a3b();
  m.preset = "qwen3-235b-a22b";
  m.layers = 94;
  m.hidden = 4096;
  m.heads = 64;
  m.ffn_hidden = 12288;
  m.expert_ffn_hidden = 1536;
  return m;
}

// gpt-oss-120b (config.json of openai/gpt-oss-120b): 36 layers all MoE, hidden 2880, 64 heads with
// 8 KV heads of 64, every other layer (from the first) on a 128-token sliding window, 128 SwiGLU
// experts of 2880 (their halves clamped at 7, and biased), top-4, vocabulary 201088, untied
// embeddings. The attention's biases and sinks and MXFP4 weights (an inference format) are left out.
MoeModel gpt_oss_120b() {
  MoeModel m;
  m.preset = "gpt-oss-120b";
  m.layers = 36;
  m.first_moe_layer = 0;
  m.moe_every = 1;
  m.hidden = 2880;
  m.heads = 64;
  m.kv_heads = 8;
  m.head_dim = 64;
  m.sliding_window = 128;
  m.ffn_hidden = 2880;
  m.expert_ffn_hidden = 2880;
  m.experts = 128;
  m.top_k = 4;
  m.vocab = 201088;
  m.tied_embeddings = false;
  m.gated_ffn = true;
  m.glu_clamp = 7;  // swiglu_limit
  m.expert_bias = true;
  return m;
}

// gpt-oss-20b (config.json of openai/gpt-oss-20b): gpt-oss-120b's layers, 24 of them, each with 32
// experts.
MoeModel gpt_oss_20b() {
  MoeModel m = gpt_oss_120b();
  m.preset = "gpt-oss-20b";
  m.layers = 24;
  m.experts = 32;
  return m;
}

// DeepSeek-V3 (arXiv 2412.19437; config.json of deepseek-ai/DeepSeek-V3): 61 layers, the first 3
// dense (FFN 18432), then MoE with 256 routed + 1 shared SwiGLU experts of 2048, top-8 limited to
// 4 of 8 expert groups; hidden 7168; MLA with 128 heads (query rank 1536, key-value rank 512,
// 128 + 64 rotary query/key dimensions, 128 value dimensions); vocabulary 129280, untied; FP8;
// one multi-token prediction module (num_nextn_predict_layers), as it was trained.
MoeModel deepseek_v3() {
  MoeModel m;
  m.preset = "deepseek-v3";
  m.layers = 61;
  m.mtp_layers = 1;
  m.first_moe_layer = 3;
  m.moe_every = 1;
  m.hidden = 7168;
  m.heads = 128;
  m.kv_heads = 128;
  m.attention = Attention::kMla;
  m.ffn_hidden = 18432;
  m.expert_ffn_hidden = 2048;
  m.experts = 256;
  m.shared_experts = 1;
  m.top_k = 8;
  m.expert_groups = 8;
  m.topk_groups = 4;
  m.vocab = 129280;
  m.tied_embeddings = false;
  m.gated_ffn = true;
  m.dtype = Dtype::kFp8;
  m.fp8_recipe = Fp8Recipe::kBlockwise;  // 1x128 activation tiles, 128x128 weight blocks (arXiv 2412.19437)
  return m;
}

// Kimi K2 (config.json of moonshotai/Kimi-K2-Base): DeepSeek-V3's architecture with 64 heads, 384
// routed experts and one dense layer; MLA as DeepSeek-V3's; vocabulary 163840, untied; no
// multi-token prediction module. Trained in BF16 here (the released FP8 weights are an inference
// format).
MoeModel kimi_k2() {
  MoeModel m = deepseek_v3();
  m.preset = "kimi-k2";
  m.mtp_layers = 0;
  m.first_moe_layer = 1;
  m.heads = 64;
  m.kv_heads = 64;
  m.experts = 384;
  m.expert_groups = 1;
  m.topk_groups = 1;
  m.vocab = 163840;
  m.dtype = Dtype::kBf16;
  m.fp8_recipe = MoeModel{}.fp8_recipe;
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
    {"mixtral-8x22b", "56 MoE layers, hidden 6144, 8 SwiGLU experts, top-2, GQA 48/8", mixtral_8x22b},
    {"qwen3-30b-a3b", "48 MoE layers, hidden 2048, 128 experts of 768, top-8, GQA 32/4 with query-key norm", qwen3_30b_a3b},
    {"qwen3-235b-a22b", "94 MoE layers, hidden 4096, 128 experts of 1536, top-8, GQA 64/4 with query-key norm", qwen3_235b_a22b},
    {"gpt-oss-20b", "24 MoE layers, hidden 2880, 32 experts, top-4, GQA 64/8, 128-token window on alternate layers", gpt_oss_20b},
    {"gpt-oss-120b", "36 MoE layers, hidden 2880, 128 experts, top-4, GQA 64/8, 128-token window on alternate layers", gpt_oss_120b},
    {"kimi-k2", "61 layers (60 MoE), MLA with 64 heads, 384 routed + 1 shared expert, top-8", kimi_k2},
    {"deepseek-v3", "61 layers (58 MoE) and one MTP module, MLA, 256 routed + 1 shared expert, top-8 in 4 of 8 groups, FP8", deepseek_v3},
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
