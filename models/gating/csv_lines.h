// Reading CSV input a line at a time, with a bound on a line's length: a longer line (a binary
// file, /dev/zero) is reported as soon as it is seen rather than after reading it whole.
#pragma once

#include <istream>
#include <string>

namespace moesim::gating {

inline constexpr size_t kMaxCsvLine = 4096;

// Reads line `number` of `path` into `line`, without its newline (or a carriage return before
// it); false at the end of the input. Throws TraceError when the line passes kMaxCsvLine
// characters, saying it is not `what` (e.g. "a CSV trace of step,layer,expert,tokens").
bool read_csv_line(std::istream& in, std::string& line, const std::string& path, int number, const std::string& what);

}  // namespace moesim::gating
