// Replays a recorded trace as the gating source.
//
// With per-rank counts (/rank_counts) whose ranks equal the scenario's data-parallel degree,
// the replay is exact. With per-expert totals only (/expert_counts, e.g. a converted CSV), each
// step's totals become load shares and every rank's tokens are split by them, by largest
// remainder, so any token budget can replay any trace's load distribution.
//
// Steps are training steps: a trace logged every `stride` steps serves `stride` steps per record,
// each holding the last record (Between::kHold, the default) or blending the two around it
// (kLinear: counts rounded by largest remainder to each rank's total).
#pragma once

#include <optional>

#include "models/gating/rank_sampling.h"
#include "models/gating/record_steps.h"
#include "models/gating/source.h"
#include "models/gating/trace_h5.h"

namespace moesim::gating {

// Throws TraceError (naming file and dataset) when the trace cannot drive `steps` training steps of
// `shape`.
void check_trace_fits(const std::string& path, const TraceInfo& info, const GatingShape& shape, int steps);

class TraceSource final : public Source {
 public:
  TraceSource(const std::string& path, const GatingShape& shape, int steps, Between between = Between::kHold);
  std::string describe() const override;

 protected:
  void advance(int step) override;
  void fill(const RoutingView& view, RoutingMatrix& out) override;

 private:
  // A record's counts: per rank (exact) or per expert, [layer][expert] (totals); read once.
  struct Record {
    int index = -1;
    RoutingMatrix ranks;
    std::vector<int64_t> totals;
  };
  const Record& record(int index);
  void read_exact(int index, RoutingMatrix& out) const;
  void split_totals(const std::vector<double>& totals, int step);
  // Rounds `values` (non-negative, summing to `total` up to rounding) to integers that sum to
  // `total`, by largest remainder, ties rotated by `rotate`.
  void round_to(const std::vector<double>& values, int64_t total, int rotate, std::span<int32_t> out);

  std::string path_;
  GatingShape shape_;
  TraceReader reader_;
  bool exact_;
  Between between_;
  Record records_[2];  // the two last read
  std::vector<double> shares_, blend_;
  std::vector<std::pair<double, int>> remainders_;
  RoutingMatrix routing_;    // the current step's
  int routing_record_ = -1;  // the record routing_ holds as read, if any
};

}  // namespace moesim::gating
