// The timeline of a simulated step: one span per task and GPU stream it occupied, with the tokens
// and bytes it handled (what results/timeline_json.h writes for Perfetto).
#pragma once

#include <vector>

#include "sim/base/units.h"
#include "sim/step/executed_step.h"
#include "sim/step/task_kind.h"

namespace moesim {

// One task of a simulated step on one GPU stream: a timeline entry. A collective gives one span
// per GPU it occupies. Only simulated GPUs appear (lanes.h): each stands for the GPUs that do the
// same work.
struct TimelineSpan {
  int step = 0;
  int gpu = 0;
  LaneStream stream = LaneStream::kCompute;  // which of the GPU's streams (step_dag.h)
  bool backward = false;                     // in the backward pass (the optimizer step counts as backward)
  TaskKind kind = TaskKind::kAttention;
  int layer = 0;  // model layer; the LM head and the optimizer step: the layer count (StepCosts::end_unit)
  int micro_batch = 0;
  int stage = 0;   // pipeline stage of the GPU
  Duration start;  // from the start of the run
  Duration duration;
  double tokens = 0;  // token rows this GPU computes on, or sends in an all-to-all
  double bytes = 0;   // bytes this GPU sends (all-to-all, migration) or reduces (all-reduce)
};

// Appends `executed`'s tasks as step `step`, with `offset` added to their times (where the step
// starts within the run).
void append_timeline(const ExecutedStep& executed, int step, Duration offset, std::vector<TimelineSpan>& out);

}  // namespace moesim
