// An MoE transformer as plain numbers, and what it costs in FLOPs and bytes.
//
// Layer l is an MoE layer when l >= first_moe_layer and (l - first_moe_layer) % moe_every == 0;
// the others have a dense FFN. Attention is multi-head or grouped-query (kv_heads < heads), or
// DeepSeek's multi-head latent attention (MLA: low-rank query and key-value projections, and
// decoupled RoPE dimensions shared by all heads).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "sim/base/units.h"

namespace moesim::models {

enum class Dtype { kBf16, kFp8 };
const char* to_string(Dtype d);
inline double bytes_per_element(Dtype d) { return d == Dtype::kFp8 ? 1.0 : 2.0; }

// How an FP8 GEMM's operands are scaled, which sets what quantizing them costs (fp8_quantization).
// tensorwise: one scale per tensor from its current maximum (Transformer Engine's
// Float8CurrentScaling, Megatron's --fp8-recipe tensorwise); delayed: from the maxima of earlier
// steps (DelayedScaling); blockwise: per 1x128 tile of activations and 128x128 block of weights
// (DeepSeek-V3, Float8BlockScaling).
enum class Fp8Recipe { kTensorwise, kDelayed, kBlockwise };
const char* to_string(Fp8Recipe r);

enum class Attention { kGqa, kMla };
const char* to_string(Attention a);

// DeepSeek-V2/V3's multi-head latent attention: queries through a rank-q_lora_rank bottleneck
// (none when 0), keys and values through a shared rank-kv_lora_rank latent; each head's query and
// key have qk_nope_head_dim dimensions plus qk_rope_head_dim rotary ones (the rotary key is shared
// by all heads); values have v_head_dim.
struct MlaSpec {
  int q_lora_rank = 1536;
  int kv_lora_rank = 512;
  int qk_nope_head_dim = 128;
  int qk_rope_head_dim = 64;
  int v_head_dim = 128;
};

struct MoeModel {
  std::string preset;
  // Where a model read from a Hugging Face config.json came from, and the config's fields it
  // does not model (scenarios/loader/hf_config.h); both empty for a preset.
  std::string config;
  std::vector<std::string> config_unmodelled;
  int layers = 12;
  // Multi-token prediction (DeepSeek-V3; Megatron's mtp_num_layers): after the last layer, each
  // module norms the hidden state and the embedding of the token one further ahead, projects the
  // two concatenated (2·hidden -> hidden), runs one more transformer layer (MoE where the last
  // layer is) and predicts through the shared LM head, with a loss of its own. Its layers are
  // numbered from `layers` on and run on the last pipeline stage.
  int mtp_layers = 0;
  int first_moe_layer = 1;
  int moe_every = 2;
  int hidden = 768;
  int heads = 12;
  int kv_heads = 12;
  int head_dim = 0;  // per head, GQA; 0: hidden / heads
  Attention attention = Attention::kGqa;
  MlaSpec mla;
  // Every other layer, from layer 0, attends only to the last sliding_window tokens (gpt-oss);
  // 0: every layer attends to the whole causal prefix.
  int sliding_window = 0;
  // An RMSNorm on each head's query and key, after the QKV projection and before the rotary
  // embedding (Qwen3; Megatron's qk_layernorm). Multi-head and grouped-query attention only.
  bool qk_norm = false;
  int ffn_hidden = 3072;         // dense FFN layers
  int expert_ffn_hidden = 3072;  // each routed or shared expert
  int experts = 16;              // routed experts per MoE layer
  int shared_experts = 0;        // always-active experts, computed where the token is
  int top_k = 1;
  int vocab = 50257;
  bool tied_embeddings = true;  // the LM head reuses the embedding matrix
  // Group-limited routing (DeepSeek-V3): the experts form expert_groups groups; a token picks its
  // top-k experts among the topk_groups groups of highest score. 1 and 1: no limit. Applied by the
  // sources that route tokens (learned, balanced; models/gating/README.md).
  int expert_groups = 1;
  int topk_groups = 1;
  double capacity_factor = 1.25;
  Dtype dtype = Dtype::kBf16;  // GEMM precision (activations between GEMMs stay BF16)
  Fp8Recipe fp8_recipe = Fp8Recipe::kTensorwise;
  bool gated_ffn = false;  // SwiGLU: three weight matrices instead of two
  // A gated FFN's two halves clamped before the activation, the gate's from above and the linear
  // half's both ways, at this value (gpt-oss's swiglu_limit, 7); 0: no clamp. What it costs is the
  // framework's (StepConfig::glu_clamps_apart): Megatron (weighted_bias_quick_geglu_impl) clamps
  // each half and concatenates them again in kernels of their own before its fused activation;
  // a compiled activation (AutoModel's torch.compile'd one) clamps inside it, for nothing more.
  double glu_clamp = 0;
  bool clamps_glu() const { return gated_ffn && glu_clamp > 0; }
  // The experts' GEMMs add a bias (gpt-oss). Where it is added is the framework's
  // (StepConfig::expert_bias_apart): in the grouped GEMM's epilogue it costs nothing apart.
  bool expert_bias = false;
  // Bytes per parameter besides the BF16 weight itself: a BF16 gradient (2) + FP32 master
  // weight and two Adam moments (12).
  double grad_bytes_per_param = 2;
  double optimizer_bytes_per_param = 12;

  // The preset's name, or the config's path for a model read from one.
  const std::string& name() const { return preset.empty() ? config : preset; }
  // Every layer a token passes: the model's, then the prediction modules'.
  int transformer_layers() const { return layers + mtp_layers; }
  bool is_mtp_layer(int layer) const { return layer >= layers; }
  // A prediction module's layer is built as the last layer is (Megatron).
  bool is_moe_layer(int layer) const {
    const int l = std::min(layer, layers - 1);
    return l >= first_moe_layer && (l - first_moe_layer) % moe_every == 0;
  }
  int moe_layer_count() const;
  std::vector<int> moe_layer_indices() const;
  int ffn_matrices() const { return gated_ffn ? 3 : 2; }
  // A GEMM input's bytes per element (an FP8 GEMM reads FP8 inputs, which the backward pass
  // keeps); GEMM outputs and the activations between GEMMs are BF16 either way.
  double gemm_input_bytes() const { return bytes_per_element(dtype); }
  static constexpr double kWeightBytes = 2.0;  // weights are kept in BF16
  int gqa_head_dim() const { return head_dim > 0 ? head_dim : hidden / heads; }
  int query_dim() const;      // all heads' query (and key) width
  int value_dim() const;      // all heads' value (and attention output) width
  int key_value_dim() const;  // what one token's keys and values take together in the KV cache
};

// Forward FLOPs per token (backward is taken as 2x forward by the step builder).
struct TokenFlops {
  Flops attention_projections;
  Flops attention_core;  // QK^T and AV, causal, averaged over layers (sliding windows included), FlashAttention's count
  Flops dense_ffn;
  Flops gate;
  Flops expert;          // one routed expert, one token
  Flops shared_experts;  // all shared experts, one token
  Flops lm_head;
  Flops mtp_projection;  // a prediction module's projection of the hidden state and the next embedding
};
TokenFlops token_flops(const MoeModel& m, int seq_len);

// HBM traffic per token of the memory-bound kernels around the GEMMs, forward (backward: about
// twice): RMSNorms, rotary embeddings, residual adds, the FFN activation, the router's softmax and
// top-k, the permute and unpermute of dispatched tokens. All in BF16, FP8 GEMMs or not: FP8
// training quantizes a GEMM's operands, not the activations between GEMMs (fp8_quantization).
struct ElementwiseBytes {
  Bytes attention;         // per token and layer: norm, rotary, residual
  Bytes qk_norm;           // per token and layer: the query and key norms (two kernels), zero without them
  Bytes dense_ffn;         // per token and dense layer: norm, activation, residual
  Bytes router;            // per token and MoE layer: norm, router softmax and top-k, residual
  Bytes expert;            // per routed (token, expert) pair: permute, activation, unpermute
  int expert_kernels = 3;  // the kernels that move `expert`, forward
  Bytes mtp;               // per token and prediction module: its two input norms, the concatenation, its final norm
  Bytes final_norm;        // per token: the model's final norm, before the LM head
};
// `glu_clamps_apart`: a clamped GLU's clamps run as kernels of their own (MoeModel::glu_clamp).
ElementwiseBytes elementwise_bytes(const MoeModel& m, bool glu_clamps_apart);

// What quantizing one BF16 tensor for FP8 GEMMs costs, per element and in kernels: read it,
// write its two FP8 layouts (row-wise for one GEMM, column-wise for the weight gradient's, as
// Hopper's FP8 GEMMs take only one), and for the tensorwise recipe first read it whole for its
// maximum. Zero for a BF16 model. The step builder applies it to each GEMM's input (forward) and
// output gradient (backward).
struct Fp8Quantization {
  double bytes_per_element = 0;
  int kernels_per_tensor = 0;
};
Fp8Quantization fp8_quantization(const MoeModel& m);

// Training FLOPs per token of the model as the frameworks count "model TFLOP/s" (Megatron's
// num_floating_point_operations, without recomputation): 3 x the forward FLOPs (backward = 2x
// forward) of every GEMM a token passes (attention projections, dense FFNs, router, its top-k
// routed experts and the shared ones, LM head; a prediction module's projection, layer and LM
// head pass) plus the causal attention core.
Flops training_flops_per_token(const MoeModel& m, int seq_len);

// Parameter counts.
struct ParamCounts {
  double attention_per_layer = 0;
  double dense_ffn_per_layer = 0;
  double gate_per_moe_layer = 0;
  double expert = 0;  // one routed expert
  double shared_per_moe_layer = 0;
  double embedding = 0;  // the input embedding; the LM head is as large again unless tied
  double lm_head = 0;
  double mtp_projection = 0;  // per prediction module, besides its layer
  // Everything replicated on every data-parallel rank (all but routed experts).
  double dense_total = 0;
  double total = 0;
};
ParamCounts param_counts(const MoeModel& m);
// One layer's parameters besides its routed experts: attention, and the dense FFN or the router and
// shared experts, and a prediction module's projection.
double layer_dense_params(const MoeModel& m, const ParamCounts& params, int layer);

// Bytes of weights, gradients and optimizer state of one routed expert (what a migration moves).
Bytes expert_state_bytes(const MoeModel& m);

}  // namespace moesim::models
