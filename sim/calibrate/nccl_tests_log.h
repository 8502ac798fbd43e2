// A log that one of nccl-tests' *_perf binaries printed (github.com/NVIDIA/nccl-tests), read
// for calibration: which collective, on how many ranks and nodes, and the out-of-place time of
// each size. Versions with and without the `root` column, and multi-node logs (one "# Rank" line
// per rank, as mpirun prints them, possibly prefixed "[1,0]<stdout>:"), are read.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/network/collective_bench.h"

namespace moesim::calibrate {

// A file that is not a usable nccl-tests log: "FILE:LINE: what" (LINE absent when the whole
// file is at fault). Bad input: exit status 2.
struct LogError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct NcclTestsRow {
  int line = 0;
  int64_t bytes = 0;
  double time_us = 0;  // out-of-place
  double busbw = 0;    // GB/s, as printed
};

struct NcclTestsLog {
  std::string path;
  network::CollectiveOp op = network::CollectiveOp::kAllReduce;
  int ranks = 0;
  int nodes = 0;  // distinct hosts of the "# Rank" lines
  std::vector<NcclTestsRow> rows;
};

// The whole of a log file, refused with LogError if it is not a readable regular file of at most
// 64 MB; `kind` names the log in the message ("nccl-tests log").
std::string read_log_file(const std::string& path, const std::string& kind);

// Reads `text` (the contents of `path`, which messages name). The collective comes from the
// "# Collective test starting: NAME" line, or else from the file name (alltoall_perf.log); a log
// that says neither is refused. Throws LogError.
NcclTestsLog parse_nccl_tests_log(const std::string& text, const std::string& path);
// The same from a file.
NcclTestsLog read_nccl_tests_log(const std::string& path);

}  // namespace moesim::calibrate
