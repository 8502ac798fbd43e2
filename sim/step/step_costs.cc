#include "sim/step/step_costs.h"

#include <numeric>

#include "sim/step/compute_model.h"

namespace moesim {
namespace {

KernelWork scaled(KernelWork w, double k) { return KernelWork{w.flops * k, w.bytes * k, w.rows}; }

void layout_groups(StepCosts& c) {
  c.ep_groups.resize(c.groups);
  for (int g = 0; g < c.groups; ++g) {
    for (int r = 0; r < c.ep; ++r) c.ep_groups[g].push_back(g * c.ep + r);
  }
  c.edp_groups.resize(c.ep);
  for (int r = 0; r < c.ep; ++r) {
    for (int g = 0; g < c.groups; ++g) c.edp_groups[r].push_back(g * c.ep + r);
  }
}

}  // namespace

StepCosts step_costs(const StepConfig& s, network::NetworkModel& network) {
  StepCosts c;
  const auto& m = s.model;
  const auto& gpu = s.cluster.gpu;
  c.gpus = s.cluster.gpu_count();
  c.ep = s.ep;
  c.groups = s.dp / s.ep;
  const auto params = models::param_counts(m);
  const auto flops = models::token_flops(m, s.seq_len);
  const double rows = static_cast<double>(s.tokens_per_rank);
  const double act = m.activation_bytes();
  const double w = models::MoeModel::kWeightBytes;
  const double h = m.hidden;

  c.expert_params = params.expert;
  c.expert_flops_per_token = flops.expert.count();
  c.layer_to_moe.assign(m.layers, -1);
  int moe = 0;
  for (int l = 0; l < m.layers; ++l) {
    if (m.is_moe_layer(l)) c.layer_to_moe[l] = moe++;
  }

  auto time = [&](Flops f, double weight_params, double activations_per_row) {
    return kernel_time(gpu, m.dtype, KernelWork{f * rows, Bytes(weight_params * w + rows * activations_per_row * act), rows});
  };
  c.attention_fwd = time(flops.attention_projections + flops.attention_core, params.attention_per_layer, 6 * h);
  c.dense_ffn_fwd = time(flops.dense_ffn, params.dense_ffn_per_layer, 2 * h + 2.0 * m.ffn_hidden);
  c.gate_fwd = time(flops.gate, params.gate_per_moe_layer, h + m.experts);
  c.shared_fwd = m.shared_experts > 0
                     ? time(flops.shared_experts, params.shared_per_moe_layer, m.shared_experts * (2 * h + 2.0 * m.expert_ffn_hidden))
                     : Duration();
  // Forward and backward of the LM head (tied embedding): 3x the forward work.
  c.lm_head = kernel_time(gpu, m.dtype,
                          scaled(KernelWork{flops.lm_head * rows, Bytes(params.embedding * w + rows * (h + m.vocab) * act), rows}, 3));

  // Adam reads weight, gradient, master weight and moments and writes all but the gradient.
  const int experts_per_gpu = m.experts / c.ep + s.spare_slots;
  const double local_params = params.dense_total + static_cast<double>(experts_per_gpu) * m.moe_layer_count() * params.expert;
  const double state_per_param = models::MoeModel::kWeightBytes + m.grad_bytes_per_param + m.optimizer_bytes_per_param;
  c.optimizer = streaming_time(gpu, Bytes(local_params * (2 * state_per_param - m.grad_bytes_per_param)));
  c.expert_state_bytes = params.expert * state_per_param;

  layout_groups(c);
  std::vector<int> all(c.gpus);
  std::iota(all.begin(), all.end(), 0);
  c.dense_grad_bytes.resize(m.layers);
  for (int l = 0; l < m.layers; ++l) {
    double p = params.attention_per_layer +
               (m.is_moe_layer(l) ? params.gate_per_moe_layer + params.shared_per_moe_layer : params.dense_ffn_per_layer);
    if (l == 0) p += params.embedding;
    c.dense_grad_bytes[l] = p * m.grad_bytes_per_param;
    c.dense_grad.push_back(network.all_reduce(all, Bytes(c.dense_grad_bytes[l])));
  }
  c.expert_grad_bytes = experts_per_gpu * params.expert * m.grad_bytes_per_param;
  for (int r = 0; r < c.ep; ++r) c.expert_grad.push_back(network.all_reduce(c.edp_groups[r], Bytes(c.expert_grad_bytes)));
  return c;
}

policies::PlacementCosts placement_costs(const StepConfig& s, const StepCosts& costs) {
  const auto& m = s.model;
  const double rows = static_cast<double>(s.tokens_per_rank) * s.ep * m.top_k;
  const double row_bytes = (2.0 * m.hidden + 2.0 * m.expert_ffn_hidden) * m.activation_bytes();
  const Duration compute = kernel_time(s.cluster.gpu, m.dtype,
                                       KernelWork{Flops(rows * costs.expert_flops_per_token),
                                                  Bytes(costs.expert_params * models::MoeModel::kWeightBytes + rows * row_bytes), rows});
  const auto& c = s.cluster;
  const bool crosses_nodes = s.ep > c.gpus_per_node;
  const double link = (crosses_nodes ? c.nic.link : c.intra_node.link).effective().bytes_per_second();
  const double token_bytes = m.hidden * m.activation_bytes();
  const double a2a = 4 * rows * token_bytes / link;
  // A token whose experts share a GPU is sent there once, in each of the four all-to-alls.
  const double kept = 4 * static_cast<double>(s.tokens_per_rank) * token_bytes / link;
  return {3 * compute.seconds() + a2a, costs.expert_state_bytes / link, kept};
}

}  // namespace moesim
