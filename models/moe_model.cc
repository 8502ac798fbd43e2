#include "models/moe_model.h"

namespace moesim::models {

const char* to_string(Dtype d) { return d == Dtype::kFp8 ? "fp8" : "bf16"; }

int MoeModel::moe_layer_count() const { return static_cast<int>(moe_layer_indices().size()); }

std::vector<int> MoeModel::moe_layer_indices() const {
  std::vector<int> out;
  for (int l = 0; l < layers; ++l) {
    if (is_moe_layer(l)) out.push_back(l);
  }
  return out;
}

TokenFlops token_flops(const MoeModel& m, int seq_len) {
  const ParamCounts p = param_counts(m);
  TokenFlops f;
  // A GEMM costs 2 FLOPs per weight per token.
  f.attention_projections = Flops(2.0 * p.attention_per_layer);
  // Scores and weighted sum: 2 * seq * hidden each; causal masking halves the useful work.
  f.attention_core = Flops(2.0 * 2.0 * seq_len * m.hidden * 0.5);
  f.dense_ffn = Flops(2.0 * p.dense_ffn_per_layer);
  f.gate = Flops(2.0 * p.gate_per_moe_layer);
  f.expert = Flops(2.0 * p.expert);
  f.shared_experts = Flops(2.0 * p.shared_per_moe_layer);
  f.lm_head = Flops(2.0 * p.embedding);
  return f;
}

ParamCounts param_counts(const MoeModel& m) {
  ParamCounts p;
  const double h = m.hidden;
  const double kv = static_cast<double>(m.kv_heads) * m.head_dim();
  p.attention_per_layer = h * (h + 2 * kv) + h * h;
  p.dense_ffn_per_layer = m.ffn_matrices() * h * m.ffn_hidden;
  p.gate_per_moe_layer = h * m.experts;
  p.expert = m.ffn_matrices() * h * m.expert_ffn_hidden;
  p.shared_per_moe_layer = m.shared_experts * p.expert;
  p.embedding = static_cast<double>(m.vocab) * h;
  const int moe = m.moe_layer_count();
  const int dense = m.layers - moe;
  p.dense_total = m.layers * p.attention_per_layer + dense * p.dense_ffn_per_layer + moe * (p.gate_per_moe_layer + p.shared_per_moe_layer) +
                  p.embedding;
  p.total = p.dense_total + moe * m.experts * p.expert;
  return p;
}

Bytes expert_state_bytes(const MoeModel& m) {
  const double per_param = MoeModel::kWeightBytes + m.grad_bytes_per_param + m.optimizer_bytes_per_param;
  return Bytes(param_counts(m).expert * per_param);
}

}  // namespace moesim::models
