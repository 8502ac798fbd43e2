// A scenario as plain structs: what the loader produces and the runner consumes. No YAML here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hardware/specs.h"
#include "models/moe_model.h"
#include "sim/step/step_config.h"

namespace moesim::gating {
class SourceConfig;   // models/gating/source_registry.h
class RoutingConfig;  // models/gating/routing/routing_rule.h
}  // namespace moesim::gating

namespace moesim::policies {
class PlacementConfig;  // policies/placement/registry.h
class PredictorConfig;  // policies/predictors/registry.h
enum class StaticLayout;
}  // namespace moesim::policies

namespace moesim::scenarios {

// The step model's vocabulary (sim/step/step_config.h), named here as the scenario names it.
using moesim::Dedup;
using moesim::ExpertExecution;
using moesim::MigrationMode;
using moesim::Recompute;

// Tensor, pipeline, context, expert and data parallelism with ZeRO and recomputation, in
// Megatron's terms (sim/step/step_config.h: Parallelism; the rank layout: parallel_layout.h).
// The routing's ranks are the GPUs of one pipeline stage, tp x cp x dp: each routes its own
// sequence-parallel shard of the tokens.
using ParallelismSpec = moesim::Parallelism;

struct TrainingSpec {
  int64_t tokens_per_step = 524288;  // global_batch x seq_len
  int seq_len = 2048;
  int64_t micro_batch = 0;  // sequences per micro-batch and data-parallel rank
  // Sequences per data-parallel rank in one run of the pipeline schedule (AutoModel's and
  // torchtitan's local_batch_size): gradient accumulation runs the schedule again for each share of
  // the rank's batch, each run filling and draining the pipeline. Megatron runs every micro-batch
  // of a step in one schedule: the whole share (the default).
  int64_t local_batch = 0;
  // When the data-parallel gradient reductions run: step (once an optimizer step, after the last
  // run of the schedule: Megatron, and AutoModel's MoE models since its FSDP patch of 2025-10-08),
  // run (at the end of every run of the schedule: torch.distributed.pipelining's own handling of a
  // stage that is an FSDP or DDP module) or micro_batch (after every backward pass: FSDP's defaults,
  // where the pipeline stage is not itself an FSDP module and nothing defers the reductions, as in
  // AutoModel's MoE models before that patch).
  std::string grad_sync = "step";
  bool in_sequences = false;  // the scenario gave global_batch (else tokens_per_step)
  ExpertExecution expert_execution = ExpertExecution::kDropless;
  std::string schedule = "1f1b";  // a pipeline schedule (sim/step/schedule.h)
  // What the loss keeps of the LM head's logits for its backward pass: fp32 (upcast, both copies
  // kept, PyTorch's unfused path) or bf16 (one BF16 tensor: Megatron's and Transformer Engine's
  // fused cross-entropy, which writes the gradient in place, or a loss without upcast).
  std::string cross_entropy = "fp32";
  // Where the experts' biases are added, for a model with them: gemm (the grouped GEMM's epilogue,
  // Transformer Engine's GroupedLinear) or apart (after it, expert by expert, as AutoModel's
  // torch._grouped_mm path).
  std::string expert_bias_add = "gemm";
  // Where a clamped GLU's clamps run, for a model with them: apart (kernels of their own, and the
  // activation's input kept for them: Megatron's weighted_bias_quick_geglu_impl) or fused (inside
  // a compiled activation: AutoModel's torch.compile'd swiglu_oai).
  std::string glu_clamp = "apart";
  // Megatron's --delay-wgrad-compute (schedule overlap only): a layer's weight gradients run after
  // the all-to-all that needs only its input gradients has started, hiding it.
  bool delay_wgrad = false;
  // Megatron's --ddp-bucket-size: parameters per gradient bucket; by default Megatron's
  // max(40M, 1M x the data-parallel group's size).
  int64_t ddp_bucket_size = 40'000'000;
  // Megatron's --activation-func-fp8-input-store (a gated FFN's activation keeps its input in FP8),
  // as DeepSeek-V3 caches its SwiGLU inputs.
  bool activation_func_fp8_input_store = false;
  // DeepSeek-V3's cache of the attention output (arXiv 2412.19437, section 3.3.2): one copy in its
  // 12-bit E5M6 format serves both the attention's backward pass and the output projection's.
  bool attention_output_e5m6 = false;
  int64_t global_batch() const { return tokens_per_step / seq_len; }
  // Tokens each GPU of a stage routes per step, and micro-batches per data-parallel rank.
  int64_t tokens_per_rank(const ParallelismSpec& p) const { return tokens_per_step / p.stage_gpus(); }
  int64_t micro_batches(const ParallelismSpec& p) const { return global_batch() / p.dp / micro_batch; }
  int64_t pipeline_runs(const ParallelismSpec& p) const { return global_batch() / p.dp / local_batch; }
};

struct DispatchSpec {
  std::string kernel = "alltoall";  // a dispatcher (sim/step/dispatcher.h)
  Dedup dedup = Dedup::kNone;       // as the kernel fixes it, or dispatch.dedup for alltoall
  // What the dispatch all-to-all sends per element: bf16, or fp8 with one FP32 scale per 128
  // elements (DeepEP); the combine is always BF16.
  models::Dtype dtype = models::Dtype::kBf16;
  int comm_sms = 20;  // SMs a communication kernel holds (DeepEP: 20 of 132), slowing compute beside it
};

// Where each step's routing comes from and how tokens choose experts: registry entries with their
// settings (gating.source: models/gating/source_registry.h; gating.routing:
// models/gating/routing/routing_rule.h). Their shape and seed come from the rest of the scenario.
struct GatingSpec {
  std::shared_ptr<const gating::SourceConfig> source;
  std::shared_ptr<const gating::RoutingConfig> routing;  // how the synthetic sources route (trace: as recorded)
};

// One placement policy to compare: a registry entry (policies/placement/registry.h: static,
// predictive, replicated, phase_aware, affinity, oracle) with its own settings, and the keys all
// policies share.
struct PolicySpec {
  std::string label;  // shown in tables; the entry's label unless given (numbered _2, _3, ... where two coincide)
  bool label_given = false;
  std::shared_ptr<const policies::PlacementConfig> placement;
  policies::StaticLayout layout{};                             // static: where experts stay; the others: where they start
  std::shared_ptr<const policies::PredictorConfig> predictor;  // the policies that forecast
  MigrationMode migration = MigrationMode::kOverlapped;
  int spare_slots = 0;  // expert slots per GPU beyond experts / ep (replicated, phase_aware: 1 unless set)
  // The entry's name ("static", "oracle" ...).
  std::string_view placement_name() const;
};

// What the cluster costs to rent, for the cost per million tokens; 0 when not given.
struct CostSpec {
  double gpu_hour = 0;  // price of one GPU for one hour, in the planner's currency
};

struct Scenario {
  std::string name;
  std::string source_file;  // where it was loaded from (for messages), not part of the result
  uint64_t seed = 1;
  int steps = 100;
  hardware::ClusterSpec cluster;
  models::MoeModel model;
  ParallelismSpec parallelism;
  TrainingSpec training;
  DispatchSpec dispatch;
  GatingSpec gating;
  std::vector<PolicySpec> policies;
  CostSpec cost;
  std::string output_dir;
};

const char* to_string(ExpertExecution e);
const char* to_string(Dedup d);
const char* to_string(Recompute r);
// Megatron's names of the recompute modules (RecomputeModule), in bit order, and the bits of a list
// of them and back.
const std::vector<std::string>& names_of_recompute_modules();
unsigned recompute_modules_of(const std::vector<std::string>& names);
std::vector<std::string> recompute_module_names(unsigned modules);

// What the step model needs of the scenario, for a policy that moves experts as `migration` says
// and has `spare_slots` extra expert slots per GPU.
StepConfig step_config(const Scenario& scenario, MigrationMode migration = MigrationMode::kOverlapped, int spare_slots = 0);

}  // namespace moesim::scenarios
