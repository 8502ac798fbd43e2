// Training steps and a trace's records: a trace logged every `stride` training steps holds record
// i at step first_step + i * stride (trace_h5.h). What happens between two records is not known;
// replay and prediction fill it in one of two ways.
#pragma once

#include <string_view>

namespace moesim::gating {

enum class Between {
  kHold,    // a step takes the last record at or before it (the default: only recorded counts)
  kLinear,  // a step between two records blends them by its distance to each
};
inline constexpr std::string_view kBetweenNames[] = {"hold", "linear"};

// Where training step `step` (counted from the first record) falls among `records` records.
struct RecordPosition {
  int before = 0;     // the record at or before the step
  int after = 0;      // the next record (== before when the step is on a record, or past the last)
  double weight = 0;  // of `after`, in [0, 1)
};

inline RecordPosition record_at(int step, int stride, int records, Between between) {
  RecordPosition p;
  p.before = step / stride;
  p.after = p.before;
  const int into = step % stride;
  if (between == Between::kLinear && into > 0 && p.before + 1 < records) {
    p.after = p.before + 1;
    p.weight = static_cast<double>(into) / stride;
  }
  return p;
}

// Records a run of `steps` training steps reads (a step past the last record would need another).
inline int records_needed(int steps, int stride) { return steps <= 0 ? 0 : (steps - 1) / stride + 1; }

}  // namespace moesim::gating
