#include "models/gating/trace_csv.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string_view>
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

enum Column { kStep, kLayer, kExpert, kTokens, kRank, kMicrobatch, kColumns };
constexpr std::array<const char*, kColumns> kNames = {"step", "layer", "expert", "tokens", "rank", "microbatch"};
// Largest value of each column: steps to 2^40 (a training step number), the rest as a trace holds.
constexpr std::array<int64_t, kColumns> kMax = {int64_t{1} << 40, 4096, 65536, INT32_MAX, 65536, 65536};

struct Cell {
  int64_t step;
  int layer, rank, microbatch, expert;
  int64_t tokens;
  int line;
  auto key() const { return std::tie(step, layer, rank, microbatch, expert); }
};

std::string at_line(int number) { return "line " + std::to_string(number); }

// Column positions from the header; -1 for an optional column that is absent.
std::array<int, kColumns> read_header(const std::string& path, const std::string& line, int& fields) {
  std::array<int, kColumns> at;
  at.fill(-1);
  fields = 0;
  for (size_t from = 0;; ++fields) {
    const size_t comma = line.find(',', from);
    const std::string name = line.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    const auto it = std::find(kNames.begin(), kNames.end(), name);
    if (it == kNames.end() || at[it - kNames.begin()] >= 0) {
      throw TraceError(path, "line 1",
                       (it == kNames.end() ? "unknown column '" + name + "'" : "column '" + name + "' twice") +
                           ": expected the header step,layer,expert,tokens (in any order, with rank and microbatch optional), got '" +
                           line + "'");
    }
    at[it - kNames.begin()] = fields;
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  ++fields;
  for (int c = kStep; c <= kTokens; ++c)
    if (at[c] < 0)
      throw TraceError(path, "line 1",
                       "no column '" + std::string(kNames[c]) + "': expected the header step,layer,expert,tokens, got '" + line + "'");
  return at;
}

Cell read_row(const std::string& path, const std::string& line, int number, const std::array<int, kColumns>& at, int fields) {
  // Field boundaries, without allocating: a trace may have millions of rows.
  std::array<std::string_view, kColumns> field{};
  int count = 0;
  for (size_t from = 0;; ++count) {
    const size_t comma = line.find(',', from);
    const std::string_view text(line.data() + from, (comma == std::string::npos ? line.size() : comma) - from);
    for (int c = 0; c < kColumns; ++c)
      if (at[c] == count) field[c] = text;
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  ++count;
  if (count != fields) {
    throw TraceError(
        path, at_line(number),
        "expected " + std::to_string(fields) + " fields as the header has, got " + std::to_string(count) + " in '" + line + "'");
  }
  const auto got = [&](int c) { return ", got '" + std::string(field[c]) + "' in '" + line + "'"; };
  std::array<int64_t, kColumns> v{};
  for (int c = 0; c < kColumns; ++c) {
    if (at[c] < 0) continue;
    const char *first = field[c].data(), *last = first + field[c].size();
    if (c == kTokens) {
      if (!parse_whole_number(first, last, v[c]))
        throw TraceError(path, at_line(number), "expected a whole number of tokens (5 or 5.0)" + got(c));
    } else {
      auto [end, ec] = std::from_chars(first, last, v[c]);
      if (ec != std::errc() || end != last || first == last)
        throw TraceError(path, at_line(number), "expected an integer " + std::string(kNames[c]) + got(c));
    }
    if (v[c] < 0 || v[c] > kMax[c])
      throw TraceError(path, at_line(number), "expected " + std::string(kNames[c]) + " from 0 to " + std::to_string(kMax[c]) + got(c));
  }
  return {v[kStep], int(v[kLayer]), int(v[kRank]), int(v[kMicrobatch]), int(v[kExpert]), v[kTokens], number};
}

void check_bound(const std::string& path, double records, int layers, int rows, int experts, int64_t lines) {
  const double total = records * layers * rows * experts;
  const double limit = std::max(kMinCountLimit, kCountsPerLine * static_cast<double>(lines));
  if (total <= limit) return;
  char described[64];
  std::snprintf(described, sizeof described, "%.0f", total);
  throw TraceError(path, "",
                   "its steps, " + std::to_string(layers) + " layers, " + std::to_string(rows) + (rows == 1 ? " rank" : " ranks") +
                       " and " + std::to_string(experts) + " experts describe a dense trace of " + described + " counts from " +
                       std::to_string(lines) + (lines == 1 ? " line" : " lines") +
                       ": omitted counts are zeros, and a CSV may describe at most 1024 counts per line it gives "
                       "(or 4194304 in all); give the counts of the steps, layers and experts you mean");
}

}  // namespace

ImportedCounts read_csv_counts(const std::string& csv_path, CsvSteps steps) {
  if (std::filesystem::is_directory(csv_path)) throw TraceError(csv_path, "", "is a directory, expected a CSV trace");
  std::ifstream in(csv_path, std::ios::binary);
  if (!in) throw TraceError(csv_path, "", "cannot open the file");
  std::string line;
  if (!read_csv_line(in, line, csv_path, 1, kWhat))
    throw TraceError(csv_path, "line 1", "the file is empty: expected the header step,layer,expert,tokens");
  int fields = 0;
  const auto at = read_header(csv_path, line, fields);
  std::vector<Cell> cells;
  for (int number = 2; read_csv_line(in, line, csv_path, number, kWhat); ++number)
    if (!line.empty()) cells.push_back(read_row(csv_path, line, number, at, fields));
  if (cells.empty()) throw TraceError(csv_path, "", "no counts after the header");

  std::sort(cells.begin(), cells.end(), [](const Cell& a, const Cell& b) {
    return std::tie(a.step, a.layer, a.rank, a.microbatch, a.expert, a.line) <
           std::tie(b.step, b.layer, b.rank, b.microbatch, b.expert, b.line);
  });
  int layers = 0, ranks = 0, experts = 0;
  for (size_t i = 0; i < cells.size(); ++i) {
    const Cell& c = cells[i];
    if (i > 0 && cells[i - 1].key() == c.key()) {
      throw TraceError(csv_path, at_line(std::max(c.line, cells[i - 1].line)),
                       "repeats the count of line " + std::to_string(std::min(c.line, cells[i - 1].line)) +
                           " (the same step, layer, expert" + (at[kRank] >= 0 ? ", rank" : "") +
                           (at[kMicrobatch] >= 0 ? ", microbatch" : "") + ")");
    }
    layers = std::max(layers, c.layer + 1);
    ranks = std::max(ranks, c.rank + 1);
    experts = std::max(experts, c.expert + 1);
  }
  ImportedCounts out;
  out.source = csv_path;
  out.generator = "imported from " + csv_path;
  if (steps == CsvSteps::kDense) {
    check_bound(csv_path, static_cast<double>(cells.back().step) + 1, layers, ranks, experts, static_cast<int64_t>(cells.size()));
    for (int64_t s = 0; s <= cells.back().step; ++s) out.steps.push_back(s);
  } else {
    for (const Cell& c : cells)
      if (out.steps.empty() || out.steps.back() != c.step) out.steps.push_back(c.step);
    check_bound(csv_path, static_cast<double>(out.steps.size()), layers, ranks, experts, static_cast<int64_t>(cells.size()));
  }
  out.resize(static_cast<int>(out.steps.size()), layers, at[kRank] >= 0 ? ranks : 0, experts);
  // The first line of each (record, layer, rank), for messages about its totals.
  auto first_line = std::make_shared<std::vector<int>>(out.counts.size() / experts, 0);
  size_t record = 0;
  for (const Cell& c : cells) {
    while (out.steps[record] != c.step) ++record;
    out.at(static_cast<int>(record), c.layer, c.rank, c.expert) += c.tokens;
    int& first = (*first_line)[(record * layers + c.layer) * out.rows() + c.rank];
    if (first == 0 || c.line < first) first = c.line;
  }
  out.locate = [first_line, layers, rows = out.rows()](int r, int layer, int rank) {
    const int number = (*first_line)[(static_cast<size_t>(r) * layers + layer) * rows + rank];
    return number > 0 ? at_line(number) : std::string();
  };
  return out;
}

void convert_csv_trace(const std::string& csv_path, const std::string& h5_path) {
  ImportedCounts counts = read_csv_counts(csv_path, CsvSteps::kDense);
  counts.generator = "converted from " + csv_path;
  write_imported_trace(counts, ImportOptions{}, h5_path);
}

}  // namespace moesim::gating
