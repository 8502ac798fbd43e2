// Per-iteration, per-rank count tables, as training runs log them: one text file per logged
// iteration and rank, named by a pattern such as `table_iter{step}_rank{rank}.log`, holding one
// line per MoE layer. A line is an optional label, then the counts of each micro-batch as a
// bracketed list of one count per expert:
//
//   [[5.0, 0.0, 12.0, 3.0], [4.0, 1.0, 10.0, 5.0]]      (two micro-batches, four experts)
//   layer 3: [5, 0, 12, 3] [4, 1, 10, 5]                 (the same, another logger)
//
// Counts are whole numbers, as integers or integral floats; separators are commas or blanks.
// A step's micro-batches are summed. The iterations must be evenly spaced (their spacing is the
// trace's stride) and every rank must have a file for every iteration.
#pragma once

#include <string>
#include <vector>

#include "models/gating/trace_import.h"

namespace moesim::gating {

inline constexpr const char* kDefaultTablePattern = "table_iter{step}_rank{rank}.log";

// Reads the tables among `inputs` (files, or folders whose files matching `pattern` are read).
// Throws TraceError naming the file, line and column of the first bad count.
ImportedCounts read_count_tables(const std::vector<std::string>& inputs, const std::string& pattern);

}  // namespace moesim::gating
