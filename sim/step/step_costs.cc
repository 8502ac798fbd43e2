#include "sim/step/step_costs.h"

#include <algorithm>

#include "sim/step/compute_model.h"
#include "sim/step/dispatch_cost.h"
#include "sim/step/dispatcher.h"
#include "sim/step/gemm_shapes.h"
#include "sim/step/grad_buckets.h"
#include "sim/step/memory_model.h"

namespace moesim {
namespace {

KernelWork scaled(KernelWork w, double k) { return KernelWork{w.flops * k, w.bytes * k, w.rows, w.width}; }

void layout_groups(StepCosts& c, const Parallelism& p) {
  c.ep_groups.resize(c.groups);
  for (int g = 0; g < c.groups; ++g) {
    for (int gpu : c.layout.ep_group(0, g)) c.ep_groups[g].push_back(c.layout.local_of(gpu));
  }
  c.edp_groups.resize(p.ep);
  for (int r = 0; r < p.ep; ++r) {
    for (int gpu : c.layout.expert_dp_group(0, r)) c.edp_groups[r].push_back(c.layout.local_of(gpu));
  }
}

// A ring all-gather or reduce-scatter of a `bytes` buffer: one pass round the ring.
network::CollectiveCost gather(network::NetworkModel& network, const std::vector<int>& gpus, double bytes) {
  return network.all_gather(gpus, Bytes(bytes));
}

// The parameters a GPU of `stage` updates: its share after ZeRO shards the optimizer state.
double updated_params(const StepConfig& s, int stage) {
  const auto& p = s.parallel;
  const StageParams held = stage_params(s, stage);
  return p.zero >= 1 ? held.dense / (p.dp * p.cp) + held.experts / p.expert_dp() : held.dense + held.experts;
}

// DeepSeek-V3's cache of the attention output: cast to E5M6 forward (BF16 read, 12 bits written)
// and back to BF16 backward, one kernel each way; nothing without it.
Duration attention_output_cast(const StepConfig& s, double rows) {
  if (!s.e5m6_attention_output) return Duration();
  const double per_row = (models::bytes_per_element(models::Dtype::kBf16) + StepConfig::kE5m6Bytes) * s.model.value_dim();
  return elementwise_time(s.cluster.gpu, Bytes(per_row * rows), 1);
}

// `f` FLOPs for each of a GPU's `rows` tokens, over the GEMMs `shapes` (shape_rows of them: under
// sequence parallelism each GPU's GEMMs take the TP group's gathered rows).
Duration gemm_time(const hardware::GpuSpec& gpu, models::Dtype dtype, Flops f, double rows, std::span<const GemmShape> shapes,
                   double shape_rows) {
  return kernel_time(gpu, dtype, KernelWork{f * rows, gemm_traffic(shapes, dtype).at(shape_rows), shape_rows, width_factor(gpu, shapes)});
}

// Quantizing a GPU's `rows` rows for the FP8 GEMMs `whole` (at their whole widths: a
// column-parallel GEMM's input before the sequence-parallel gather, a row-parallel one's in TP
// slices of all the rows): their inputs forward, their output gradients backward.
Duration fp8_cast_time(const hardware::GpuSpec& gpu, const models::MoeModel& m, double rows, std::span<const GemmShape> whole,
                       bool backward) {
  const models::Fp8Quantization fp8 = models::fp8_quantization(m);
  return elementwise_time(gpu, Bytes(fp8.bytes_per_element * rows * quantized_elements(whole, backward)),
                          fp8.kernels_per_tensor * static_cast<int>(whole.size()));
}

// What the loss moves through HBM per logit (token x vocabulary entry of the GPU's shard), forward
// and backward, and in how many kernels.
struct LossTraffic {
  double bytes_per_logit;
  int kernels;
};

LossTraffic loss_traffic(bool upcast) {
  // Megatron's VocabParallelCrossEntropy: forward the upcast (BF16 read, FP32 written), the
  // maximum (a read), its subtraction and the exponent in place (a read and a write each), the sum
  // (a read) and the normalisation in place (a read and a write); backward the product with the
  // output gradient in place and the cast back to BF16 for the LM head.
  if (upcast) return {(2 + 4) + 4 + 8 + 8 + 4 + 8 + 8 + (4 + 2), 9};
  // A fused kernel (Transformer Engine's): the BF16 logits read for their softmax's running
  // maximum and sum, read again for the loss with their gradient written in their place; backward
  // that gradient scaled in place.
  return {2 + (2 + 2) + (2 + 2), 3};
}

// FlashAttention's core per micro-batch. It is not a weight GEMM, and runs in BF16 at the fused
// kernel's own efficiency for its sequence length (the GPU's attention curve); it reads the
// queries, keys and values and writes the output. Its backward computes the scores again before
// its four products: 2.5 times the forward's FLOPs, as FlashAttention's own benchmarks count them,
// where a weight GEMM's backward is twice its forward.
struct CoreAttention {
  Duration forward, backward;
};

CoreAttention core_attention(const StepConfig& s, Flops per_token, double rows, double gemm_rows) {
  const auto& m = s.model;
  const double bytes = rows * 2.0 * (m.query_dim() + m.key_value_dim()) * models::bytes_per_element(models::Dtype::kBf16);
  const KernelWork work{per_token * rows, Bytes(bytes), gemm_rows};
  const auto& gpu = s.cluster.gpu;
  // Under context parallelism a rank's queries meet the sequence's keys in a ring of cp steps: its
  // own chunks under the causal mask, and cp - 1 blocks of other ranks' keys, which they see whole.
  // Each kernel covers the rank's share of the sequence.
  const double cp = s.parallel.cp, seq = static_cast<double>(s.seq_len) / cp;
  // MLA's heads are 192 wide for queries and keys and 128 for values: 128's curve.
  const double head_dim = m.attention == models::Attention::kMla ? 128.0 : m.gqa_head_dim();
  auto pass = [&](const KernelWork& w, bool backward) {
    const hardware::AttentionCurve& causal = attention_curve(gpu, backward, true);
    if (causal.efficiency <= 0 || cp == 1) return attention_time(gpu, w, seq, head_dim, causal);
    return attention_time(gpu, scaled(w, 1 / cp), seq, head_dim, causal) +
           attention_time(gpu, scaled(w, (cp - 1) / cp), seq, head_dim, attention_curve(gpu, backward, false));
  };
  return {pass(work, false), pass(scaled(work, 2.5), true)};
}

void compute_costs(const StepConfig& s, StepCosts& c) {
  const auto& m = s.model;
  const auto& gpu = s.cluster.gpu;
  const auto& p = s.parallel;
  const auto flops = models::token_flops(m, s.seq_len);
  const auto elementwise = models::elementwise_bytes(m, s.glu_clamps_apart);
  const double rows = c.rows, gemm_rows = rows * p.tp;  // TP splits the weights, not the tokens
  const LayerGemms gemms = layer_gemms(m, p.tp, p.etp);
  auto time = [&](models::Dtype dtype, Flops f, std::span<const GemmShape> shapes, double shape_rows) {
    return gemm_time(gpu, dtype, f, rows, shapes, shape_rows);
  };
  auto memory = [&](Bytes per_row, int kernels) { return elementwise_time(gpu, per_row * rows, kernels); };
  const LayerGemms whole = layer_gemms(m, 1, p.etp);
  auto quantize = [&](std::span<const GemmShape> shapes, bool backward) { return fp8_cast_time(gpu, m, rows, shapes, backward); };
  const CoreAttention core = core_attention(s, flops.attention_core, rows, gemm_rows);
  c.attention_wgrad = time(m.dtype, flops.attention_projections, gemms.attention, gemm_rows);
  const Duration attention = c.attention_wgrad + core.forward + memory(elementwise.attention, 4) + memory(elementwise.qk_norm, 2);
  const Duration output_cast = attention_output_cast(s, rows);
  c.attention_fwd = attention + quantize(whole.attention, false) + output_cast;
  c.attention_bwd = (attention - core.forward) * 2 + core.backward + quantize(whole.attention, true) + output_cast;
  c.dense_ffn_wgrad = time(m.dtype, flops.dense_ffn, gemms.dense_ffn, gemm_rows);
  const Duration dense_ffn = c.dense_ffn_wgrad + memory(elementwise.dense_ffn, 4);
  c.dense_ffn_fwd = dense_ffn + quantize(whole.dense_ffn, false);
  c.dense_ffn_bwd = dense_ffn * 2 + quantize(whole.dense_ffn, true);
  c.gate_wgrad = time(models::Dtype::kBf16, flops.gate, {&gemms.gate, 1}, rows);
  c.gate_fwd = c.gate_wgrad + memory(elementwise.router, 4);
  if (m.shared_experts > 0) {
    c.shared_wgrad = time(m.dtype, flops.shared_experts, gemms.shared_experts, gemm_rows);
    const Duration shared = c.shared_wgrad + memory(elementwise.expert * m.shared_experts, 2);
    c.shared_fwd = shared + quantize(whole.shared_experts, false);
    c.shared_bwd = shared * 2 + quantize(whole.shared_experts, true);
  }
  // Forward and backward of the LM head: 3x the forward work, vocabulary split over TP; then the
  // loss over each of the gathered rows' vocabulary shard.
  const LossTraffic loss = loss_traffic(s.loss_upcast);
  c.lm_head = kernel_time(gpu, models::Dtype::kBf16,
                          scaled(KernelWork{flops.lm_head * rows, gemm_traffic({&gemms.lm_head, 1}, models::Dtype::kBf16).at(gemm_rows),
                                            gemm_rows, width_factor(gpu, {&gemms.lm_head, 1})},
                                 3)) +
              elementwise_time(gpu, Bytes(loss.bytes_per_logit * gemm_rows * m.vocab / p.tp), loss.kernels);
  c.final_norm = memory(elementwise.final_norm, 1) * 3;  // backward twice the forward, as the layers' norms
  switch (p.recompute) {
    case Recompute::kNone: break;
    case Recompute::kSelective: {
      // The norms' elementwise kernels again (the attention block's norm two), the attention
      // core, MLA's up-projections. Only the norms that stand alone are recomputed
      // (norm_stands_alone()).
      const bool norms = p.recomputes(kRecomputeLayernorm);
      if (p.recomputes(kRecomputeCoreAttention)) c.attention_recompute += core.forward;
      if (norms && norm_stands_alone(m, NormSite::kAttention)) c.attention_recompute += memory(elementwise.attention, 2);
      if (p.recomputes(kRecomputeMlaUpProjection) && !gemms.mla_up_projection.empty()) {
        double up = 0;  // parameters at full width
        for (const GemmShape& g : gemms.mla_up_projection) up += g.cols * p.tp * g.depth;
        // Their latent inputs are quantized again for FP8 GEMMs.
        c.attention_recompute +=
            time(m.dtype, Flops(2 * up), gemms.mla_up_projection, gemm_rows) + quantize(whole.mla_up_projection, false);
      }
      // moe_act is the routed experts' (expert_recompute_bytes), not a dense FFN's.
      if (norms && norm_stands_alone(m, NormSite::kDenseFfn)) c.dense_ffn_recompute = memory(elementwise.dense_ffn, 1);
      if (norms) c.moe_recompute = memory(elementwise.router, 1);
      // The checkpointed modules run their forward again; an MoE layer's experts and all-to-alls
      // are rerun where they run (reruns_moe_layer()). Each checkpoint inside another runs again
      // in its own backward, as Megatron nests them.
      if (p.recomputes(kRecomputeDenseMlp)) c.dense_ffn_recompute += c.dense_ffn_fwd;
      if (p.recomputes(kRecomputeMoeLayer)) c.moe_recompute += c.gate_fwd + c.shared_fwd;
      if (p.recomputes(kRecomputeSharedExperts)) c.moe_recompute += c.shared_fwd;
      break;
    }
    case Recompute::kFull:
      c.attention_recompute = c.attention_fwd;
      c.dense_ffn_recompute = c.dense_ffn_fwd;
      c.moe_recompute = c.gate_fwd + c.shared_fwd;
      break;
  }
  if (s.comm_sms > 0 && s.comm_sms < gpu.sms) c.comm_slowdown = static_cast<double>(gpu.sms) / (gpu.sms - s.comm_sms);
}

// A prediction module's part before its layer: its norms and concatenation (four memory-bound
// kernels) and its projection, a column-parallel GEMM like the layers' own; under full
// recomputation its backward runs its forward again first, as Megatron checkpoints the module.
void mtp_costs(const StepConfig& s, StepCosts& c) {
  const auto& m = s.model;
  if (m.mtp_layers == 0) return;
  const auto& gpu = s.cluster.gpu;
  const auto& p = s.parallel;
  const double rows = c.rows, gemm_rows = rows * p.tp;
  const GemmShape projection = layer_gemms(m, p.tp, p.etp).mtp_projection, whole = layer_gemms(m, 1, p.etp).mtp_projection;
  c.mtp_wgrad = gemm_time(gpu, m.dtype, models::token_flops(m, s.seq_len).mtp_projection, rows, {&projection, 1}, gemm_rows);
  const Duration mtp = c.mtp_wgrad + elementwise_time(gpu, models::elementwise_bytes(m, s.glu_clamps_apart).mtp * rows, 4);
  c.mtp_fwd = mtp + fp8_cast_time(gpu, m, rows, {&whole, 1}, false);
  c.mtp_bwd = mtp * 2 + fp8_cast_time(gpu, m, rows, {&whole, 1}, true) + (p.recompute == Recompute::kFull ? c.mtp_fwd : Duration());
}

// The word embedding per GPU and micro-batch, as Megatron's VocabParallelEmbedding runs it: each
// TP rank looks up the whole sequence in its vocabulary shard (the rows of its shard read, every
// row written, the others zeroed), a sum over the TP group following; backward, the others'
// gradients zeroed, the shard's dense gradient (zeroed, then each row's gradient read and summed
// into it) and its addition to the main gradient (read, with the main gradient read and written).
void embedding_costs(const StepConfig& s, StepCosts& c) {
  const auto& m = s.model;
  const int tp = s.parallel.tp;
  const double row = m.hidden * models::bytes_per_element(models::Dtype::kBf16), sequence = c.rows * tp;
  const double shard = static_cast<double>(m.vocab) / tp * m.hidden;
  c.embedding_fwd = elementwise_time(s.cluster.gpu, Bytes(2 * sequence * row), tp > 1 ? 2 : 1);
  const double dense_grad = shard * (2 * models::bytes_per_element(models::Dtype::kBf16) + 2 * m.grad_bytes_per_param);
  c.embedding_bwd = elementwise_time(s.cluster.gpu, Bytes(2 * sequence * row + dense_grad), tp > 1 ? 4 : 3);
}

// Megatron's vocabulary-parallel cross-entropy, over each token's vocabulary shards: three
// all-reduces in the TP group of one FP32 number a token, one after another (the logits' maximum,
// then the target's logit and the sum of the exponentials; tensor_parallel/cross_entropy.py).
network::CollectiveCost loss_all_reduce(network::NetworkModel& network, const std::vector<int>& gpus, double tokens) {
  const network::CollectiveCost one = network.all_reduce(gpus, Bytes(4 * tokens));
  network::CollectiveCost three;
  for (int i = 0; i < 3; ++i) {
    three.time += one.time;
    three.intra_node += one.intra_node;
    three.inter_node += one.inter_node;
    three.demand.insert(three.demand.end(), one.demand.begin(), one.demand.end());
    three.tail.insert(three.tail.end(), one.tail.begin(), one.tail.end());
  }
  return three;
}

// Sends between the GPU with local index `local` on `stage` and on `to_stage`.
network::CollectiveCost send(network::NetworkModel& network, const StepCosts& c, int stage, int to_stage, int local, double bytes) {
  network::TrafficMatrix traffic(std::vector<int>{c.layout.gpu(stage, local), c.layout.gpu(to_stage, local)});
  traffic.at(0, 1) = bytes;
  return network.transfers(traffic);
}

void parallel_costs(const StepConfig& s, StepCosts& c, network::NetworkModel& network) {
  const auto& m = s.model;
  const auto& p = s.parallel;
  const double h = m.hidden, rows = c.rows;
  const int gpus = c.per_group ? c.gpus : 1;
  for (int g = 0; g < gpus; ++g) {
    if (p.tp > 1) {
      c.tp_collective.push_back(gather(network, c.layout.tp_group(g), rows * p.tp * h * 2));
      c.loss_all_reduce.push_back(loss_all_reduce(network, c.layout.tp_group(g), rows * p.tp));
    }
    if (p.cp > 1) c.cp_exchange.push_back(gather(network, c.layout.cp_group(g), rows * p.cp * m.key_value_dim() * 2.0));
    if (p.pp > 1) {
      const int stage = c.layout.stage_of(g), local = c.layout.local_of(g);
      c.send_next.push_back(send(network, c, stage, (stage + 1) % p.pp, local, rows * h * 2));
      c.send_previous.push_back(send(network, c, stage, (stage + p.pp - 1) % p.pp, local, rows * h * 2));
      if (c.mtp_virtual_stage >= 0 && c.mtp_virtual_stage + 1 < c.virtual_layout.count()) {
        // From the modules' own stage on, the hidden states travel with the modules' (Megatron
        // concatenates them for the loss's stage).
        const double wide = rows * h * 2 * (1 + m.mtp_layers);
        c.send_next_wide.push_back(send(network, c, stage, (stage + 1) % p.pp, local, wide));
        c.send_previous_wide.push_back(send(network, c, stage, (stage + p.pp - 1) % p.pp, local, wide));
      }
    }
  }
}

// The dense weights per GPU whose gradients each unit (StepCosts::end_unit) reduces: a layer's own,
// the word embedding's with the first layer or in its own unit, the LM head's (or its tied copy)
// with the last or in its own, and the prediction modules' embedding copy with their first layer.
std::vector<double> unit_weights(const StepConfig& s, const StepCosts& c, const models::ParamCounts& params) {
  const auto& m = s.model;
  const auto& p = s.parallel;
  const int layers = m.transformer_layers();
  const int embedding = c.end_unit[0] >= 0 ? c.end_unit[0] : 0, head = c.end_unit[1] >= 0 ? c.end_unit[1] : layers - 1;
  const double head_params = tied_head_copy(s, c.virtual_layout) ? params.embedding : params.lm_head;
  std::vector<double> weights(c.units(), 0.0);
  for (int u = 0; u < c.units(); ++u) {
    if (u < layers) weights[u] = models::layer_dense_params(m, params, u) / p.tp;
    if (u == embedding) weights[u] += params.embedding / p.tp;
    const double copy = u == m.layers && m.mtp_layers > 0 ? mtp_embedding_copy(s, params) : 0.0;
    if (u == head || copy > 0) weights[u] += ((u == head ? head_params : 0.0) + copy) / p.tp;
  }
  return weights;
}

// The model chunks' gradient units in forward order: their layers, or an end's own unit.
std::vector<std::vector<int>> chunk_units(const StepCosts& c) {
  std::vector<std::vector<int>> chunks = c.virtual_stages;
  if (c.end_unit[0] >= 0) chunks.front() = {c.end_unit[0]};
  if (c.end_unit[1] >= 0) chunks.back() = {c.end_unit[1]};
  return chunks;
}

void data_parallel_costs(const StepConfig& s, StepCosts& c, network::NetworkModel& network) {
  const auto& m = s.model;
  const auto& p = s.parallel;
  const auto params = models::param_counts(m);
  const double reduce = p.zero >= 1 ? 0.5 : 1.0;  // reduce-scatter instead of all-reduce
  const int tp_ranks = c.per_group ? p.tp : 1;
  const int units = c.units();
  const std::vector<double> weights = unit_weights(s, c, params);
  c.dense_grad_bytes.resize(units);
  for (int u = 0; u < units; ++u) c.dense_grad_bytes[u] = weights[u] * m.grad_bytes_per_param;
  c.dense_grad.resize(units);
  c.param_gather.resize(units);
  // Megatron's DDP reduces in buckets, and its distributed optimizer gathers the updated weights in
  // the same buckets; FSDP reduces and gathers each layer's unit, and DualPipe's mirrors sum each
  // layer's two copies after their reductions.
  const bool bucketed = p.zero < 3 && !c.virtual_layout.bidirectional;
  const std::vector<double> buckets = bucketed ? grad_buckets(chunk_units(c), weights, s.ddp_bucket_params) : weights;
  c.dense_bucket_bytes.resize(units);
  for (int u = 0; u < units; ++u) {
    c.dense_bucket_bytes[u] = buckets[u] * m.grad_bytes_per_param;
    if (buckets[u] <= 0) continue;
    for (int t = 0; t < tp_ranks; ++t) {
      const std::vector<int> group = c.layout.dense_dp_group(c.layout.gpu(c.stage_of_unit(u), t));
      c.dense_grad[u].push_back(network.all_reduce(group, Bytes(c.dense_bucket_bytes[u] * reduce)));
      if (p.zero >= 1) c.param_gather[u].push_back(gather(network, group, buckets[u] * models::MoeModel::kWeightBytes));
    }
  }
  const double expert_weights = (m.experts / p.ep + s.spare_slots) * params.expert / p.etp;
  c.expert_grad_bytes = expert_weights * m.grad_bytes_per_param;
  // Megatron keeps the experts' gradients in buffers of their own, bucketed alike (bucket_size and
  // the first chunk's split are the dense buffers'), each bucket reduced over the expert-data-parallel
  // group once its lowest MoE layer's gradients are done.
  std::vector<double> expert_params(units, 0.0);
  std::vector<std::vector<int>> moe_chunks(c.virtual_stages.size());
  for (size_t v = 0; v < c.virtual_stages.size(); ++v) {
    for (int l : c.virtual_stages[v]) {
      if (!m.is_moe_layer(l)) continue;
      moe_chunks[v].push_back(l);
      expert_params[l] = expert_weights;
    }
  }
  const std::vector<double> expert_buckets = bucketed ? grad_buckets(moe_chunks, expert_params, s.ddp_bucket_params) : expert_params;
  if (c.virtual_layout.bidirectional) {
    // A GPU and its mirror hold the same shards of a unit: a ring all-reduce of two.
    const double dense_shard = p.zero >= 1 ? p.dp * p.cp : 1, expert_shard = p.zero >= 1 ? p.expert_dp() : 1;
    c.mirror_grad.resize(units);
    c.mirror_grad_bytes.assign(units, 0.0);
    for (int u = 0; u < units; ++u) {
      if (weights[u] <= 0 && expert_params[u] <= 0) continue;
      const int stage = c.stage_of_unit(u);
      const std::vector<int> pair{c.layout.gpu(stage, 0), c.layout.gpu(p.pp - 1 - stage, 0)};
      const double bytes = c.dense_grad_bytes[u] / dense_shard + (expert_params[u] > 0 ? c.expert_grad_bytes / expert_shard : 0.0);
      c.mirror_grad[u] = network.all_reduce(pair, Bytes(bytes));
      c.mirror_grad_bytes[u] = bytes;
    }
  }
  c.expert_copy_grad_bytes = params.expert / p.etp * m.grad_bytes_per_param;
  const int groups = c.per_group ? p.pp * p.ep : 1;
  c.expert_bucket_bytes.resize(units);
  c.expert_grad.resize(units);
  c.expert_gather.resize(units);
  for (int u = 0; u < units; ++u) {
    c.expert_bucket_bytes[u] = expert_buckets[u] * m.grad_bytes_per_param;
    if (expert_buckets[u] <= 0) continue;
    c.expert_grad[u].resize(groups);
    if (p.zero >= 1) c.expert_gather[u].resize(groups);
    for (int i = 0; i < groups; ++i) {
      if (c.per_group && !c.holds(i / p.ep, u)) continue;
      const std::vector<int> group = c.layout.expert_dp_group(i / p.ep, i % p.ep);
      c.expert_grad[u][i] = network.all_reduce(group, Bytes(c.expert_bucket_bytes[u] * reduce));
      if (p.zero >= 1) c.expert_gather[u][i] = gather(network, group, expert_buckets[u] * models::MoeModel::kWeightBytes);
    }
  }
}

void embedding_group_costs(const StepConfig& s, StepCosts& c, network::NetworkModel& network) {
  const auto& m = s.model;
  const VirtualStages& where = c.virtual_layout;
  if (where.bidirectional) return;  // DualPipe: the stage that holds both ends keeps one matrix
  const auto params = models::param_counts(m);
  const int first = where.stage_of(0);
  const int other = mtp_embedding_copy(s, params) > 0 ? where.stage_of(c.mtp_virtual_stage)
                    : tied_head_copy(s, where)        ? where.stage_of(where.count() - 1)
                                                      : -1;
  if (other < 0) return;
  c.embedding_group[0] = first;
  c.embedding_group[1] = other;
  c.embedding_grad_bytes = params.embedding / s.parallel.tp * m.grad_bytes_per_param;
  c.embedding_grad = network.all_reduce(std::vector<int>{c.layout.gpu(first, 0), c.layout.gpu(other, 0)}, Bytes(c.embedding_grad_bytes));
}

// A routed expert's per-row work on its GPU: its GEMMs, the memory-bound kernels around them, FP8
// casts, and what moe_act recomputes.
void routed_expert_costs(const StepConfig& s, StepCosts& c) {
  const auto& m = s.model;
  const auto& p = s.parallel;
  c.expert_flops_per_token = models::token_flops(m, s.seq_len).expert.count();
  const std::vector<GemmShape> expert = layer_gemms(m, p.tp, p.etp).expert;  // split over ETP only
  c.expert_traffic = gemm_traffic(expert, m.dtype);
  c.expert_width = width_factor(s.cluster.gpu, expert);
  const models::ElementwiseBytes elementwise = models::elementwise_bytes(m, s.glu_clamps_apart);
  c.expert_elementwise_bytes = elementwise.expert;
  c.expert_elementwise_kernels = elementwise.expert_kernels;
  if (m.expert_bias && s.expert_bias_apart) {
    // Each GEMM's bias added after it, expert by expert, and the experts' outputs concatenated
    // (AutoModel's _apply_bias): forward, the adds and the concatenation each read and write the
    // GEMM's output (4 widths); backward, the experts' gradients concatenated (2) and each bias's
    // gradient summed over the rows (1), and for the second GEMM, whose bias the routing weight
    // scales, the output's gradient read once more for the weight's (1). 7 widths of the first
    // GEMM's output and 8 of the second's, a third of that as forward bytes (the backward priced
    // at twice the forward).
    const double first = (m.gated_ffn ? 2.0 : 1.0) * m.expert_ffn_hidden, second = m.hidden;
    c.expert_elementwise_bytes += Bytes((7 * first + 8 * second) / 3 * models::bytes_per_element(models::Dtype::kBf16));
    c.expert_elementwise_kernels += 2 + 2 * std::max(1, m.experts / p.ep);  // the concatenations, an add per expert and GEMM
  }
  const models::Fp8Quantization fp8 = models::fp8_quantization(m);
  c.expert_quantize_forward = Bytes(fp8.bytes_per_element * quantized_elements(expert, false));
  c.expert_quantize_backward = Bytes(fp8.bytes_per_element * quantized_elements(expert, true));
  c.expert_quantize_kernels = fp8.kernels_per_tensor * static_cast<int>(expert.size());
  if (p.recomputes(kRecomputeMoeActivation)) {
    const double inner = expert.back().depth;  // the activation's output width on this GPU: the second GEMM's depth
    // A clamped GLU clamps and concatenates its halves again first (8 widths, three kernels).
    const bool clamped = m.clamps_glu() && s.glu_clamps_apart;
    const double activation = ((m.gated_ffn ? 3.0 : 2.0) + (clamped ? 8.0 : 0.0)) * inner * models::bytes_per_element(models::Dtype::kBf16);
    c.expert_recompute_bytes = Bytes(activation + fp8.bytes_per_element * inner);
    c.expert_recompute_kernels = 1 + (clamped ? 3 : 0) + fp8.kernels_per_tensor;
  }
}

}  // namespace

StepCosts step_costs(const StepConfig& s, network::NetworkModel& network) {
  const auto& m = s.model;
  const auto& p = s.parallel;
  StepCosts c(p);
  c.gpus = p.gpus();
  c.stage_gpus = p.stage_gpus();
  c.ep = p.ep;
  c.groups = c.layout.ep_groups();
  c.pp = p.pp;
  c.vp = p.vp;
  c.micro_batches = s.micro_batches;
  c.rows = static_cast<double>(s.tokens_per_rank) / s.micro_batches;
  const auto params = models::param_counts(m);
  routed_expert_costs(s, c);
  c.expert_state_bytes = params.expert * (models::MoeModel::kWeightBytes + m.grad_bytes_per_param + m.optimizer_bytes_per_param);
  c.layer_to_moe.assign(m.transformer_layers(), -1);
  c.moe_layers = m.moe_layer_indices();
  for (size_t i = 0; i < c.moe_layers.size(); ++i) c.layer_to_moe[c.moe_layers[i]] = static_cast<int>(i);
  c.virtual_layout = virtual_stages(s.schedule, p.pp, p.vp);
  c.virtual_stages = stage_layers(m, p, c.virtual_layout.count());
  c.mtp_virtual_stage = mtp_virtual_stage(m, c.virtual_stages);
  c.stage_of_layer.assign(m.transformer_layers(), 0);
  if (c.virtual_stages.front().empty()) c.end_unit[0] = c.embedding_unit();
  if (c.virtual_stages.back().empty()) c.end_unit[1] = m.transformer_layers();  // the LM head's tag
  c.first_moe_of_chunk.assign(m.transformer_layers(), 0);
  for (int v = 0; v < c.virtual_layout.count(); ++v) {
    for (int l : c.virtual_stages[v]) c.stage_of_layer[l] = c.virtual_layout.stage_of(v);
    const auto first = std::find_if(c.virtual_stages[v].begin(), c.virtual_stages[v].end(), [&](int l) { return c.layer_to_moe[l] >= 0; });
    if (first != c.virtual_stages[v].end()) c.first_moe_of_chunk[*first] = 1;
  }
  layout_groups(c, p);
  compute_costs(s, c);
  embedding_costs(s, c);
  mtp_costs(s, c);
  c.per_group = network::find_network_model(s.cluster.network.model)->shares_links;
  parallel_costs(s, c, network);
  data_parallel_costs(s, c, network);
  embedding_group_costs(s, c, network);
  const DispatcherEntry& dispatcher = *find_dispatcher(s.dispatcher);
  for (int stage = 0; stage < p.pp; ++stage) {
    for (int g = 0; g < c.groups; ++g) {
      std::vector<int> gpus;
      for (int local : c.ep_groups[g]) gpus.push_back(c.layout.gpu(stage, local));
      c.count_exchange.push_back(count_exchange(s, dispatcher, network, gpus).time);
    }
  }

  // Adam reads weight, gradient, master weight and moments and writes all but the gradient.
  const double state_per_param = models::MoeModel::kWeightBytes + m.grad_bytes_per_param + m.optimizer_bytes_per_param;
  for (int stage = 0; stage < p.pp; ++stage) {
    c.optimizer.push_back(streaming_time(s.cluster.gpu, Bytes(updated_params(s, stage) * (2 * state_per_param - m.grad_bytes_per_param))));
  }
  return c;
}

policies::PlacementCosts placement_costs(const StepConfig& s, const StepCosts& costs) {
  const auto& m = s.model;
  const double rows = static_cast<double>(s.tokens_per_rank) * s.parallel.ep * m.top_k;
  const std::vector<GemmShape> expert = layer_gemms(m, 1, 1).expert;
  const Duration compute = kernel_time(s.cluster.gpu, m.dtype,
                                       KernelWork{Flops(rows * costs.expert_flops_per_token), gemm_traffic(expert, m.dtype).at(rows), rows,
                                                  width_factor(s.cluster.gpu, expert)});
  const auto& c = s.cluster;
  const bool crosses_nodes = s.parallel.ep > c.gpus_per_node;
  const double link = (crosses_nodes ? c.nic.link : c.intra_node.link).effective().bytes_per_second();
  const double token_bytes = m.hidden * s.dispatch_bytes;
  const double a2a = 4 * rows * token_bytes / link;
  // A token whose experts share a GPU is sent there once, in each of the four all-to-alls.
  const double kept = 4 * static_cast<double>(s.tokens_per_rank) * token_bytes / link;
  return {3 * compute.seconds() + a2a, costs.expert_state_bytes / link, kept};
}

}  // namespace moesim
