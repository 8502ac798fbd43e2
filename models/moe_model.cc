#include "models/moe_model.h"

#include <algorithm>

namespace moesim::models {

const char* to_string(Dtype d) { return d == Dtype::kFp8 ? "fp8" : "bf16"; }
const char* to_string(Attention a) { return a == Attention::kMla ? "mla" : "gqa"; }
const char* to_string(Fp8Recipe r) {
  switch (r) {
    case Fp8Recipe::kTensorwise: return "tensorwise";
    case Fp8Recipe::kDelayed: return "delayed";
    case Fp8Recipe::kBlockwise: return "blockwise";
  }
  return "?";
}

int MoeModel::query_dim() const {
  return attention == Attention::kMla ? heads * (mla.qk_nope_head_dim + mla.qk_rope_head_dim) : heads * gqa_head_dim();
}
int MoeModel::value_dim() const { return attention == Attention::kMla ? heads * mla.v_head_dim : heads * gqa_head_dim(); }
int MoeModel::key_value_dim() const {
  // MLA trains with the up-projected keys and values (the latent cache is an inference trick).
  return attention == Attention::kMla ? query_dim() + value_dim() : 2 * kv_heads * gqa_head_dim();
}

int MoeModel::moe_layer_count() const { return static_cast<int>(moe_layer_indices().size()); }

std::vector<int> MoeModel::moe_layer_indices() const {
  std::vector<int> out;
  for (int l = 0; l < transformer_layers(); ++l) {
    if (is_moe_layer(l)) out.push_back(l);
  }
  return out;
}

TokenFlops token_flops(const MoeModel& m, int seq_len) {
  const ParamCounts p = param_counts(m);
  TokenFlops f;
  // A GEMM costs 2 FLOPs per weight per token.
  f.attention_projections = Flops(2.0 * p.attention_per_layer);
  // Scores (2 * query_dim per key) and weighted sum (2 * value_dim per key), over the keys a causal
  // query sees on average: half the sequence, or the window where it is shorter.
  const double full = seq_len * 0.5;
  const double windowed = m.sliding_window > 0 ? std::min<double>(m.sliding_window, full) : full;
  const double windowed_layers = m.sliding_window > 0 ? (m.layers + 1) / 2 : 0;
  const double keys = (windowed * windowed_layers + full * (m.layers - windowed_layers)) / m.layers;
  f.attention_core = Flops(2.0 * (m.query_dim() + m.value_dim()) * keys);
  f.dense_ffn = Flops(2.0 * p.dense_ffn_per_layer);
  f.gate = Flops(2.0 * p.gate_per_moe_layer);
  f.expert = Flops(2.0 * p.expert);
  f.shared_experts = Flops(2.0 * p.shared_per_moe_layer);
  f.lm_head = Flops(2.0 * static_cast<double>(m.vocab) * m.hidden);
  f.mtp_projection = Flops(2.0 * p.mtp_projection);
  return f;
}

ParamCounts param_counts(const MoeModel& m) {
  ParamCounts p;
  const double h = m.hidden;
  if (m.attention == Attention::kMla) {
    const MlaSpec& a = m.mla;
    const double q_head = a.qk_nope_head_dim + a.qk_rope_head_dim;
    const double q = a.q_lora_rank > 0 ? h * a.q_lora_rank + static_cast<double>(a.q_lora_rank) * m.heads * q_head : h * m.heads * q_head;
    const double kv =
        h * (a.kv_lora_rank + a.qk_rope_head_dim) + static_cast<double>(a.kv_lora_rank) * m.heads * (a.qk_nope_head_dim + a.v_head_dim);
    p.attention_per_layer = q + kv + static_cast<double>(m.value_dim()) * h;
  } else {
    const double kv = static_cast<double>(m.kv_heads) * m.gqa_head_dim();
    p.attention_per_layer = h * (m.query_dim() + 2 * kv) + static_cast<double>(m.value_dim()) * h;
  }
  p.dense_ffn_per_layer = m.ffn_matrices() * h * m.ffn_hidden;
  p.gate_per_moe_layer = h * m.experts;
  p.expert = m.ffn_matrices() * h * m.expert_ffn_hidden;
  p.shared_per_moe_layer = m.shared_experts * p.expert;
  p.embedding = static_cast<double>(m.vocab) * h;
  p.lm_head = m.tied_embeddings ? 0 : p.embedding;
  p.mtp_projection = 2 * h * h;
  const int moe = m.moe_layer_count();
  const int dense = m.transformer_layers() - moe;
  p.dense_total = m.transformer_layers() * p.attention_per_layer + dense * p.dense_ffn_per_layer +
                  moe * (p.gate_per_moe_layer + p.shared_per_moe_layer) + m.mtp_layers * p.mtp_projection + p.embedding + p.lm_head;
  p.total = p.dense_total + moe * m.experts * p.expert;
  return p;
}

double layer_dense_params(const MoeModel& m, const ParamCounts& params, int layer) {
  return params.attention_per_layer + (m.is_mtp_layer(layer) ? params.mtp_projection : 0.0) +
         (m.is_moe_layer(layer) ? params.gate_per_moe_layer + params.shared_per_moe_layer : params.dense_ffn_per_layer);
}

Flops training_flops_per_token(const MoeModel& m, int seq_len) {
  const TokenFlops f = token_flops(m, seq_len);
  const double moe = m.moe_layer_count(), layers = m.transformer_layers(), dense = layers - moe, mtp = m.mtp_layers;
  const Flops forward = (f.attention_projections + f.attention_core) * layers + f.dense_ffn * dense +
                        (f.gate + f.expert * static_cast<double>(m.top_k) + f.shared_experts) * moe + f.mtp_projection * mtp +
                        f.lm_head * (1 + mtp);
  return forward * 3.0;
}

ElementwiseBytes elementwise_bytes(const MoeModel& m, bool glu_clamps_apart) {
  const double a = 2.0, h = m.hidden;  // BF16
  const double norm = 2 * h * a, residual = 3 * h * a;
  ElementwiseBytes b;
  // Rotary embedding: the queries and keys read and written; so does a query-key norm.
  const double queries_keys = 2.0 * (m.query_dim() + m.key_value_dim() / 2.0) * a;
  b.attention = Bytes(norm + residual + queries_keys);
  if (m.qk_norm) b.qk_norm = Bytes(queries_keys);
  // A clamped GLU's clamps apart: forward, each half clamped (read and written) and the two
  // concatenated (4 widths); backward, each clamp's gradient (the gradient and the input read, the
  // result written) and the halves' gradients concatenated again (4): 18 widths in all, which as
  // forward bytes (the backward priced at twice the forward) are 6.
  const double clamp_widths = m.clamps_glu() && glu_clamps_apart ? 6.0 : 0.0;
  const double ffn_act = ((m.gated_ffn ? 3.0 : 2.0) + clamp_widths) * m.ffn_hidden * a;
  b.dense_ffn = Bytes(norm + residual + ffn_act);
  // Router logits in FP32, read by the softmax and again by the top-k.
  b.router = Bytes(norm + residual + 3.0 * 4 * m.experts);
  const double expert_act = ((m.gated_ffn ? 3.0 : 2.0) + clamp_widths) * m.expert_ffn_hidden * a;
  b.expert = Bytes(2 * 2 * h * a + expert_act);
  b.expert_kernels = clamp_widths > 0 ? 6 : 3;  // the two clamps and the concatenation
  // A prediction module: the hidden state and the next token's embedding each through a norm,
  // concatenated (read and written, 2·hidden wide), and its layer's output through a final norm.
  if (m.mtp_layers > 0) b.mtp = Bytes(3 * norm + 2 * 2 * h * a);
  b.final_norm = Bytes(norm);
  return b;
}

Fp8Quantization fp8_quantization(const MoeModel& m) {
  if (m.dtype != Dtype::kFp8) return {};
  // Transformer Engine's Float8CurrentScalingQuantizer runs compute_amax (a read of the tensor),
  // compute_scale_from_amax, then the cast; delayed scaling takes its scale from earlier steps'
  // maxima and blockwise scaling computes each tile's as the cast reads it: one kernel.
  const bool current = m.fp8_recipe == Fp8Recipe::kTensorwise;
  return {2.0 + 1.0 + 1.0 + (current ? 2.0 : 0.0), current ? 3 : 1};
}

Bytes expert_state_bytes(const MoeModel& m) {
  const double per_param = MoeModel::kWeightBytes + m.grad_bytes_per_param + m.optimizer_bytes_per_param;
  return Bytes(param_counts(m).expert * per_param);
}

}  // namespace moesim::models
