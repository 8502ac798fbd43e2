// What a GPU holds at its peak, per pipeline stage: weights, gradients and optimizer state after
// ZeRO sharding; the activations of the micro-batches its schedule keeps in flight, after
// recomputation; the LM head's logits on the last stage; all-to-all buffers; and a fixed runtime
// share. The step model's configuration in, bytes out: the scenario validator rejects what does
// not fit, and the summary reports the peak.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sim/step/schedule.h"
#include "sim/step/step_config.h"

namespace moesim {

struct MemoryTerm {
  std::string what;  // "optimizer state"
  double bytes = 0;
  std::string shrink;  // the keys that would shrink it: "parallelism.zero, parallelism.ep"
};

struct StageMemory {
  int stage = 0;
  int in_flight = 0;  // micro-batch chunks whose activations are held at once
  std::vector<MemoryTerm> terms;
  double total() const;
  double bytes_of(std::string_view what) const;  // the term named `what`; 0 where the stage has none
};

// Every stage's memory per GPU, and the stage with the largest total.
struct GpuMemory {
  std::vector<StageMemory> stages;
  const StageMemory& peak() const;
};

// The parameters a GPU of `stage` holds and updates, before ZeRO shards them: its layers' dense
// weights, the embedding on the first stage and the LM head on the last (split over TP); its
// experts, spare slots included (split over ETP). `largest_unit` is the most of them one layer
// (or the embedding, or the LM head) holds sharded over more than one GPU: what ZeRO-3 gathers
// whole for one use; `all_units` the sum over them: what it holds gathered when every unit keeps
// its weights from its forward to its backward (parallelism.reshard_after_forward false).
struct StageParams {
  double dense = 0;
  double experts = 0;
  double largest_unit = 0;
  double all_units = 0;
};
StageParams stage_params(const StepConfig& config, int stage);

// The pipeline stage (GPU) that runs the prediction modules, or -1 without them.
int mtp_stage(const StepConfig& config);

// The embedding that the modules' stage keeps for their lookups of the next tokens (Megatron builds
// it there with them) where the first stage holds the model's own and the LM head is not a copy of
// it (tied), and the modules run on another GPU than the first (not DualPipeV's last virtual stage)
// and not on a DualPipe stage that holds both ends: its parameter count, 0 otherwise.
double mtp_embedding_copy(const StepConfig& config, const models::ParamCounts& params);

// Whether an LM head tied to the embedding keeps a copy of the matrix on its own stage (Megatron,
// where the two ends are on different stages), which that stage's data parallelism reduces before
// the embedding group sums the two. Under DualPipe each end stage holds one copy's embedding and
// the other copy's LM head, one matrix for both roles; on one stage there is one matrix.
bool tied_head_copy(const StepConfig& config, const VirtualStages& where);

// CUDA context, library workspaces and communication library buffers: a fixed estimate.
constexpr double kRuntimeBytes = 2e9;

GpuMemory gpu_memory(const StepConfig& config);

}  // namespace moesim
