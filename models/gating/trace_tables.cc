#include "models/gating/trace_tables.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string_view>

#include "models/gating/logged_files.h"
#include "models/gating/trace_h5.h"

namespace fs = std::filesystem;

namespace moesim::gating {
namespace {

// A table file larger than this is not a table of counts.
constexpr uintmax_t kMaxTableBytes = uintmax_t{1} << 30;

// One layer's line: the sum of its micro-batches' counts into `sum` (sized on the first line).
class LineParser {
 public:
  LineParser(const std::string& path, int number, std::string_view line) : path_(path), number_(number), line_(line) {}

  // Returns the number of micro-batches.
  int parse(std::vector<int64_t>& sum, int& experts) {
    size_t at = line_.find('[');
    if (at == std::string_view::npos) fail(0, "expected the counts of each micro-batch as a bracketed list, got '" + excerpt(0) + "'");
    int depth = 0, microbatches = 0;
    bool holds_lists[3] = {false, false, false};
    std::vector<int64_t> current;
    for (; at < line_.size(); ++at) {
      const char c = line_[at];
      if (c == '[') {
        if (depth == 2) fail(at, "lists nested deeper than micro-batches of experts");
        if (depth > 0 && !current.empty()) fail(at, "a list next to counts: a list holds counts or lists, not both");
        if (depth > 0) holds_lists[depth] = true;
        holds_lists[++depth] = false;
      } else if (c == ']') {
        if (depth == 0) fail(at, "a ']' with no '[' before it");
        if (!holds_lists[depth]) {
          if (current.empty()) fail(at, "an empty list");
          if (experts == 0) experts = static_cast<int>(current.size()), sum.assign(current.size(), 0);
          if (static_cast<int>(current.size()) != experts)
            fail(at, "a micro-batch of " + std::to_string(current.size()) + " counts where the first has " + std::to_string(experts) +
                         " (one per expert)");
          for (size_t e = 0; e < current.size(); ++e) sum[e] += current[e];
          current.clear();
          ++microbatches;
        }
        --depth;
      } else if (c == ',' || c == ' ' || c == '\t' || c == '\r') {
        continue;
      } else if (depth == 0) {
        fail(at, "unexpected text after the counts: '" + excerpt(at) + "'");
      } else {
        if (holds_lists[depth]) fail(at, "counts next to a list: a list holds counts or lists, not both");
        size_t end = at;
        while (end < line_.size() && std::string_view(",[] \t\r").find(line_[end]) == std::string_view::npos) ++end;
        current.push_back(count(at, end));
        at = end - 1;
      }
    }
    if (depth != 0) fail(line_.size(), "a '[' that is never closed");
    return microbatches;
  }

 private:
  int64_t count(size_t from, size_t to) {
    const std::string text(line_.substr(from, to - from));
    int64_t v = 0;
    if (!parse_whole_number(text.data(), text.data() + text.size(), v)) {
      double d = 0;
      const bool fraction = std::sscanf(text.c_str(), "%lf", &d) == 1 && text.find_first_not_of("+-0123456789.eE") == std::string::npos;
      fail(from, fraction ? "the count " + text + " is not a whole number of tokens" : "expected a count, got '" + text + "'");
    }
    if (v < 0 || v > INT32_MAX) fail(from, "the count " + text + " is outside 0 to 2^31");
    return v;
  }
  std::string excerpt(size_t from) const {
    std::string s(line_.substr(from, 40));
    return from + 40 < line_.size() ? s + "..." : s;
  }
  [[noreturn]] void fail(size_t column, const std::string& what) const {
    throw TraceError(path_, "line " + std::to_string(number_) + ", column " + std::to_string(column + 1), what);
  }

  const std::string& path_;
  int number_;
  std::string_view line_;
};

std::string read_whole(const std::string& path) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  if (ec) throw TraceError(path, "", "cannot read the file (" + ec.message() + ")");
  if (size > kMaxTableBytes) throw TraceError(path, "", "larger than 1 GiB: not a table of counts");
  std::ifstream in(path, std::ios::binary);
  std::string text(size, '\0');
  if (!in || !in.read(text.data(), static_cast<std::streamsize>(size))) throw TraceError(path, "", "cannot read the file");
  return text;
}

// Reads one table: per layer, the summed counts (appended to `rows`) and the line it is on.
void read_table(const std::string& path, std::vector<std::vector<int64_t>>& rows, std::vector<int>& lines, int& experts) {
  const std::string text = read_whole(path);
  int number = 0, microbatches = -1, microbatch_line = 0;
  for (size_t from = 0; from < text.size();) {
    size_t end = text.find('\n', from);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + from, end - from);
    ++number;
    from = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::vector<int64_t> sum;
    if (experts > 0) sum.assign(experts, 0);
    const int n = LineParser(path, number, line).parse(sum, experts);
    if (microbatches >= 0 && n != microbatches) {
      throw TraceError(path, "line " + std::to_string(number),
                       std::to_string(n) + " micro-batches where line " + std::to_string(microbatch_line) + " has " +
                           std::to_string(microbatches) + ": every MoE layer sees the same micro-batches");
    }
    microbatches = n, microbatch_line = number;
    rows.push_back(std::move(sum));
    lines.push_back(number);
  }
  if (rows.empty()) throw TraceError(path, "", "no counts: expected a line per MoE layer");
}

}  // namespace

ImportedCounts read_count_tables(const std::vector<std::string>& inputs, const std::string& pattern) {
  const LoggedFiles logged = find_logged_files(inputs, pattern, true);
  const std::vector<LoggedFile>& files = logged.files;
  const std::vector<int64_t>& steps = logged.steps;
  const int ranks = logged.ranks;
  ImportedCounts out;
  out.source = inputs.size() == 1 ? inputs.front() : files.front().path;
  out.generator = "imported from " + std::to_string(files.size()) + " count tables (" + pattern + ") in " +
                  (fs::path(files.front().path).has_parent_path() ? fs::path(files.front().path).parent_path().string() : std::string("."));
  out.steps = steps;
  int layers = 0, experts = 0;
  auto lines = std::make_shared<std::vector<int>>();
  auto names = std::make_shared<std::vector<std::string>>();
  for (size_t i = 0; i < files.size(); ++i) {
    std::vector<std::vector<int64_t>> rows;
    std::vector<int> row_lines;
    read_table(files[i].path, rows, row_lines, experts);
    if (i == 0) {
      layers = static_cast<int>(rows.size());
      const double total = static_cast<double>(files.size()) * layers * experts;
      if (total > kMaxImportedCounts)
        throw TraceError(files[i].path, "", "the tables hold more than 2^26 counts: import fewer iterations at a time");
      out.resize(static_cast<int>(steps.size()), layers, ranks, experts);
    } else if (static_cast<int>(rows.size()) != layers) {
      throw TraceError(files[i].path, "",
                       std::to_string(rows.size()) + " lines of counts where " + files[0].path + " has " + std::to_string(layers) +
                           ": one per MoE layer");
    }
    const int record = static_cast<int>(i) / ranks, rank = files[i].rank;
    for (int l = 0; l < layers; ++l)
      for (int e = 0; e < experts; ++e) out.at(record, l, rank, e) = rows[l][e];
    lines->insert(lines->end(), row_lines.begin(), row_lines.end());
    names->push_back(fs::path(files[i].path).filename().string());
  }
  out.locate = [lines, names, ranks, layers](int record, int layer, int rank) {
    const size_t file = static_cast<size_t>(record) * ranks + rank;
    return (*names)[file] + ": line " + std::to_string((*lines)[file * layers + layer]);
  };
  return out;
}

}  // namespace moesim::gating
