// What the step model needs to know, as plain data: the cluster, the model, how experts are laid
// out and executed, how tokens are dispatched and how a policy's moves travel. The orchestration
// layer (runner.h: step_config) builds it from a scenario; nothing here knows the scenario.
#pragma once

#include <cstdint>

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

struct StepConfig {
  hardware::ClusterSpec cluster;
  models::MoeModel model;
  int ep = 1;                   // GPUs an MoE layer's experts are split over
  int dp = 1;                   // data-parallel GPUs: all of them
  int64_t tokens_per_rank = 0;  // tokens per GPU and step
  int seq_len = 2048;
  ExpertExecution expert_execution = ExpertExecution::kDropless;
  Dedup dedup = Dedup::kNone;
  MigrationMode migration = MigrationMode::kOverlapped;
  int spare_slots = 0;  // expert slots per GPU beyond experts / ep: their weights also take optimizer steps
};

}  // namespace moesim
