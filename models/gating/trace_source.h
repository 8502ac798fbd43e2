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

struct TraceShape {
  int moe_layers = 1;
  int ranks = 1;
  int experts = 1;
  int top_k = 1;
  int64_t tokens_per_rank = 1;
  int steps = 1;
};

// Throws TraceError (naming file and dataset) when the trace cannot drive `shape`.
void check_trace_fits(const std::string& path, const TraceInfo& info, const TraceShape& shape);

class TraceSource final : public Source {
 public:
  TraceSource(const std::string& path, const TraceShape& shape);
  void next(int step, RoutingMatrix& out) override;
  std::string describe() const override;

 private:
  std::string path_;
  TraceShape shape_;
  TraceReader reader_;
  bool exact_;
  std::vector<double> shares_;
  std::vector<std::pair<double, int>> remainders_;
};

}  // namespace moesim::gating
