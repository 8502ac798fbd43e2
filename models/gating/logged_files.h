// Finding a run's logged files by name: one file per logged step (and per rank), named by a
// pattern such as `table_iter{step}_rank{rank}.log`. What the trace importers that read a file per
// step share (trace_tables, trace_torch).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moesim::gating {

struct LoggedFile {
  int64_t step;
  int rank;  // 0 when the pattern has no {rank}
  std::string path;
};

struct LoggedFiles {
  std::vector<LoggedFile> files;  // by step, then rank: files[record * ranks + rank]
  std::vector<int64_t> steps;     // each step once, ascending
  int ranks = 1;                  // ranks per step (1 when the pattern has no {rank})
  bool per_rank = false;          // the pattern has {rank}
};

// The files among `inputs` (files, or folders whose files matching `pattern` are taken) whose
// names match `pattern`: {step} once, {rank} once or (unless `rank_required`) not at all, each
// standing for digits. Every rank must have a file for every step. Throws TraceError naming the
// first input that does not match or the first file that is missing.
LoggedFiles find_logged_files(const std::vector<std::string>& inputs, const std::string& pattern, bool rank_required);

}  // namespace moesim::gating
