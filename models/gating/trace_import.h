// What every trace importer shares: the counts it read, as a dense table of records, checked as
// a whole (training steps evenly spaced, each rank's layers routing the same number of
// assignments, totals a multiple of top-k and equal to tokens x top-k where both are known) and
// written as a trace. Each importer (trace_csv, trace_tables, trace_torch) only parses its format.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace moesim::gating {

// What the user states about a trace that its files do not say (0: unknown).
struct ImportOptions {
  int top_k = 0;
  int64_t tokens_per_step = 0;  // tokens of one training step, over every rank
  int stride = 0;               // training steps between records; 0: from the records' steps
  std::string model;
};

// Counts of `records` records, [record][layer][rank][expert]; ranks = 0 means per-expert totals
// (one row per layer).
struct ImportedCounts {
  std::string source;          // the file or folder read: what errors name
  std::string generator;       // "imported from ..." for the trace's provenance
  std::vector<int64_t> steps;  // training step of each record, ascending
  int layers = 0, ranks = 0, experts = 0;
  std::vector<int64_t> counts;
  // Where in `source` a (record, layer, rank) came from, for messages: "line 4", "FILE: line 4"
  // ("" when unknown).
  std::function<std::string(int record, int layer, int rank)> locate;

  int rows() const { return ranks > 0 ? ranks : 1; }
  void resize(int record_count, int layer_count, int rank_count, int expert_count);
  int64_t& at(int record, int layer, int rank, int expert) {
    return counts[((static_cast<size_t>(record) * layers + layer) * rows() + rank) * experts + expert];
  }
  int64_t at(int record, int layer, int rank, int expert) const {
    return counts[((static_cast<size_t>(record) * layers + layer) * rows() + rank) * experts + expert];
  }
};

// The most counts an import holds (512 MB of them), checked before anything that size is allocated.
inline constexpr double kMaxImportedCounts = double(int64_t{1} << 26);

// A count as loggers write them: an integer, or a float with no fractional part ("5.0", "5e3").
// False for anything else (fractions, NaN, text); the sign is left to the caller.
bool parse_whole_number(const char* first, const char* last, int64_t& out);

// Checks `counts` with `options` and writes them to `h5_path` (through a temporary: nothing is
// left on failure). Throws TraceError naming the first bad record, layer and rank and where it
// came from.
void write_imported_trace(const ImportedCounts& counts, const ImportOptions& options, const std::string& h5_path);

// The training step between records that evenly spaced `steps` imply (1 for a single record),
// checked against a stated one (0: none). Throws TraceError(source) naming the first gap that
// breaks the spacing.
int record_stride(const std::vector<int64_t>& steps, int stated, const std::string& source);

}  // namespace moesim::gating
