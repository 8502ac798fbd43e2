// Traces as CSV: a header naming the columns, in any order: step, layer, expert and tokens, and
// optionally rank (the source rank) and microbatch; then one row per count. MoE layers are numbered
// 0..L-1 over MoE layers only; experts and ranks from 0; missing cells are 0. Counts are whole
// numbers, written as integers or as integral floats ("5.0"); micro-batches of a step are summed.
#pragma once

#include <string>

#include "models/gating/trace_import.h"

namespace moesim::gating {

// How the steps of a CSV become records.
enum class CsvSteps {
  kDense,     // every step from 0 to the last is a record (steps not in the file are all zeros)
  kAsLogged,  // the steps in the file are the records, evenly spaced (their spacing is the stride)
};

// Reads a CSV trace; throws TraceError naming the file and line for bad input.
ImportedCounts read_csv_counts(const std::string& csv_path, CsvSteps steps);

// `moesim trace convert`: a CSV trace with dense steps into the HDF5 layout. Writes nothing on failure.
void convert_csv_trace(const std::string& csv_path, const std::string& h5_path);

}  // namespace moesim::gating
