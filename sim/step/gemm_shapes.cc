#include "sim/step/gemm_shapes.h"

namespace moesim {
namespace {

// An FFN of width `ffn`: the gate and up projections as one GEMM (column-parallel), then down.
std::vector<GemmShape> ffn_gemms(const models::MoeModel& m, double ffn, int tp) {
  const double h = m.hidden;
  return {GemmShape{(m.ffn_matrices() - 1.0) * ffn / tp, h}, GemmShape{h, ffn / tp}};
}

std::vector<GemmShape> attention_gemms(const models::MoeModel& m, int tp) {
  const double h = m.hidden;
  const GemmShape output{h, static_cast<double>(m.value_dim()) / tp};
  if (m.attention != models::Attention::kMla) {
    const double kv = 2.0 * m.kv_heads * m.gqa_head_dim();
    return {GemmShape{(m.query_dim() + kv) / tp, h}, output};
  }
  const models::MlaSpec& a = m.mla;
  std::vector<GemmShape> gemms;
  const double query = static_cast<double>(m.query_dim()) / tp;
  if (a.q_lora_rank > 0) {
    gemms.push_back(GemmShape{static_cast<double>(a.q_lora_rank), h});
    gemms.push_back(GemmShape{query, static_cast<double>(a.q_lora_rank)});
  } else {
    gemms.push_back(GemmShape{query, h});
  }
  gemms.push_back(GemmShape{static_cast<double>(a.kv_lora_rank + a.qk_rope_head_dim), h});
  const double key_value = static_cast<double>(m.heads) * (a.qk_nope_head_dim + a.v_head_dim) / tp;
  gemms.push_back(GemmShape{key_value, static_cast<double>(a.kv_lora_rank)});
  gemms.push_back(output);
  return gemms;
}

}  // namespace

LayerGemms layer_gemms(const models::MoeModel& m, int tp, int etp) {
  LayerGemms g;
  g.attention = attention_gemms(m, tp);
  if (m.attention == models::Attention::kMla) {
    // The attention GEMMs whose input is a latent: the query's up-projection (or its projection
    // from the hidden state, without a query latent) and the key-value up-projection.
    g.mla_up_projection = {g.attention[m.mla.q_lora_rank > 0 ? 1 : 0], g.attention[g.attention.size() - 2]};
  }
  g.dense_ffn = ffn_gemms(m, m.ffn_hidden, tp);
  if (m.shared_experts > 0) g.shared_experts = ffn_gemms(m, static_cast<double>(m.shared_experts) * m.expert_ffn_hidden, tp);
  g.expert = ffn_gemms(m, m.expert_ffn_hidden, etp);
  g.gate = GemmShape{static_cast<double>(m.experts), static_cast<double>(m.hidden)};
  g.lm_head = GemmShape{static_cast<double>(m.vocab) / tp, static_cast<double>(m.hidden)};
  g.mtp_projection = GemmShape{static_cast<double>(m.hidden) / tp, 2.0 * m.hidden};
  return g;
}

GemmTraffic gemm_traffic(std::span<const GemmShape> gemms, models::Dtype dtype) {
  const double operand = models::bytes_per_element(dtype), output = models::bytes_per_element(models::Dtype::kBf16);
  GemmTraffic t;
  for (const GemmShape& g : gemms) {
    t.weight_bytes += g.cols * g.depth * operand;
    t.bytes_per_row += g.depth * operand + g.cols * output;
  }
  return t;
}

double quantized_elements(std::span<const GemmShape> gemms, bool backward) {
  double elements = 0;
  for (const GemmShape& g : gemms) elements += backward ? g.cols : g.depth;
  return elements;
}

}  // namespace moesim
