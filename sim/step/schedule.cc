#include "sim/step/schedule.h"

#include <algorithm>

#include "sim/base/registry.h"

namespace moesim {

const ScheduleEntry& schedule_entry_1f1b() {
  static const ScheduleEntry entry{.name = "1f1b", .summary = "one forward, one backward (PipeDream-Flush, Megatron's default)"};
  return entry;
}

const ScheduleEntry& schedule_entry_interleaved() {
  static const ScheduleEntry entry{
      .name = "interleaved", .summary = "1F1B over parallelism.vp model chunks per GPU (Megatron's virtual pipeline)", .interleaved = true};
  return entry;
}

const ScheduleEntry& schedule_entry_overlap() {
  static const ScheduleEntry entry{
      .name = "overlap",
      .summary =
          "1F1B (interleaved with vp > 1) whose steady-state forward and backward run together, each one's all-to-all behind "
          "the other's compute (Megatron's 1F1B all-to-all overlap; with vp 1 the pipeline's own dependencies leave little to "
          "overlap; without a pipeline one forward runs ahead, so that each pairs with the backward before it); "
          "training.delay_wgrad adds Megatron's delayed weight gradients",
      .any_vp = true,
      .overlaps = true};
  return entry;
}

const ScheduleEntry& schedule_entry_dualpipev() {
  static const ScheduleEntry entry{
      .name = "dualpipev",
      .summary =
          "DualPipeV (DeepSeek's DualPipe cut in half): two chunks per GPU in a V, micro-batches fed from stage 0 only, "
          "steady-state forward and backward of different chunks run together, each one's all-to-all behind the other's "
          "compute; some backwards leave their weight gradients to fill the bubbles (zero bubble)",
      .overlaps = true,
      .v_shape = true};
  return entry;
}

const ScheduleEntry& schedule_entry_dualpipe() {
  static const ScheduleEntry entry{
      .name = "dualpipe",
      .summary =
          "DualPipe (DeepSeek-V3): two copies of the model, half the micro-batches fed from stage 0 and half from stage pp - 1, "
          "each stage running DualPipeV's order for its pair of chunks; forward and backward of different chunks run together, "
          "each one's all-to-all behind the other's compute; some backwards leave their weight gradients to fill the bubbles; "
          "the copies sum their gradients between mirror stages",
      .overlaps = true,
      .bidirectional = true};
  return entry;
}

const ScheduleEntry* find_schedule(std::string_view name) { return registry::find(schedule_entries(), name); }
std::vector<std::string> schedule_names() { return registry::names(schedule_entries()); }

VirtualStages virtual_stages(const ScheduleEntry& schedule, int pp, int vp) { return {pp, vp, schedule.v_shape, schedule.bidirectional}; }
VirtualStages virtual_stages(std::string_view schedule, int pp, int vp) { return virtual_stages(*find_schedule(schedule), pp, vp); }

namespace {

// DualPipeV's eight phases (deepseek-ai/DualPipe, dualpipev.py) for stage `stage` of pp and n >=
// 2pp micro-batches, chunk 0 down the V and chunk 1 back up. As there, some backwards defer their
// weight gradients (zero bubble), which run in queue order where the stage would wait: between a
// backward and the forward it makes room for (phase 3), and in the cool-down (phases 7 and 8).
std::vector<PipelineOp> dualpipev_order(int stage, int pp, int n, bool split_weights) {
  std::vector<PipelineOp> order;
  std::vector<PipelineOp> deferred;  // weight passes queued, oldest first
  size_t next_weights = 0;
  int next[2][2] = {{0, 0}, {0, 0}};  // [chunk][backward]: the next micro-batch
  auto pass = [&](int chunk, bool backward, bool overlaps_previous = false, bool defers_weights = false) {
    defers_weights = defers_weights && split_weights;
    order.push_back({next[chunk][backward]++, chunk, backward, overlaps_previous, defers_weights});
    if (defers_weights) deferred.push_back({order.back().micro_batch, chunk, false, false, false, true});
  };
  auto weights = [&] {
    if (split_weights) order.push_back(deferred.at(next_weights++));
  };
  const int tail = pp - stage - 1;
  for (int i = 0; i < 2 * tail; ++i) pass(0, false);
  for (int i = 0; i <= stage; ++i) pass(0, false), pass(1, false);
  for (int i = 0; i < tail; ++i) pass(1, true, false, true), weights(), pass(1, false);
  for (int i = 0; i < n - 2 * pp + stage + 1; ++i) {
    // The turn's first forward and backward run one after the other, to shorten the bubble.
    pass(0, false), pass(1, true, !(i == 0 && stage == pp - 1));
    pass(1, false), pass(0, true, true);
  }
  for (int i = 0; i < tail; ++i) pass(1, true), pass(1, false), pass(0, true, true);
  // Phase 6 defers from its middle on: odd stages from the middle pair's first backward, even
  // stages from its second.
  const int cool = stage + 1;
  for (int i = 0; i < cool; ++i) {
    const bool middle = i == cool / 2, later = i > cool / 2;
    pass(1, true, false, later || (middle && stage % 2 == 1));
    pass(0, true, false, later || middle);
  }
  for (int i = 0; i < tail; ++i) weights(), pass(0, true, false, true);
  while (next_weights < deferred.size()) weights();
  return order;
}

// DualPipe (deepseek-ai/DualPipe, dualpipe.py) is DualPipeV's schedule run by both halves of the
// pipeline at once: stage s and its mirror pp - 1 - s run DualPipeV's order for stage
// min(s, pp - 1 - s) of pp / 2 stages, with n / 2 micro-batches a direction. There a stage's
// chunk 0 is the direction that enters at its own end of the pipeline, so the second half swaps
// them.
std::vector<PipelineOp> dualpipe_order(int stage, int pp, int n, bool split_weights) {
  const int half = pp / 2;
  const bool second_half = stage >= half;
  std::vector<PipelineOp> order = dualpipev_order(std::min(stage, pp - 1 - stage), half, n / 2, split_weights);
  for (PipelineOp& op : order) {
    op.chunk ^= second_half ? 1 : 0;
    if (op.chunk == 1) op.micro_batch += n / 2;
  }
  return order;
}
}  // namespace

std::vector<PipelineOp> repeated_pipeline_order(const ScheduleEntry& schedule, int stage, int pp, int vp, int micro_batches, int runs,
                                                bool split_weights) {
  const int per_run = micro_batches / runs;
  const std::vector<PipelineOp> run = pipeline_order(schedule, stage, pp, vp, per_run, split_weights);
  std::vector<PipelineOp> order;
  order.reserve(run.size() * runs);
  for (int r = 0; r < runs; ++r) {
    for (PipelineOp op : run) {
      op.micro_batch += r * per_run;
      order.push_back(op);
    }
  }
  return order;
}

std::vector<PipelineOp> pipeline_order(const ScheduleEntry& schedule, int stage, int pp, int vp, int micro_batches, bool split_weights) {
  if (schedule.v_shape) return dualpipev_order(stage, pp, micro_batches, split_weights);
  if (schedule.bidirectional) return dualpipe_order(stage, pp, micro_batches, split_weights);
  const int total = micro_batches * vp;
  // Megatron-Core: forward k of the interleaved schedule runs micro-batch group k / (pp x vp),
  // chunk (k / pp) % vp; backwards walk the chunks in reverse.
  auto op = [&](int k, bool backward) {
    const int group = vp > 1 ? k / (pp * vp) : 0, in_group = vp > 1 ? k % (pp * vp) : k;
    const int chunk = vp > 1 ? in_group / pp : 0;
    const int micro_batch = vp > 1 ? group * pp + in_group % pp : k;
    return PipelineOp{micro_batch, backward ? vp - 1 - chunk : chunk, backward, false};
  };
  int warmup = vp > 1 ? (pp - stage - 1) * 2 + (vp - 1) * pp : pp - stage - 1;
  if (vp > 1 && micro_batches == pp) warmup = total;
  // Without a pipeline Megatron's overlap runs one forward ahead, so that micro-batch k + 1's
  // forward pairs with k's backward (combined_1f1b_schedule_for_no_pipelining).
  if (schedule.overlaps && pp == 1) warmup = 1;
  warmup = std::min(warmup, total);
  std::vector<PipelineOp> order;
  order.reserve(2 * static_cast<size_t>(total));
  for (int k = 0; k < warmup; ++k) order.push_back(op(k, false));
  for (int k = 0; k < total - warmup; ++k) {
    order.push_back(op(k + warmup, false));
    order.push_back(op(k, true));
    // A backward cannot run beside its own micro-batch's forward (the last stage of plain 1F1B).
    const PipelineOp& forward = order[order.size() - 2];
    order.back().overlaps_previous =
        schedule.overlaps && (forward.micro_batch != order.back().micro_batch || forward.chunk != order.back().chunk);
  }
  for (int k = total - warmup; k < total; ++k) order.push_back(op(k, true));
  return order;
}

int peak_in_flight(const std::vector<PipelineOp>& order) {
  int now = 0, peak = 0;
  for (const PipelineOp& op : order) {
    if (op.backward && op.defers_weights) continue;
    now += op.backward || op.weights ? -1 : 1;
    peak = std::max(peak, now);
  }
  return peak;
}

double peak_in_flight_bytes(const std::vector<PipelineOp>& order, std::span<const double> chunk_bytes,
                            std::span<const BackwardTransient> transients) {
  // Summed in whole counts per chunk, so that a chunk freed leaves no rounding behind.
  std::vector<int> held(chunk_bytes.size(), 0);
  auto now = [&] {
    double bytes = 0;
    for (size_t c = 0; c < held.size(); ++c) bytes += held[c] * chunk_bytes[c];
    return bytes;
  };
  double peak = 0;
  for (const PipelineOp& op : order) {
    if (op.backward && op.defers_weights) continue;
    const bool frees = op.backward || op.weights;
    const double before = now();
    held[op.chunk] += frees ? -1 : 1;
    const double after = now();
    peak = std::max(peak, after);
    for (const BackwardTransient& t : transients) {
      if (frees && t.chunk == op.chunk) peak = std::max(peak, (t.at_start ? before : after) + t.bytes);
    }
  }
  return peak;
}

}  // namespace moesim
