// What the step model needs to know, as plain data: the cluster, the model, how experts are laid
// out and executed, how tokens are dispatched and how a policy's moves travel. The orchestration
// layer (runner.h: step_config) builds it from a scenario; nothing here knows the scenario.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hardware/specs.h"
#include "models/moe_model.h"

namespace moesim {

// capacity: GShard / DeepSpeed-MoE: tokens over capacity are dropped, buffers are padded to
// capacity (all-to-all and expert GEMMs cost full capacity). dropless: MegaBlocks / Megatron
// grouped GEMMs over exactly the routed tokens.
enum class ExpertExecution { kDropless, kCapacity };

// How many times the dispatch all-to-all sends a token: none: once per expert it chose; gpu:
// once per destination GPU however many of its experts live there (the zero-redundancy
// all-to-all used with collaboration-constrained routing); node: once per destination node over
// the network, to the GPU there with the sender's local index, which forwards it over NVLink to
// each GPU of that node holding its experts (DeepEP's inter-node dispatch).
enum class Dedup { kNone, kGpu, kNode };

// How a re-placement's expert state reaches its new GPUs: before the step starts (blocking), or
// alongside the step's first layers, needed only by the first MoE layer's experts (overlapped).
enum class MigrationMode { kBlocking, kOverlapped };

// What the backward pass recomputes instead of keeping from the forward pass: nothing; the
// modules in Parallelism::recompute_modules (selective, Megatron's --recompute-granularity
// selective with --recompute-modules); or each layer from its input (full).
enum class Recompute { kNone, kSelective, kFull };
// Megatron's selective recompute modules, as bits of Parallelism::recompute_modules.
enum RecomputeModule : unsigned {
  kRecomputeCoreAttention = 1u << 0,    // core_attn: the attention core (FlashAttention's own saved tensors)
  kRecomputeLayernorm = 1u << 1,        // layernorm: the outputs of the norms that stand alone (norm_stands_alone())
  kRecomputeMoeActivation = 1u << 2,    // moe_act: the routed experts' activation output
  kRecomputeMlaUpProjection = 1u << 3,  // mla_up_proj: MLA's queries, keys and values from their latents
  // Megatron's checkpointed modules (normal checkpointing: each keeps only its input and runs its
  // whole forward again before its backward).
  kRecomputeDenseMlp = 1u << 4,       // mlp: a dense FFN, with the norm Transformer Engine fuses into it
  kRecomputeMoeLayer = 1u << 5,       // moe: the MoE layer: router, shared experts, dispatch, experts, combine
  kRecomputeSharedExperts = 1u << 6,  // shared_experts: the MoE layer's shared experts
};
// The modules whose checkpoint keeps only their input, so that the one whose backward runs holds
// its recomputed activations meanwhile.
constexpr unsigned kCheckpointedModules = kRecomputeDenseMlp | kRecomputeMoeLayer | kRecomputeSharedExperts;
// Selective recomputation without a list of modules.
constexpr unsigned kDefaultRecomputeModules = kRecomputeCoreAttention | kRecomputeLayernorm | kRecomputeMoeActivation;
// The norm before attention, before a dense FFN, and before an MoE layer's router and experts.
enum class NormSite { kAttention, kDenseFfn, kMoe };
// Whether the norm at `site` is a module of its own, which Megatron's layernorm recompute can
// recompute. Megatron's Transformer Engine layers fuse a norm into the one GEMM that reads it
// (LayerNormLinear, which keeps the norm's output for the weight gradient): the QKV projection of
// multi-head and grouped-query attention, a dense FFN's first GEMM. MLA's input norm feeds two
// down-projections, and an MoE layer's the router and the shared experts: those stand alone.
inline bool norm_stands_alone(const models::MoeModel& m, NormSite site) {
  return site == NormSite::kMoe || (site == NormSite::kAttention && m.attention == models::Attention::kMla);
}
// Where an EP group's ranks sit among a stage's GPUs: packed on consecutive GPUs (Megatron's
// order: an EP group inside a node where it fits), or spread one per block of expert-data-parallel
// replicas (an EP group across nodes, the replicas of its experts side by side).
enum class EpLayout { kPacked, kSpread };

// How the GPUs split the work, in Megatron's terms. A pipeline stage's GPUs are tp x cp x dp for
// the dense layers (tensor-, context- and data-parallel) and, folded onto the same GPUs,
// etp x ep x expert-data-parallel for the MoE layers (parallel_layout.h).
struct Parallelism {
  int tp = 1;   // tensor parallel, with sequence parallelism
  int pp = 1;   // pipeline stages
  int vp = 1;   // virtual stages (model chunks) per GPU, for the interleaved schedule
  int cp = 1;   // context parallel: each sequence split over cp GPUs
  int ep = 1;   // expert parallel
  int etp = 1;  // expert tensor parallel
  int dp = 1;   // data parallel: GPUs / (tp x pp x cp)
  // ZeRO stage of the data-parallel sharding: 0 none; 1 optimizer state (Megatron's distributed
  // optimizer); 2 and gradients; 3 and weights (FSDP).
  int zero = 0;
  // ZeRO 3: whether a unit's gathered weights are dropped after its forward and gathered again for
  // its backward (FSDP's reshard_after_forward, its default), or kept from the forward to the
  // backward, which drops them (false: torchtitan's and AutoModel's choice under pipelining).
  bool reshard_after_forward = true;
  Recompute recompute = Recompute::kNone;
  unsigned recompute_modules = kDefaultRecomputeModules;  // RecomputeModule bits, under selective recomputation
  EpLayout ep_layout = EpLayout::kPacked;
  // Megatron's --tp-comm-overlap (Transformer Engine's userbuffers): a block's TP gather runs beside
  // its first GEMM and its scatter beside its last, instead of before and after the block.
  bool tp_comm_overlap = false;
  // Layers per virtual stage in Megatron's layout notation, unrolled (pipeline_layout.h): one string
  // of symbols per virtual stage; empty for the even split (split_layers).
  std::vector<std::string> pipeline_layout;
  // Whether the backward pass recomputes `module` (selective recomputation that lists it).
  bool recomputes(RecomputeModule module) const { return recompute == Recompute::kSelective && (recompute_modules & module) != 0; }
  // Whether an MoE layer's backward runs its forward again first, all-to-alls and experts included.
  bool reruns_moe_layer() const { return recompute == Recompute::kFull || recomputes(kRecomputeMoeLayer); }
  int stage_gpus() const { return tp * cp * dp; }
  int gpus() const { return stage_gpus() * pp; }
  int expert_dp() const { return stage_gpus() / (ep * etp); }
};

// When gradients are reduced over the data-parallel ranks (training.grad_sync).
enum class GradSync { kStep, kRun, kMicroBatch };

struct StepConfig {
  hardware::ClusterSpec cluster;
  models::MoeModel model;
  Parallelism parallel;
  int64_t tokens_per_rank = 0;  // tokens per GPU of a pipeline stage and step, all micro-batches
  int seq_len = 2048;
  int micro_batches = 1;  // per data-parallel rank and step
  int pipeline_runs = 1;  // runs of the pipeline schedule a step, each over micro_batches / pipeline_runs
  // When the data-parallel gradient reductions run: once a step, at the end of each run of the
  // schedule, or after every backward pass. Reduced before the step's end, they hold up the stage's
  // compute until they are done (PyTorch's FSDP and DDP finish their reductions with the backward).
  GradSync grad_sync = GradSync::kStep;
  std::string schedule = "1f1b";  // a pipeline schedule's name (schedule.h)
  // Whether a schedule that splits backwards into input and weight gradients (zero bubble) does;
  // off, each backward runs whole where the schedule puts it (what the split gains).
  bool split_weights = true;
  // Megatron's --delay-wgrad-compute: each layer's weight gradients run beside the all-to-all (or
  // the next layer's) that waits only for its input gradients (schedule overlap).
  bool delay_wgrad = false;
  // Megatron's --ddp-bucket-size: parameters per gradient bucket of the data-parallel reduction
  // (grad_buckets.h); ZeRO-3 (FSDP) and DualPipe reduce each layer on its own.
  double ddp_bucket_params = 40e6;
  // The loss: Megatron's vocab-parallel cross-entropy, which upcasts the logits to FP32, or a fused
  // kernel over the BF16 logits (Transformer Engine's or Megatron's fused cross-entropy).
  bool loss_upcast = true;
  // Where the experts' biases are added (a model with them, models::MoeModel::expert_bias): in the
  // grouped GEMM's epilogue (Transformer Engine's GroupedLinear), free, or apart (AutoModel's
  // torch._grouped_mm path, which has no bias): an add per expert and a concatenation.
  bool expert_bias_apart = false;
  // A clamped GLU's clamps (models::MoeModel::glu_clamp) as kernels of their own, their inputs
  // kept for the backward pass (Megatron), or inside a compiled activation (AutoModel).
  bool glu_clamps_apart = true;
  // Bytes per logit (token x vocabulary entry) the loss keeps for its backward pass: 6 when it
  // upcasts to FP32 and keeps both copies, 2 when it keeps one BF16 tensor.
  double logit_bytes() const { return loss_upcast ? 6.0 : 2.0; }
  // Megatron's --activation-func-fp8-input-store: a gated FFN's activation keeps its input (the
  // first GEMM's output) in FP8 for the backward pass, not BF16.
  bool fp8_activation_input = false;
  // The attention output kept once, in DeepSeek-V3's 12-bit E5M6 (1.5 bytes an element), for
  // FlashAttention's backward and the output projection's weight gradient, instead of Transformer
  // Engine's copies (the projection's input in the GEMMs' precision, and FlashAttention's BF16
  // output beside an FP8 one); a cast to it forward and back from it backward.
  bool e5m6_attention_output = false;
  static constexpr double kE5m6Bytes = 1.5;
  ExpertExecution expert_execution = ExpertExecution::kDropless;
  std::string dispatcher = "alltoall";  // a dispatcher's name (dispatcher.h)
  Dedup dedup = Dedup::kNone;           // what the dispatch sends per token: as the dispatcher fixes it, or dispatch.dedup
  // Bytes per element the dispatch all-to-all moves (FP8 with one FP32 scale per 128 elements:
  // 1.03125) and the combine all-to-all (BF16: 2).
  double dispatch_bytes = 2, combine_bytes = 2;
  int comm_sms = 0;  // SMs a communication kernel holds while compute runs beside it
  MigrationMode migration = MigrationMode::kOverlapped;
  int spare_slots = 0;  // expert slots per GPU beyond experts / ep: their weights also take optimizer steps
};

}  // namespace moesim
