// Routing traces in HDF5: the only code (with trace_csv) that knows the trace formats.
//
// Layout (version 1), documented in models/gating/README.md:
//   /rank_counts    int32 [steps][moe_layers][ranks][experts]  token assignments per source rank
//   /expert_counts  int32 [steps][moe_layers][experts]         per expert, summed over ranks
// A trace has at least one of the two; a replay is exact with rank_counts and scaled from
// expert_counts otherwise. Counts are routed assignments before capacity. Root attributes:
// format ("moesim-trace"), version (1), model, top_k, tokens_per_step, seed, generator,
// scenario (the generating scenario, resolved, when moesim wrote it), and stride and first_step
// (record i is training step first_step + i * stride; a trace without them has stride 1 from 0).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/gating/routing_matrix.h"

namespace moesim::gating {

// A bad or unreadable trace: names the file and the dataset or attribute.
class TraceError : public std::runtime_error {
 public:
  TraceError(const std::string& file, const std::string& dataset, const std::string& message)
      : std::runtime_error(file + (dataset.empty() ? "" : ":" + dataset) + ": " + message) {}
};

struct TraceInfo {
  int steps = 0;
  int moe_layers = 0;
  int experts = 0;
  int ranks = 0;                // 0: no per-rank counts
  int top_k = 0;                // 0: unknown
  int64_t tokens_per_step = 0;  // 0: unknown
  uint64_t seed = 0;
  // Record i holds training step first_step + i * stride: a run logged every 10th step has stride 10.
  int stride = 1;
  int64_t first_step = 0;
  std::string model, generator, scenario;
};

// Writes a trace step by step to `path` + ".tmp", renamed to `path` by finish(). A writer
// destroyed without finish() removes its temporary file: no partial trace is ever left.
class TraceWriter {
 public:
  // `ranks` = 0 writes expert_counts only.
  TraceWriter(const std::string& path, const TraceInfo& info);
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;
  // Appends one step; `routing` has the info's shape.
  void write_step(const RoutingMatrix& routing);
  // Appends one step of per-expert totals, [moe_layers][experts]; only for ranks = 0.
  void write_step_totals(const std::vector<int32_t>& totals);
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a trace; validates the layout on open. Throws TraceError.
class TraceReader {
 public:
  explicit TraceReader(const std::string& path);
  ~TraceReader();
  const TraceInfo& info() const;
  // Per-rank counts of `step` into `out` (sized [moe_layers][ranks][experts]); requires ranks > 0.
  void read_rank_counts(int step, RoutingMatrix& out) const;
  // Per-expert totals of `step`, [moe_layers][experts].
  std::vector<int64_t> read_expert_counts(int step) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moesim::gating
