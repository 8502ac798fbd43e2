// The cost model of a step's parts that do not depend on routing or placement: every kernel's time
// per micro-batch (compute_model.h), the tensor-, context- and pipeline-parallel transfers, the
// gradient reductions and weight gathers of data parallelism, the optimizer step, and what moving
// an expert weighs. Computed once per run.
#pragma once

#include <cstdint>
#include <vector>

#include "policies/placement/placement.h"
#include "sim/network/network_model.h"
#include "sim/step/gemm_shapes.h"
#include "sim/step/parallel_layout.h"
#include "sim/step/schedule.h"
#include "sim/step/step_config.h"

namespace moesim {

struct StepCosts {
  explicit StepCosts(const Parallelism& p) : layout(p) {}

  ParallelLayout layout;
  int gpus = 1, stage_gpus = 1, ep = 1, groups = 1;  // GPUs, GPUs per stage, EP group size, EP groups per stage
  int pp = 1, vp = 1, micro_batches = 1;
  std::vector<int> layer_to_moe;                 // model layer -> MoE layer index, or -1
  std::vector<int> moe_layers;                   // MoE layer index -> model layer
  VirtualStages virtual_layout;                  // which stage and chunk runs each virtual stage
  std::vector<std::vector<int>> virtual_stages;  // [virtual stage] -> its layers, in order
  int mtp_virtual_stage = -1;                    // the one that holds the prediction modules, or -1
  std::vector<int> stage_of_layer;               // model layer -> pipeline stage (DualPipe: its first copy's)
  // Gradient units: the model's layers by index, then the LM head's and the word embedding's where
  // their virtual stage holds no layer (layouts "...|L" and "E|..."): such a chunk's gradients are
  // its own GPUs' to reduce. The embedding's unit and the LM head's (the layer count, as the LM
  // head's tasks are tagged), or -1 where it counts with the first or the last layer.
  int end_unit[2] = {-1, -1};
  std::vector<uint8_t> first_moe_of_chunk;   // model layer -> whether it is its virtual stage's first MoE layer
  std::vector<std::vector<int>> ep_groups;   // [group] -> local indices of its GPUs in a stage
  std::vector<std::vector<int>> edp_groups;  // [ep rank] -> local indices of the GPUs holding its experts

  double rows = 0;  // tokens per GPU and micro-batch entering an MoE layer (sequence-parallel shard)
  // Per routed expert: forward FLOPs per token, and the bytes of its state (weights, gradients,
  // optimizer state) that a move carries.
  double expert_flops_per_token = 0, expert_state_bytes = 0;
  // One routed expert's GEMMs on a GPU (its 1/etp slice): their HBM traffic and the compute
  // model's width term.
  GemmTraffic expert_traffic;
  double expert_width = 1;
  Bytes expert_elementwise_bytes;      // per routed token row: permute, activation, unpermute, biases added apart
  int expert_elementwise_kernels = 3;  // the kernels that move it, forward
  // Per routed token row, quantizing the experts' GEMM inputs (forward) and output gradients
  // (backward) for FP8, and the kernels that takes each way (models::fp8_quantization).
  Bytes expert_quantize_forward, expert_quantize_backward;
  int expert_quantize_kernels = 0;
  // Per routed token row on a GPU, what the backward pass does again under moe_act (selective
  // recompute): the activation, and under FP8 the second GEMM's input cast again for its weight
  // gradient (Megatron keeps that input unquantized so that it can be freed and recomputed).
  Bytes expert_recompute_bytes;
  int expert_recompute_kernels = 0;

  // Forward times per GPU and micro-batch, norms, other memory-bound kernels and FP8 casts
  // included; the LM head's forward and backward with the loss's (each pass through it).
  Duration attention_fwd, dense_ffn_fwd, gate_fwd, shared_fwd, lm_head;
  // The model's final norm before its LM head, forward and backward; the word embedding's lookup
  // (forward) and weight gradient (backward), on its stage and, for each prediction module's
  // lookup of the next tokens, on the modules'.
  Duration final_norm, embedding_fwd, embedding_bwd;
  // Backward times (input and weight gradients): twice the forward's GEMMs and memory-bound
  // kernels, with the output gradients' FP8 casts in place of the inputs'.
  Duration attention_bwd, dense_ffn_bwd, shared_bwd;
  // Their weight gradients' share of the backward (a weight's gradient takes its forward GEMM's
  // FLOPs), which a zero-bubble schedule runs apart (PipelineOp::weights).
  Duration attention_wgrad, dense_ffn_wgrad, gate_wgrad, shared_wgrad;
  // What the backward pass recomputes per layer (recompute: selective or full), besides the above.
  Duration attention_recompute, dense_ffn_recompute, moe_recompute;
  // A prediction module's own part before its layer (its norms, concatenation and projection),
  // forward, backward (with what full recomputation runs again) and its weight gradient; zero
  // without prediction modules. Their LM head passes are `lm_head` each.
  Duration mtp_fwd, mtp_bwd, mtp_wgrad;
  std::vector<Duration> optimizer;  // per stage

  // Collectives of groups that differ only in which GPUs they join. Under a network model whose
  // collectives share links each group has its own (its flows take its links); otherwise one
  // serves every group (`per_group` false), and the accessors below return it.
  bool per_group = false;
  // Per micro-batch and layer, by GPU: one sequence-parallel all-gather or reduce-scatter in its
  // TP group (2 per MoE layer, 4 per dense layer, each way), the CP exchange of keys and values,
  // and the activations (forward) or gradients (backward) it sends the neighbouring stage.
  std::vector<network::CollectiveCost> tp_collective, cp_exchange, send_next, send_previous;  // sends to stage + 1, stage - 1 (mod pp)
  // Per LM head pass, by GPU: the vocabulary-parallel loss's all-reduces in its TP group.
  std::vector<network::CollectiveCost> loss_all_reduce;
  // The same sends from the prediction modules' virtual stage on, where it is not the last: the
  // hidden states with the modules'. Empty otherwise.
  std::vector<network::CollectiveCost> send_next_wide, send_previous_wide;
  // Per gradient unit (a layer, or an end's own chunk) and TP rank: the dense gradient bucket's
  // reduction over the data-parallel group, and the gather of its weights (ZeRO >= 1), where the
  // unit is the bucket's lowest (none elsewhere).
  std::vector<std::vector<network::CollectiveCost>> dense_grad, param_gather;
  std::vector<double> dense_grad_bytes;  // per unit
  // Per unit, the bytes of the gradient bucket whose reduction starts after its backward (0: none;
  // dense_grad holds no cost there).
  std::vector<double> dense_bucket_bytes;
  // Per unit, then stage x ep + EP rank: the expert gradient bucket whose reduction over the
  // expert-data-parallel group starts after that layer's backward, and the gather of its weights
  // (ZeRO >= 1) before that layer's forward (none where the layer is no bucket's lowest, or its
  // stage does not hold it).
  std::vector<std::vector<network::CollectiveCost>> expert_grad, expert_gather;
  std::vector<double> expert_bucket_bytes;  // per unit, as dense_bucket_bytes
  // DualPipe, per unit: the two copies' gradients summed between mirror GPUs (stage s and pp - 1 - s,
  // the same local index), after each copy's data-parallel reductions, so over their shards.
  std::vector<network::CollectiveCost> mirror_grad;
  std::vector<double> mirror_grad_bytes;
  // Megatron's embedding group: where the word embedding's gradient lives on two pipeline stages (an
  // LM head tied to it on another stage, or the prediction modules' copy), the two sum it, whole, after
  // every data-parallel reduction and before the optimizer (finalize_model_grads). The two stages
  // (-1: no group), the sum's cost between one pair of their GPUs, its bytes.
  int embedding_group[2] = {-1, -1};
  network::CollectiveCost embedding_grad;
  double embedding_grad_bytes = 0;
  double expert_grad_bytes = 0;       // per GPU and MoE layer
  double expert_copy_grad_bytes = 0;  // one expert's gradient on one GPU (a copy's, which its replicas reduce)
  double comm_slowdown = 1;           // compute time while a communication kernel holds dispatch.comm_sms SMs
  // Per stage x group: the dispatcher's count exchange before each dispatch (the same for every
  // MoE layer of the stage).
  std::vector<Duration> count_exchange;

  int units() const { return static_cast<int>(stage_of_layer.size()) + 2; }
  // The word embedding's tag layer (its tasks') and, where it has a virtual stage of its own, its
  // gradient unit: the layer count plus one.
  int embedding_unit() const { return static_cast<int>(stage_of_layer.size()) + 1; }
  // Whether the embedding runs with `layer`, the first, in the virtual stage they share.
  bool embeds_with(int layer) const { return layer == 0 && end_unit[0] < 0; }
  // The stage of a gradient unit (DualPipe: its first copy's).
  int stage_of_unit(int unit) const {
    if (unit < static_cast<int>(stage_of_layer.size())) return stage_of_layer[unit];
    return virtual_layout.stage_of(unit == end_unit[0] ? 0 : virtual_layout.count() - 1);
  }
  // The unit of an end's own virtual stage `v` (holding no layer), or -1.
  int end_unit_of(int v) const { return v == 0 ? end_unit[0] : v + 1 == virtual_layout.count() ? end_unit[1] : -1; }

  // Whether `stage` holds `layer` (DualPipe: either copy).
  bool holds(int stage, int layer) const {
    const int first = stage_of_layer[layer];
    return first == stage || (virtual_layout.bidirectional && pp - 1 - first == stage);
  }
  size_t by_gpu(int gpu) const { return per_group ? static_cast<size_t>(gpu) : 0; }
  size_t by_tp_rank(int gpu) const { return per_group ? static_cast<size_t>(layout.coordinates(gpu).tp) : 0; }
  size_t by_ep_rank(int stage, int ep_rank) const { return per_group ? static_cast<size_t>(stage) * ep + ep_rank : 0; }
};

StepCosts step_costs(const StepConfig& config, network::NetworkModel& network);

// Linear estimates for policies that weigh gains against moves: the busiest rank's expert
// compute (forward and backward) and all-to-all time for a whole layer's tokens of an EP group,
// the time to move one expert's state over the slowest link between two of its GPUs, and the
// all-to-all time saved when a layer's tokens send one copy fewer.
policies::PlacementCosts placement_costs(const StepConfig& config, const StepCosts& costs);

}  // namespace moesim
