// Pipeline schedules: the order in which a pipeline stage runs the forward and backward passes of
// its micro-batches and model chunks. The bubble is not a formula here: the step DAG chains each
// stage's passes in this order, and the idle time comes out of the dependencies between stages.
//
// Schedules are registry entries (sim/step/CMakeLists.txt, moesim_registry), picked by the
// scenario's `schedule:` key.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moesim {

// One pass of one micro-batch through one model chunk on a stage. Virtual stage chunk x pp +
// stage holds the chunk's layers.
struct PipelineOp {
  int micro_batch = 0;
  int chunk = 0;
  bool backward = false;
  // Runs together with the op before it (a forward and a backward of different micro-batches):
  // each waits only for its own inputs, so one's all-to-all hides behind the other's compute.
  bool overlaps_previous = false;
  // Zero bubble's split of a backward (Qi et al. 2023, as DualPipe uses it): this backward computes
  // only the gradients of its inputs, which the stage before waits for, and leaves those of its
  // weights to a later `weights` op of the same micro-batch and chunk.
  bool defers_weights = false;
  // The weight gradients a backward deferred: compute only, waiting for no other stage, placed
  // where the stage would otherwise idle. Its activations are freed here, not at the backward.
  bool weights = false;
};

struct ScheduleEntry {
  std::string_view name;
  std::string_view summary;
  bool interleaved = false;    // needs parallelism.vp > 1
  bool any_vp = false;         // runs with vp 1 (as 1F1B) or vp > 1 (as interleaved)
  bool overlaps = false;       // pairs steady-state forwards and backwards (PipelineOp::overlaps_previous)
  bool v_shape = false;        // two chunks per GPU in a V (VirtualStages); needs vp 2 and 2 x pp micro-batches
  bool bidirectional = false;  // two copies of the model fed from both ends (VirtualStages); needs vp 2, an even pp and an even
                               // number of at least 2 x pp micro-batches
};

// Where the model's virtual stages (its layers split in pp x vp consecutive runs) live: virtual
// stage v runs on pipeline stage stage_of(v), as the chunk c with virtual_stage(stage, c) = v. Megatron's chunks
// loop over the stages (v = chunk x pp + stage); a V shape (DualPipeV) goes down the stages and
// back up (stage s holds v = s and v = 2pp - 1 - s), so the embedding and the LM head share stage
// 0 and the turn at stage pp - 1 needs no transfer. DualPipe (bidirectional) splits the model in pp
// virtual stages and keeps two copies: the first half of the micro-batches enters at stage 0 and
// runs virtual stage v on stage v (chunk 0), the second half enters at stage pp - 1 and runs it on
// stage pp - 1 - v (chunk 1), so each stage holds virtual stages s and pp - 1 - s.
struct VirtualStages {
  int pp = 1;
  int vp = 1;
  bool v_shape = false;
  bool bidirectional = false;
  int count() const { return bidirectional ? pp : pp * vp; }
  int virtual_stage(int stage, int chunk) const {
    if (bidirectional) return chunk == 0 ? stage : pp - 1 - stage;
    return v_shape && chunk == 1 ? 2 * pp - 1 - stage : chunk * pp + stage;
  }
  // The direction a micro-batch runs in: 0, or 1 for DualPipe's second half (from stage pp - 1).
  int direction(int micro_batch, int micro_batches) const { return bidirectional && 2 * micro_batch >= micro_batches ? 1 : 0; }
  // The stage that runs virtual stage v for micro-batches of `direction`.
  int stage_of(int v, int direction = 0) const {
    if (bidirectional) return direction == 0 ? v : pp - 1 - v;
    return v_shape && v >= pp ? 2 * pp - 1 - v : v % pp;
  }
  // The micro-batches each chunk of a stage runs.
  int micro_batches_per_chunk(int micro_batches) const { return bidirectional ? micro_batches / 2 : micro_batches; }
};
VirtualStages virtual_stages(const ScheduleEntry& schedule, int pp, int vp);
// By the schedule's name, which must be registered.
VirtualStages virtual_stages(std::string_view schedule, int pp, int vp);

std::span<const ScheduleEntry* const> schedule_entries();
const ScheduleEntry* find_schedule(std::string_view name);
std::vector<std::string> schedule_names();

// Stage `stage`'s passes in program order: Megatron-Core's 1F1B order (warm-up forwards, then one
// forward and one backward at a time, then the remaining backwards), over model chunks as its
// interleaved schedule orders them when vp > 1 (micro-batches in groups of pp); DualPipeV's order
// for a V-shaped schedule; DualPipe's for a bidirectional one.
// Without `split_weights` no backward defers its weight gradients.
std::vector<PipelineOp> pipeline_order(const ScheduleEntry& schedule, int stage, int pp, int vp, int micro_batches,
                                       bool split_weights = true);

// Gradient accumulation as PyTorch's pipelining runs it (AutoModel, torchtitan): the stage's
// order for micro_batches / runs micro-batches, run `runs` times over successive micro-batches.
// Each run ends with the stage's last backward, so the next fills the pipeline again.
std::vector<PipelineOp> repeated_pipeline_order(const ScheduleEntry& schedule, int stage, int pp, int vp, int micro_batches, int runs,
                                                bool split_weights = true);

// The most micro-batch chunks whose forward has run and whose backward (or deferred weight
// gradients) has not, at any point of `order`: whose activations the stage holds at once.
int peak_in_flight(const std::vector<PipelineOp>& order);
// A buffer that a stage holds for a moment in every backward pass of one chunk (or in its deferred
// weight gradients, which free the chunk): at the pass's start, beside all the activations held
// before it, or at its end, after the chunk's activations are freed. An embedding's dense gradient.
struct BackwardTransient {
  int chunk = 0;
  double bytes = 0;
  bool at_start = false;
};

// The same peak in bytes, each chunk's micro-batch holding `chunk_bytes[op.chunk]`: what the
// stage's activations reach where its chunks differ (the last holding the prediction modules);
// with `transients`, the most that activations and a transient reach together.
double peak_in_flight_bytes(const std::vector<PipelineOp>& order, std::span<const double> chunk_bytes,
                            std::span<const BackwardTransient> transients = {});

}  // namespace moesim
