#include "models/gating/expert_load_table.h"

#include <algorithm>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "models/gating/csv_lines.h"
#include "models/gating/trace_h5.h"

namespace moesim::gating {
namespace {

constexpr const char* kHeader = "layer,expert,load";
constexpr const char* kWhat = "a CSV of layer,expert,load";
constexpr int kMaxLayers = 4096, kMaxExperts = 65536;

// The three fields of a row, or why not.
std::string parse_row(const std::string& line, int& layer, int& expert, double& load) {
  const char* p = line.data();
  const char* end = p + line.size();
  int64_t index[2];
  for (int i = 0; i < 2; ++i) {
    const auto [next, ec] = std::from_chars(p, end, index[i]);
    if (ec != std::errc() || next == end || *next != ',') return "expected layer,expert,load, got '" + line + "'";
    p = next + 1;
  }
  const auto [next, ec] = std::from_chars(p, end, load);
  if (ec != std::errc() || next != end) return "expected layer,expert,load with a number for the load, got '" + line + "'";
  if (index[0] < 0 || index[0] >= kMaxLayers)
    return "layer " + std::to_string(index[0]) + " is outside 0.." + std::to_string(kMaxLayers - 1);
  if (index[1] < 0 || index[1] >= kMaxExperts)
    return "expert " + std::to_string(index[1]) + " is outside 0.." + std::to_string(kMaxExperts - 1);
  if (!std::isfinite(load) || load < 0) return "expected a finite, non-negative load, got '" + line + "'";
  layer = static_cast<int>(index[0]);
  expert = static_cast<int>(index[1]);
  return "";
}

}  // namespace

ExpertLoadTable read_expert_load_csv(const std::string& path) {
  if (std::filesystem::is_directory(path)) throw TraceError(path, "", "is a directory, expected a CSV of layer,expert,load");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TraceError(path, "", "cannot open the file");
  std::string line;
  if (!read_csv_line(in, line, path, 1, kWhat))
    throw TraceError(path, "line 1", std::string("the file is empty: expected the header ") + kHeader);
  if (line != kHeader) throw TraceError(path, "line 1", std::string("expected the header ") + kHeader + ", got '" + line + "'");
  std::map<std::pair<int, int>, std::pair<double, int>> cells;  // (layer, expert) -> (load, line)
  ExpertLoadTable table;
  for (int number = 2; read_csv_line(in, line, path, number, kWhat); ++number) {
    if (line.empty()) continue;
    int layer = 0, expert = 0;
    double load = 0;
    if (const std::string problem = parse_row(line, layer, expert, load); !problem.empty())
      throw TraceError(path, "line " + std::to_string(number), problem);
    const auto [it, added] = cells.try_emplace({layer, expert}, load, number);
    if (!added) {
      throw TraceError(path, "line " + std::to_string(number),
                       "layer " + std::to_string(layer) + ", expert " + std::to_string(expert) + " again (first on line " +
                           std::to_string(it->second.second) + ")");
    }
    table.layers = std::max(table.layers, layer + 1);
    table.experts = std::max(table.experts, expert + 1);
  }
  if (cells.empty()) throw TraceError(path, "", "no loads after the header");
  // Every (layer, expert) once: a missing one is a typo far more often than a zero.
  if (cells.size() != static_cast<size_t>(table.layers) * table.experts) {
    for (int l = 0; l < table.layers; ++l) {
      for (int e = 0; e < table.experts; ++e) {
        if (!cells.count({l, e})) {
          throw TraceError(path, "",
                           "no load for layer " + std::to_string(l) + ", expert " + std::to_string(e) + ": expected every expert 0.." +
                               std::to_string(table.experts - 1) + " of every layer 0.." + std::to_string(table.layers - 1) +
                               " (a zero load is written as 0)");
        }
      }
    }
  }
  table.loads.assign(table.layers, std::vector<double>(table.experts, 0.0));
  for (const auto& [key, value] : cells) table.loads[key.first][key.second] = value.first;
  table.source = path;
  return table;
}

ExpertLoadTable trace_expert_loads(const std::string& path, int first, int last) {
  const TraceReader reader(path);
  const TraceInfo& info = reader.info();
  // FIRST and LAST are training steps: the records logged in [FIRST, LAST) are summed.
  const int64_t end_step = info.first_step + static_cast<int64_t>(info.steps) * info.stride;
  const int64_t from = first, to = last < 0 ? end_step : last;
  const auto record_of = [&](int64_t step) {  // the first record at or after `step`
    const int64_t r = (step - info.first_step + info.stride - 1) / info.stride;
    return static_cast<int>(std::clamp<int64_t>(step <= info.first_step ? 0 : r, 0, info.steps));
  };
  const int begin = record_of(from), end = record_of(to);
  if (from < 0 || from >= to || begin >= end) {
    const std::string held =
        info.stride == 1 && info.first_step == 0
            ? "its " + std::to_string(info.steps) +
                  " steps (FIRST:LAST, FIRST included, LAST not, 0 <= FIRST < LAST <= " + std::to_string(info.steps) + ")"
            : "its records, at training steps " + std::to_string(info.first_step) + " to " + std::to_string(end_step - info.stride) +
                  " every " + std::to_string(info.stride) + " (FIRST included, LAST not)";
    throw TraceError(path, "", "steps " + std::to_string(from) + ":" + std::to_string(to) + " hold none of " + held);
  }
  ExpertLoadTable table;
  table.layers = info.moe_layers;
  table.experts = info.experts;
  table.loads.assign(table.layers, std::vector<double>(table.experts, 0.0));
  for (int s = begin; s < end; ++s) {
    const std::vector<int64_t> counts = reader.read_expert_counts(s);
    for (int l = 0; l < table.layers; ++l)
      for (int e = 0; e < table.experts; ++e) table.loads[l][e] += static_cast<double>(counts[static_cast<size_t>(l) * table.experts + e]);
  }
  table.source = path + " steps " + std::to_string(from) + ":" + std::to_string(to);
  return table;
}

}  // namespace moesim::gating
