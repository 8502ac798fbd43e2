#include "models/gating/trace_csv.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>
#include <vector>

#include "models/gating/csv_lines.h"
#include "models/gating/trace_h5.h"

namespace moesim::gating {
namespace {

constexpr const char* kWhat = "a CSV trace of step,layer,expert,tokens";
// Omitted counts are zeros, so a few lines can describe a vast dense trace, which would take
// minutes and gigabytes to write: a CSV may describe at most 1,024 counts per line it gives (a
// real trace gives most of its counts) or 2^22 in all, whichever is more.
constexpr double kCountsPerLine = 1024;
constexpr double kMinCountLimit = double(1 << 22);

}  // namespace

void convert_csv_trace(const std::string& csv_path, const std::string& h5_path) {
  if (std::filesystem::is_directory(csv_path)) throw TraceError(csv_path, "", "is a directory, expected a CSV trace");
  std::ifstream in(csv_path, std::ios::binary);
  if (!in) throw TraceError(csv_path, "", "cannot open the file");
  std::string line;
  if (!read_csv_line(in, line, csv_path, 1, kWhat))
    throw TraceError(csv_path, "line 1", "the file is empty: expected the header step,layer,expert,tokens");
  if (line != "step,layer,expert,tokens") {
    throw TraceError(csv_path, "line 1", "expected the header step,layer,expert,tokens, got '" + line + "'");
  }
  std::map<std::tuple<int, int, int>, int64_t> cells;
  int steps = 0, layers = 0, experts = 0;
  int64_t lines = 0;
  for (int number = 2; read_csv_line(in, line, csv_path, number, kWhat); ++number) {
    if (line.empty()) continue;
    int64_t v[4];
    const char* p = line.data();
    const char* end = line.data() + line.size();
    for (int i = 0; i < 4; ++i) {
      auto [next, ec] = std::from_chars(p, end, v[i]);
      const bool separator_ok = i < 3 ? (next < end && *next == ',') : next == end;
      if (ec != std::errc() || !separator_ok) {
        throw TraceError(csv_path, "line " + std::to_string(number), "expected four integers step,layer,expert,tokens, got '" + line + "'");
      }
      p = next + 1;
    }
    if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0 || v[0] > (1 << 24) || v[1] > 4096 || v[2] > 65536 || v[3] > INT32_MAX) {
      throw TraceError(csv_path, "line " + std::to_string(number), "expected non-negative values in range, got '" + line + "'");
    }
    cells[{static_cast<int>(v[0]), static_cast<int>(v[1]), static_cast<int>(v[2])}] += v[3];
    ++lines;
    steps = std::max(steps, static_cast<int>(v[0]) + 1);
    layers = std::max(layers, static_cast<int>(v[1]) + 1);
    experts = std::max(experts, static_cast<int>(v[2]) + 1);
  }
  if (cells.empty()) throw TraceError(csv_path, "", "no counts after the header");
  // Bounded before anything is allocated or written.
  const double total = static_cast<double>(steps) * layers * experts;
  const double limit = std::max(kMinCountLimit, kCountsPerLine * static_cast<double>(lines));
  if (total > limit) {
    char described[64];
    std::snprintf(described, sizeof described, "%.0f", total);
    throw TraceError(csv_path, "",
                     "its largest step, layer and expert (" + std::to_string(steps - 1) + ", " + std::to_string(layers - 1) + ", " +
                         std::to_string(experts - 1) + ") describe a dense trace of " + described + " counts from " +
                         std::to_string(lines) + (lines == 1 ? " line" : " lines") +
                         ": omitted counts are zeros, and a CSV may describe at most 1024 counts per line it gives "
                         "(or 4194304 in all); give the counts of the steps, layers and experts you mean");
  }
  TraceInfo info;
  info.steps = steps;
  info.moe_layers = layers;
  info.experts = experts;
  info.generator = "converted from " + csv_path;
  TraceWriter writer(h5_path, info);
  std::vector<int32_t> totals(static_cast<size_t>(layers) * experts);
  auto it = cells.begin();
  for (int s = 0; s < steps; ++s) {
    std::fill(totals.begin(), totals.end(), 0);
    for (; it != cells.end() && std::get<0>(it->first) == s; ++it) {
      if (it->second > INT32_MAX) throw TraceError(csv_path, "", "a count over 2^31 at step " + std::to_string(s));
      totals[static_cast<size_t>(std::get<1>(it->first)) * experts + std::get<2>(it->first)] = static_cast<int32_t>(it->second);
    }
    writer.write_step_totals(totals);
  }
  writer.finish();
}

}  // namespace moesim::gating
