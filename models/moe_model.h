// An MoE transformer as plain numbers, and what it costs in FLOPs and bytes.
//
// Layer l is an MoE layer when l >= first_moe_layer and (l - first_moe_layer) % moe_every == 0;
// the others have a dense FFN. Attention is modelled as multi-head / grouped-query attention
// (DeepSeek's MLA is approximated by MHA of the same hidden size: within ~10 % of its parameters).
#pragma once

#include <string>
#include <vector>

#include "sim/base/units.h"

namespace moesim::models {

enum class Dtype { kBf16, kFp8 };
const char* to_string(Dtype d);

struct MoeModel {
  std::string preset;
  int layers = 12;
  int first_moe_layer = 1;
  int moe_every = 2;
  int hidden = 768;
  int heads = 12;
  int kv_heads = 12;
  int ffn_hidden = 3072;         // dense FFN layers
  int expert_ffn_hidden = 3072;  // each routed or shared expert
  int experts = 16;              // routed experts per MoE layer
  int shared_experts = 0;        // always-active experts, computed where the token is
  int top_k = 1;
  int vocab = 50257;
  double capacity_factor = 1.25;
  Dtype dtype = Dtype::kBf16;  // activations and GEMM precision
  bool gated_ffn = false;      // SwiGLU: three weight matrices instead of two
  // Bytes per parameter besides the BF16 weight itself: a BF16 gradient (2) + FP32 master
  // weight and two Adam moments (12).
  double grad_bytes_per_param = 2;
  double optimizer_bytes_per_param = 12;

  bool is_moe_layer(int layer) const { return layer >= first_moe_layer && (layer - first_moe_layer) % moe_every == 0; }
  int moe_layer_count() const;
  std::vector<int> moe_layer_indices() const;
  int ffn_matrices() const { return gated_ffn ? 3 : 2; }
  double activation_bytes() const { return dtype == Dtype::kFp8 ? 1.0 : 2.0; }
  static constexpr double kWeightBytes = 2.0;  // weights are kept in BF16
  int head_dim() const { return hidden / heads; }
};

// Forward FLOPs per token (backward is taken as 2x forward by the step builder).
struct TokenFlops {
  Flops attention_projections;
  Flops attention_core;  // QK^T and AV for causal attention at this sequence length
  Flops dense_ffn;
  Flops gate;
  Flops expert;          // one routed expert, one token
  Flops shared_experts;  // all shared experts, one token
  Flops lm_head;
};
TokenFlops token_flops(const MoeModel& m, int seq_len);

// Parameter counts.
struct ParamCounts {
  double attention_per_layer = 0;
  double dense_ffn_per_layer = 0;
  double gate_per_moe_layer = 0;
  double expert = 0;  // one routed expert
  double shared_per_moe_layer = 0;
  double embedding = 0;
  // Everything replicated on every data-parallel rank (all but routed experts).
  double dense_total = 0;
  double total = 0;
};
ParamCounts param_counts(const MoeModel& m);

// Bytes of weights, gradients and optimizer state of one routed expert (what a migration moves).
Bytes expert_state_bytes(const MoeModel& m);

}  // namespace moesim::models
