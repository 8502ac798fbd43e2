// Replays a recorded trace as the gating source.
//
// With per-rank counts (/rank_counts) whose ranks equal the scenario's data-parallel degree,
// the replay is exact. With per-expert totals only (/expert_counts, e.g. a converted CSV), each
// step's totals become load shares and every rank's tokens are split by them, by largest
// remainder, so any token budget can replay any trace's load distribution.
#pragma once

#include "models/gating/rank_sampling.h"
#include "models/gating/source.h"
#include "models/gating/trace_h5.h"

namespace moesim::gating {

// Throws TraceError (naming file and dataset) when the trace cannot drive `steps` steps of `shape`.
void check_trace_fits(const std::string& path, const TraceInfo& info, const GatingShape& shape, int steps);

class TraceSource final : public Source {
 public:
  TraceSource(const std::string& path, const GatingShape& shape, int steps);
  std::string describe() const override;

 protected:
  void advance(int step) override;
  void fill(const RoutingView& view, RoutingMatrix& out) override;

 private:
  std::string path_;
  GatingShape shape_;
  TraceReader reader_;
  bool exact_;
  std::vector<double> shares_;
  std::vector<std::pair<double, int>> remainders_;
  RoutingMatrix routing_;  // the current step's
};

}  // namespace moesim::gating
