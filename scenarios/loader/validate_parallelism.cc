#include <algorithm>
#include <cstdio>

#include "scenarios/loader/validate.h"
#include "sim/network/network_model.h"
#include "sim/step/memory_model.h"
#include "sim/step/pipeline_layout.h"
#include "sim/step/schedule.h"
#include "sim/step/task_kind.h"

namespace moesim::scenarios {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

std::string gb(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
  return buf;
}

void validate_degrees(const Scenario& s, const Checker& c) {
  const auto& p = s.parallelism;
  const auto& m = s.model;
  const int gpus = s.cluster.gpu_count(), model_parallel = p.tp * p.pp * p.cp;
  c.require(gpus % model_parallel == 0, "parallelism",
            "expected tp x pp x cp = " + str(p.tp) + " x " + str(p.pp) + " x " + str(p.cp) + " = " + str(model_parallel) +
                " to divide the GPU count " + str(gpus) + ", so that the rest is data parallelism");
  c.require(p.dp * model_parallel == gpus, "parallelism.dp",
            "expected GPUs / (tp x pp x cp) = " + str(gpus) + " / " + str(model_parallel) + " = " + str(gpus / model_parallel) + ", got " +
                str(p.dp));
  c.require(p.stage_gpus() % (p.ep * p.etp) == 0, "parallelism.ep",
            "expected a divisor of tp x cp x dp / etp = " + str(p.stage_gpus()) + " / " + str(p.etp) +
                " (MoE layers fold onto the GPUs of a pipeline stage, ep x etp of them per EP group), got " + str(p.ep));
  c.require(
      m.experts % p.ep == 0, "parallelism.ep",
      "expected a divisor of model.experts (" + str(m.experts) + ") so that every GPU holds the same number of experts, got " + str(p.ep));
  if (p.ep_layout == EpLayout::kSpread && p.stage_gpus() % (p.ep * p.etp) == 0) {
    const int stride = p.etp * p.expert_dp(), node = s.cluster.gpus_per_node;
    c.require(stride % node == 0 || node % stride == 0, "parallelism.ep_layout",
              "expected packed, or an EP group's stride of etp x expert-dp = " + str(p.etp) + " x " + str(p.expert_dp()) + " = " +
                  str(stride) + " GPUs that divides or is a multiple of cluster.gpus_per_node (" + str(node) +
                  "), so that every node holds as many of a group's ranks; got spread");
  }
  c.require(p.vp == 1 || p.pp > 1, "parallelism.vp", "expected 1 with pp 1 (virtual stages split a pipeline), got " + str(p.vp));
  const int virtual_count = virtual_stages(s.training.schedule, p.pp, p.vp).count();
  const std::string count_of = virtual_count == p.pp ? "pp" : "pp x vp";
  if (!p.pipeline_layout.empty()) {
    c.require(static_cast<int>(p.pipeline_layout.size()) == virtual_count, "parallelism.pipeline_layout",
              "expected " + count_of + " = " + str(virtual_count) + " virtual stages under schedule " + s.training.schedule +
                  ", split by '|', got " + str(static_cast<int64_t>(p.pipeline_layout.size())));
    const auto problem = check_pipeline_layout(p.pipeline_layout, virtual_count, m.layers, m.mtp_layers);
    c.require(!problem, "parallelism.pipeline_layout", problem.value_or(""));
  }
  c.require(virtual_count <= m.layers + 2, "parallelism.pp",
            "expected " + count_of + " at most model.layers + 2 (" + str(m.layers + 2) +
                "): every virtual stage holds a layer, but the first and last may hold only the embedding and the LM head; got " +
                (virtual_count == p.pp ? str(p.pp) : str(p.pp) + " x " + str(p.vp)));
  c.require(m.layers < kMaxTagLayers, "model.layers", "expected fewer than " + str(kMaxTagLayers) + " layers, got " + str(m.layers));
  c.require(m.layers >= kMaxTagLayers || m.transformer_layers() < kMaxTagLayers, "model.mtp_layers",
            "expected fewer than " + str(kMaxTagLayers - m.layers) + " (with model.layers " + str(m.layers) + ", fewer than " +
                str(kMaxTagLayers) + " layers in all), got " + str(m.mtp_layers));
}

void validate_batch(const Scenario& s, const Checker& c) {
  const auto& p = s.parallelism;
  const auto& t = s.training;
  const std::string batch_key = t.in_sequences ? "training.global_batch" : "training.tokens_per_step";
  c.require(t.tokens_per_step % t.seq_len == 0, "training.tokens_per_step",
            "expected a multiple of seq_len (" + str(t.seq_len) + "), got " + str(t.tokens_per_step));
  const int64_t batch = t.global_batch();
  c.require(batch % p.dp == 0, batch_key,
            "expected whole sequences on every data-parallel rank: " + (t.in_sequences ? std::string() : "tokens_per_step / seq_len = ") +
                str(batch) + " sequences is not a multiple of dp = " + str(p.dp));
  c.require((batch / p.dp) % t.micro_batch == 0, "training.micro_batch",
            "expected a divisor of global_batch / dp = " + str(batch) + " / " + str(p.dp) + " = " + str(batch / p.dp) +
                " sequences per data-parallel rank, got " + str(t.micro_batch));
  c.require((batch / p.dp) % t.local_batch == 0 && t.local_batch % t.micro_batch == 0, "training.local_batch",
            "expected a divisor of global_batch / dp = " + str(batch / p.dp) +
                " sequences per data-parallel rank and a multiple of micro_batch = " + str(t.micro_batch) + ", got " + str(t.local_batch));
  c.require(t.micro_batches(p) < kMaxTagMicroBatches, "training.micro_batch",
            "expected fewer than " + str(kMaxTagMicroBatches) + " micro-batches per step, got " + str(t.micro_batches(p)));
  // The schedule's constraints hold for each run of it.
  const int64_t micro_batches = t.micro_batches(p) / t.pipeline_runs(p);
  c.require(t.seq_len % p.cp == 0, "training.seq_len", "expected a multiple of parallelism.cp (" + str(p.cp) + "), got " + str(t.seq_len));
  c.require((t.micro_batch * t.seq_len / p.cp) % p.tp == 0, "training.seq_len",
            "expected micro_batch x seq_len / cp tokens to split evenly over tp = " + str(p.tp) + " (sequence parallelism), got " +
                str(t.micro_batch * t.seq_len / p.cp));
  const ScheduleEntry& schedule = *find_schedule(t.schedule);
  const std::string got = "got " + t.schedule + " with vp " + str(p.vp);
  if (schedule.interleaved) c.require(p.vp > 1, "parallelism.vp", "expected more than 1 with schedule interleaved, " + got);
  c.require(t.pipeline_runs(p) == 1 || (!schedule.v_shape && !schedule.bidirectional), "training.local_batch",
            "expected global_batch / dp = " + str(batch / p.dp) + " (one run of the schedule a step) with schedule " + t.schedule +
                ", got " + str(t.local_batch));
  c.require(t.grad_sync == "step" || !schedule.bidirectional, "training.grad_sync",
            "expected step with schedule " + t.schedule + " (each layer's two copies sum their gradients once a step), got " + t.grad_sync);
  if (schedule.v_shape) {
    c.require(p.vp == 2, "parallelism.vp", "expected 2 with schedule " + t.schedule + " (two chunks per GPU in a V), " + got);
    c.require(micro_batches >= 2 * p.pp, "training.micro_batch",
              "expected at least 2 x pp = " + str(2 * p.pp) + " micro-batches per step with schedule " + t.schedule + ", got " +
                  str(micro_batches));
  } else if (schedule.bidirectional) {
    c.require(p.vp == 2, "parallelism.vp", "expected 2 with schedule " + t.schedule + " (each GPU holds a chunk of both copies), " + got);
    c.require(p.pp >= 2 && p.pp % 2 == 0, "parallelism.pp",
              "expected an even number with schedule " + t.schedule + " (stages pair with their mirror), got " + str(p.pp));
    c.require(micro_batches >= 2 * p.pp && micro_batches % 2 == 0, "training.micro_batch",
              "expected an even number of at least 2 x pp = " + str(2 * p.pp) + " micro-batches per step with schedule " + t.schedule +
                  " (half enter at each end), got " + str(micro_batches));
    c.require(!network::find_network_model(s.cluster.network.model)->shares_links, "cluster.network.model",
              "expected a network model whose collectives do not share links with schedule " + t.schedule +
                  " (the second copy's all-to-alls are costed on the first copy's GPUs), got " + s.cluster.network.model);
  } else if (!schedule.interleaved && !schedule.any_vp) {
    c.require(p.vp == 1, "schedule",
              "expected interleaved, overlap, dualpipev or dualpipe with parallelism.vp " + str(p.vp) + " (" + t.schedule +
                  " runs one chunk per GPU), " + got);
  }
  c.require(
      !t.delay_wgrad || (schedule.overlaps && !schedule.v_shape && !schedule.bidirectional), "training.delay_wgrad",
      "expected schedule overlap (Megatron's --delay-wgrad-compute runs inside its 1F1B all-to-all overlap), got schedule " + t.schedule);
  c.require(!p.recomputes(kRecomputeMlaUpProjection) || s.model.attention == models::Attention::kMla, "parallelism.recompute_modules",
            "expected mla_up_proj only with model.attention mla (it recomputes MLA's queries, keys and values from their latents), got "
            "attention " +
                std::string(models::to_string(s.model.attention)));
  const models::MoeModel& m = s.model;
  c.require(!p.recomputes(kRecomputeDenseMlp) || m.moe_layer_count() < m.transformer_layers(), "parallelism.recompute_modules",
            "expected mlp only with dense FFN layers (it recomputes a dense FFN), got a model whose " + str(m.transformer_layers()) +
                " layers are all MoE layers");
  c.require(!p.tp_comm_overlap || p.tp > 1, "parallelism.tp_comm_overlap",
            "expected parallelism.tp above 1 (it overlaps the tensor-parallel collectives), got tp " + str(p.tp));
  c.require(!p.recomputes(kRecomputeSharedExperts) || m.shared_experts > 0, "parallelism.recompute_modules",
            "expected shared_experts only with model.shared_experts above 0 (it recomputes them), got 0");
  c.require(!t.activation_func_fp8_input_store || s.model.gated_ffn, "training.activation_func_fp8_input_store",
            "expected a model with a gated FFN (model.gated_ffn: true; the FP8 store is SwiGLU's input), got gated_ffn false");
  if (p.vp > 1 && !schedule.v_shape && !schedule.bidirectional) {
    c.require(micro_batches % p.pp == 0, "training.micro_batch",
              "expected micro-batches per run of the schedule (" + str(micro_batches) + ") to be a multiple of pp (" + str(p.pp) +
                  "): the interleaved schedule runs them in groups of pp");
  }
}

// Each policy's GPUs, with its spare expert slots, must hold their peak.
void validate_memory(const Scenario& s, const Checker& c, const std::vector<StepConfig>& configs) {
  const double capacity = s.cluster.gpu.hbm_capacity.count();
  for (size_t i = 0; i < configs.size(); ++i) {
    const GpuMemory memory = gpu_memory(configs[i]);
    const StageMemory& peak = memory.peak();
    if (peak.total() <= capacity) continue;
    const MemoryTerm& largest =
        *std::max_element(peak.terms.begin(), peak.terms.end(), [](const auto& a, const auto& b) { return a.bytes < b.bytes; });
    const int spare = s.policies[i].spare_slots;
    const std::string key = spare > 0 ? "policies." + std::to_string(i) + ".spare_slots" : "parallelism";
    c.require(false, key,
              "expected a model share that fits in GPU memory: stage " + str(peak.stage) + "'s GPUs need " + gb(peak.total()) +
                  ", more than " + s.cluster.gpu.name + "'s " + gb(capacity) + "; the largest part is " + largest.what + ", " +
                  gb(largest.bytes) + " (shrink it with " + largest.shrink + ")" +
                  (spare > 0 ? ", with " + str(spare) + " spare slots" : ""));
  }
}

}  // namespace

void validate_parallelism(const Scenario& s, const Checker& c) {
  validate_degrees(s, c);
  validate_batch(s, c);
  std::vector<StepConfig> configs;
  for (const auto& policy : s.policies) configs.push_back(step_config(s, policy.migration, policy.spare_slots));
  validate_memory(s, c, configs);
}

}  // namespace moesim::scenarios
