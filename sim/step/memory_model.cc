#include "sim/step/memory_model.h"

#include <algorithm>

#include "sim/step/parallel_layout.h"
#include "sim/step/schedule.h"

namespace moesim {
namespace {

// Bytes per token and layer kept for the backward pass, per GPU under tensor and sequence
// parallelism (each keeps its 1/tp share of every tensor): BF16, the router's logits FP32, and a
// GEMM's input in the recipe's precision (FP8 recipes keep FP8 copies for the backward GEMMs).
// Each tensor is counted once, by what saves it: a norm its input, the GEMMs that read a norm's
// output that output (the QKV projection; the dense FFN's or the shared experts' first GEMM and the
// router), MLA's fused latent norms and up-projections their latents and the norms' outputs,
// FlashAttention its queries, keys, values, output (BF16) and softmax log-sum-exp (FP32, one a
// head), the output projection the attention output (FlashAttention's own output tensor in BF16, an
// FP8 copy under an FP8 recipe; DeepSeek-V3's one E5M6 copy for both with attention_output_e5m6),
// each FFN its input when it is not a norm's output (a routed expert's dispatched copy), its
// activation's input and its second GEMM's input. An FFN's output is not kept: a dense or shared
// FFN's goes into the residual sum, and the routed experts' are weighted by the router's
// probabilities inside the activation (Megatron's grouped MLP, weighted_bias_swiglu_impl since
// Megatron Core 0.13; NeMo AutoModel's swiglu_with_probs), whose backward needs the activation's
// input, not the expert's output. Without dropout and with FlashAttention (no s x s scores), a
// dense GPT layer keeps 32·h + 4·a bytes a token: Korthikanti et al.'s 34·s·b·h + 5·a·s²·b a layer
// (arXiv 2205.05198, equation 1) less its two dropout masks and its s x s terms, plus
// FlashAttention's log-sum-exp. `recomputed` holds the RecomputeModule bits whose tensors the
// backward pass recomputes instead. layernorm recomputes only the norms that stand alone
// (norm_stands_alone()). core_attn (Megatron's checkpointed attention core) drops only what
// FlashAttention keeps for itself: the checkpoint keeps its queries, keys and values, and the
// output projection keeps its input.
double attention_activations(const models::MoeModel& m, unsigned recomputed, bool e5m6_output) {
  const double h = m.hidden, gemm_input = m.gemm_input_bytes();
  const auto dropped = [&](RecomputeModule module) { return (recomputed & module) != 0; };
  const double v = m.value_dim();
  const bool norm_dropped = dropped(kRecomputeLayernorm) && norm_stands_alone(m, NormSite::kAttention);
  // The attention output: the projection's input, or DeepSeek-V3's one E5M6 copy for both.
  double bytes = 2 * h + (norm_dropped ? 0 : gemm_input * h) + (e5m6_output ? StepConfig::kE5m6Bytes : gemm_input) * v;
  // FlashAttention's own: its BF16 output where the projection keeps a copy in another precision.
  const double bf16 = models::bytes_per_element(models::Dtype::kBf16);
  if (!dropped(kRecomputeCoreAttention)) bytes += (gemm_input != bf16 && !e5m6_output ? bf16 * v : 0) + 4.0 * m.heads;
  if (m.attention == models::Attention::kMla) {
    // The query latent into its norm (BF16), the key-value latent and the shared rotary key into
    // theirs. Transformer Engine fuses each latent norm into its up-projection (LayerNormLinear),
    // which keeps the norm's output for its weight gradient; mla_up_proj checkpoints the fused
    // modules from the latents, so those outputs go with the queries, keys and values.
    const models::MlaSpec& a = m.mla;
    bytes += 2.0 * (a.q_lora_rank + a.kv_lora_rank + a.qk_rope_head_dim);
    if (dropped(kRecomputeMlaUpProjection)) return bytes;
    bytes += gemm_input * (a.q_lora_rank + a.kv_lora_rank);
  }
  // A query-key norm keeps its inputs (BF16), the queries and keys before it, and an FP32 inverse
  // RMS per head; Megatron's layernorm recompute does not cover it.
  if (m.qk_norm) bytes += 2.0 * (m.query_dim() + m.key_value_dim() / 2.0) + 4.0 * (m.heads + m.kv_heads);
  return bytes + 2.0 * (m.query_dim() + m.key_value_dim());
}

double ffn_activations(const models::MoeModel& m, bool moe, unsigned recomputed, bool fp8_activation_input, bool glu_clamps_apart) {
  const double h = m.hidden, gemm_input = m.gemm_input_bytes();
  const auto dropped = [&](RecomputeModule module) { return (recomputed & module) != 0; };
  const bool norm_dropped = dropped(kRecomputeLayernorm) && norm_stands_alone(m, moe ? NormSite::kMoe : NormSite::kDenseFfn);
  // A checkpointed dense FFN keeps its input, which is the input of the norm fused into its first
  // GEMM; a checkpointed MoE layer keeps its input, the norm's BF16 output, unless layernorm
  // recomputes that too.
  if (!moe && dropped(kRecomputeDenseMlp)) return 2 * h;
  if (moe && dropped(kRecomputeMoeLayer)) return 2 * h + (norm_dropped ? 0 : 2 * h);
  const double norm = 2 * h + (norm_dropped ? 0 : gemm_input * h);
  // Per token through one FFN: the first GEMM's output (the activation's input, FP8 where the
  // activation stores it so) and the activation's output.
  const double activation_input = m.gated_ffn && fp8_activation_input ? 1.0 : 2.0;
  // moe_act recomputes the routed experts' activation only (Megatron's grouped MLP); a dense FFN
  // and the shared experts keep theirs. A clamped GLU's clamps apart keep their inputs (the first
  // GEMM's output, above) for their backward pass and the activation keeps the clamped,
  // concatenated copy besides, both halves in BF16, unless moe_act recomputes it all from the
  // first GEMM's output.
  const bool clamped = m.clamps_glu() && glu_clamps_apart;
  auto ffn = [&](double width, bool routed) {
    const bool recomputed_activation = routed && dropped(kRecomputeMoeActivation);
    return activation_input * (m.gated_ffn ? 2 : 1) * width + (recomputed_activation ? 0 : gemm_input * width) +
           (clamped && !recomputed_activation ? 2.0 * 2 * width : 0.0);
  };
  if (!moe) return norm + ffn(m.ffn_hidden, false);
  // A routed expert's input is the token's dispatched copy, not the norm's output.
  // Checkpointed shared experts keep only their input, the norm's output kept anyway.
  const double shared = dropped(kRecomputeSharedExperts) ? 0.0 : m.shared_experts * ffn(m.expert_ffn_hidden, false);
  return norm + 4.0 * m.experts + m.top_k * (gemm_input * h + ffn(m.expert_ffn_hidden, true)) + shared;
}

// A prediction module before its layer, per token: the inputs of its two norms (the hidden state
// and the next token's embedding, BF16), their concatenation (the projection's input, in the
// GEMM's precision), and its final norm's input (BF16).
double mtp_activations(const models::MoeModel& m) { return (3 * 2.0 + 2 * m.gemm_input_bytes()) * m.hidden; }

// The embedding's dense gradient (BF16, the vocabulary shard) that a stage forms in its backward
// passes: PyTorch's embedding backward writes all of it, and Megatron's gradient hook adds it to the
// main gradient and drops it. Each counts beyond what is freed by then. The first virtual stage
// forms it at the end of its backward, its activations freed, and its logits too where one chunk
// runs the whole model. The prediction modules form theirs (one sum over the modules) after their
// LM head's backward, its logits freed, the rest of the chunk still held. Under ZeRO-3 the
// "gathered layers" term already holds a unit's whole gradient.
std::vector<BackwardTransient> embedding_gradients(const StepConfig& s, const VirtualStages& where,
                                                   const std::vector<std::vector<int>>& chunks, int stage, double rows) {
  const auto& m = s.model;
  std::vector<BackwardTransient> out;
  if (s.parallel.zero >= 3) return out;
  const double gradient = static_cast<double>(m.vocab) / s.parallel.tp * m.hidden * models::bytes_per_element(models::Dtype::kBf16);
  const double logits = rows * m.vocab * s.logit_bytes();
  for (int c = 0; c < s.parallel.vp; ++c) {
    const int v = where.virtual_stage(stage, c);
    const bool modules = std::ranges::any_of(chunks[v], [&](int l) { return m.is_mtp_layer(l); });
    if (v == 0) out.push_back({c, std::max(0.0, gradient - (where.count() == 1 ? (1 + m.mtp_layers) * logits : 0.0)), false});
    if (modules) out.push_back({c, std::max(0.0, gradient - logits), true});
  }
  return out;
}

// What ZeRO-3 / FSDP holds gathered at once. Resharding after each forward, it gathers a layer's
// weights whole for its forward and backward, the next layer's prefetched beside it, and holds a
// layer's whole gradient until its reduce-scatter. Kept from each forward to its backward, every
// unit's weights are gathered at once when the last forward before the first backward ends (the
// activations' peak too). PyTorch's pipelining (grad_sync run) keeps them from a run's first
// backward to its last, beside every unit's whole gradient, accumulated until the run's end.
MemoryTerm gathered_layers(const StepConfig& s, const StageParams& params) {
  const double weight = models::MoeModel::kWeightBytes, grad = s.model.grad_bytes_per_param;
  if (s.grad_sync == GradSync::kRun)
    return {"gathered layers", params.all_units * (weight + grad), "training.grad_sync, parallelism.pp, parallelism.tp, parallelism.ep"};
  if (s.parallel.reshard_after_forward)
    return {"gathered layers", params.largest_unit * (2 * weight + grad), "parallelism.zero, parallelism.tp, parallelism.ep"};
  return {"gathered layers", params.all_units * weight + params.largest_unit * grad,
          "parallelism.reshard_after_forward, parallelism.pp, parallelism.tp, parallelism.ep"};
}

}  // namespace

double StageMemory::total() const {
  double sum = 0;
  for (const auto& t : terms) sum += t.bytes;
  return sum;
}

double StageMemory::bytes_of(std::string_view what) const {
  const auto it = std::find_if(terms.begin(), terms.end(), [&](const MemoryTerm& t) { return t.what == what; });
  return it == terms.end() ? 0 : it->bytes;
}

const StageMemory& GpuMemory::peak() const {
  return *std::max_element(stages.begin(), stages.end(), [](const auto& a, const auto& b) { return a.total() < b.total(); });
}

StageParams stage_params(const StepConfig& s, int stage) {
  const auto& m = s.model;
  const auto& p = s.parallel;
  const auto params = models::param_counts(m);
  const VirtualStages where = virtual_stages(s.schedule, p.pp, p.vp);
  const auto chunks = stage_layers(m, p, where.count());
  StageParams out;
  const bool dense_sharded = p.dp * p.cp > 1, experts_sharded = p.expert_dp() > 1;
  for (int chunk = 0; chunk < p.vp; ++chunk) {
    for (int l : chunks[where.virtual_stage(stage, chunk)]) {
      const bool moe = m.is_moe_layer(l);
      const double dense = models::layer_dense_params(m, params, l);
      const double experts = moe ? (m.experts / p.ep + s.spare_slots) * params.expert / p.etp : 0.0;
      out.dense += dense;
      out.experts += experts;
      const double unit = (dense_sharded ? dense / p.tp : 0.0) + (experts_sharded ? experts : 0.0);
      out.largest_unit = std::max(out.largest_unit, unit);
      out.all_units += unit;
    }
  }
  // Tied embeddings: tied_head_copy(). DualPipe's two copies each have their own ends, at opposite
  // stages. The prediction modules' embedding copy counts with the LM head where they share a stage.
  const int modules = mtp_stage(s);
  const double copy = mtp_embedding_copy(s, params);
  for (int direction = 0; direction < (where.bidirectional ? 2 : 1); ++direction) {
    const int first = where.stage_of(0, direction), last = where.stage_of(where.count() - 1, direction);
    const double head = (tied_head_copy(s, where) ? params.embedding : params.lm_head) + (modules == last ? copy : 0.0);
    if (stage == first) out.dense += params.embedding;
    if (stage == last) out.dense += head;
    if (dense_sharded) {
      const double embedding = stage == first ? params.embedding / p.tp : 0.0, lm_head = stage == last ? head / p.tp : 0.0;
      out.largest_unit = std::max({out.largest_unit, embedding, lm_head});
      out.all_units += embedding + lm_head;
    }
  }
  if (stage == modules && modules != where.stage_of(where.count() - 1)) {
    out.dense += copy;
    if (dense_sharded) {
      out.largest_unit = std::max(out.largest_unit, copy / p.tp);
      out.all_units += copy / p.tp;
    }
  }
  out.dense /= p.tp;
  return out;
}

int mtp_stage(const StepConfig& s) {
  const VirtualStages where = virtual_stages(s.schedule, s.parallel.pp, s.parallel.vp);
  const int v = mtp_virtual_stage(s.model, stage_layers(s.model, s.parallel, where.count()));
  return v < 0 ? -1 : where.stage_of(v);
}

bool tied_head_copy(const StepConfig& s, const VirtualStages& where) {
  return s.model.tied_embeddings && !where.bidirectional && where.stage_of(where.count() - 1) != where.stage_of(0);
}

double mtp_embedding_copy(const StepConfig& s, const models::ParamCounts& params) {
  // DualPipeV's last virtual stage is on the first GPU; DualPipe's last stage of one copy is the
  // first of the other, and shares its embedding (DeepSeek-V3 report, "Shared Embedding and Output
  // Head for Multi-Token Prediction").
  const VirtualStages where = virtual_stages(s.schedule, s.parallel.pp, s.parallel.vp);
  const int modules = mtp_stage(s);
  const bool elsewhere = modules >= 0 && modules != where.stage_of(0) && !where.bidirectional;
  return !s.model.tied_embeddings && elsewhere ? params.embedding : 0.0;
}

GpuMemory gpu_memory(const StepConfig& s) {
  const auto& m = s.model;
  const auto& p = s.parallel;
  const ScheduleEntry* schedule = find_schedule(s.schedule);
  const double rows = static_cast<double>(s.tokens_per_rank) / s.micro_batches;  // per micro-batch
  const double dense_shard = p.dp * p.cp, expert_shard = p.expert_dp();
  const VirtualStages where = virtual_stages(*schedule, p.pp, p.vp);
  const auto chunks = stage_layers(m, p, where.count());
  GpuMemory out;
  for (int stage = 0; stage < p.pp; ++stage) {
    // Under full recomputation a layer keeps only its input, but the one being recomputed holds
    // all of its activations for its backward pass: the largest such layer is counted once. So
    // does a checkpointed module (kCheckpointedModules) during its backward.
    double recomputed_layer = 0;
    std::vector<double> chunk_bytes(p.vp);
    const unsigned recomputed = p.recompute == Recompute::kSelective ? p.recompute_modules : 0;
    for (int c = 0; c < p.vp; ++c) {
      double chunk = 0;
      for (int l : chunks[where.virtual_stage(stage, c)]) {
        const bool moe = m.is_moe_layer(l);
        const double mtp = m.is_mtp_layer(l) ? mtp_activations(m) : 0.0;
        const double kept = mtp + attention_activations(m, 0, s.e5m6_attention_output) +
                            ffn_activations(m, moe, 0, s.fp8_activation_input, s.glu_clamps_apart);
        if (p.recompute == Recompute::kFull) {
          // A prediction module's checkpoint keeps the next token's embedding beside its input.
          chunk += (m.is_mtp_layer(l) ? 4.0 : 2.0) * m.hidden;
          recomputed_layer = std::max(recomputed_layer, kept * rows);
        } else {
          const double ffn = ffn_activations(m, moe, recomputed, s.fp8_activation_input, s.glu_clamps_apart);
          chunk += mtp + attention_activations(m, recomputed, s.e5m6_attention_output) + ffn;
          const double unchecked = ffn_activations(m, moe, recomputed & ~kCheckpointedModules, s.fp8_activation_input, s.glu_clamps_apart);
          recomputed_layer = std::max(recomputed_layer, (unchecked - ffn) * rows);
        }
      }
      chunk_bytes[c] = chunk * rows;
    }
    const StageParams params = stage_params(s, stage);
    StageMemory mem;
    mem.stage = stage;
    const auto order = repeated_pipeline_order(*schedule, stage, p.pp, p.vp, s.micro_batches, s.pipeline_runs, s.split_weights);
    mem.in_flight = peak_in_flight(order);
    const double activations = peak_in_flight_bytes(order, chunk_bytes) + recomputed_layer;
    const auto gradients = embedding_gradients(s, where, chunks, stage, rows);
    const double embedding_gradient = std::max(0.0, peak_in_flight_bytes(order, chunk_bytes, gradients) - activations);
    auto sharded = [&](double per_param, int from_stage) {
      const bool shard = p.zero >= from_stage;
      return per_param * (params.dense / (shard ? dense_shard : 1) + params.experts / (shard ? expert_shard : 1));
    };
    // The ZeRO stage that would shard a term, where the scenario's does not yet.
    auto zero = [&](int from_stage) {
      return p.zero < from_stage ? "parallelism.zero: " + std::to_string(from_stage) + ", " : std::string();
    };
    mem.terms.push_back(
        {"weights", sharded(models::MoeModel::kWeightBytes, 3), zero(3) + "parallelism.pp, parallelism.ep, parallelism.tp"});
    mem.terms.push_back({"gradients", sharded(m.grad_bytes_per_param, 2), zero(2) + "parallelism.pp, parallelism.ep"});
    mem.terms.push_back({"optimizer state", sharded(m.optimizer_bytes_per_param, 1), zero(1) + "parallelism.pp, parallelism.ep"});
    if (p.zero >= 3) mem.terms.push_back(gathered_layers(s, params));
    mem.terms.push_back({"activations", activations,
                         "parallelism.recompute, parallelism.recompute_modules, training.micro_batch, parallelism.tp, parallelism.cp"});
    if (embedding_gradient > 0) mem.terms.push_back({"embedding gradient", embedding_gradient, "parallelism.tp"});
    if (stage == where.stage_of(where.count() - 1) || (where.bidirectional && stage == where.stage_of(where.count() - 1, 1))) {
      // Each LM head pass keeps, for one micro-batch, its logits as the loss keeps them, and the
      // inputs of the final norm and of the head (BF16, the sequence shard): received from the
      // stage before where the loss has a stage of its own.
      const double inputs = 2 * m.hidden * models::bytes_per_element(models::Dtype::kBf16);
      mem.terms.push_back({"LM head", (1 + m.mtp_layers) * rows * (m.vocab * s.logit_bytes() + inputs),
                           "training.micro_batch, training.cross_entropy, parallelism.tp, model.mtp_layers"});
    }
    mem.terms.push_back({"all-to-all buffers", 2 * rows * m.top_k * m.hidden * s.dispatch_bytes, "training.micro_batch"});
    mem.terms.push_back({"runtime", kRuntimeBytes, ""});
    out.stages.push_back(std::move(mem));
  }
  return out;
}

}  // namespace moesim
