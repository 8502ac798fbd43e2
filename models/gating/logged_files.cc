#include "models/gating/logged_files.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <tuple>

#include "models/gating/trace_h5.h"

namespace fs = std::filesystem;

namespace moesim::gating {
namespace {

size_t occurrences(const std::string& pattern, const char* field) {
  size_t n = 0;
  for (size_t at = pattern.find(field); at != std::string::npos; at = pattern.find(field, at + 1)) ++n;
  return n;
}

void check_pattern(const std::string& pattern, bool rank_required) {
  const size_t ranks = occurrences(pattern, "{rank}");
  const size_t braces = std::count(pattern.begin(), pattern.end(), '{');
  if (occurrences(pattern, "{step}") != 1 || ranks > 1 || (rank_required && ranks == 0) || braces != 1 + ranks ||
      pattern.find('/') != std::string::npos) {
    throw TraceError(pattern, "--pattern",
                     std::string("expected a file name with {step} once") +
                         (rank_required ? " and {rank} once" : " ({rank} once, optional)") +
                         " and no other braces or folders, such as table_iter{step}_rank{rank}.log");
  }
}

// The step and rank in `name` if it matches `pattern` (each field one or more digits).
std::optional<std::pair<int64_t, int>> match(const std::string& pattern, const std::string& name) {
  int64_t step = -1, rank = 0;
  size_t p = 0, n = 0;
  while (p < pattern.size()) {
    const bool is_step = pattern.compare(p, 6, "{step}") == 0, is_rank = pattern.compare(p, 6, "{rank}") == 0;
    if (is_step || is_rank) {
      const size_t from = n;
      int64_t v = 0;
      while (n < name.size() && name[n] >= '0' && name[n] <= '9' && n - from < 12) v = v * 10 + (name[n++] - '0');
      if (n == from) return std::nullopt;
      (is_step ? step : rank) = v;
      p += 6;
    } else {
      if (n >= name.size() || name[n] != pattern[p]) return std::nullopt;
      ++n, ++p;
    }
  }
  if (n != name.size() || rank > 65535 || step > (int64_t{1} << 40)) return std::nullopt;
  return std::make_pair(step, static_cast<int>(rank));
}

std::string name_for(const std::string& pattern, int64_t step, int rank) {
  std::string out = pattern;
  out.replace(out.find("{step}"), 6, std::to_string(step));
  if (const size_t at = out.find("{rank}"); at != std::string::npos) out.replace(at, 6, std::to_string(rank));
  return out;
}

}  // namespace

LoggedFiles find_logged_files(const std::vector<std::string>& inputs, const std::string& pattern, bool rank_required) {
  check_pattern(pattern, rank_required);
  LoggedFiles out;
  out.per_rank = pattern.find("{rank}") != std::string::npos;
  std::vector<LoggedFile>& files = out.files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      for (const auto& entry : fs::directory_iterator(input, ec)) {
        const auto m = match(pattern, entry.path().filename().string());
        if (m && entry.is_regular_file(ec)) files.push_back({m->first, m->second, entry.path().string()});
      }
      if (ec) throw TraceError(input, "", "cannot list the folder (" + ec.message() + ")");
      continue;
    }
    if (!fs::exists(input, ec)) throw TraceError(input, "", "no such file or folder");
    const auto m = match(pattern, fs::path(input).filename().string());
    if (!m) throw TraceError(input, "", "its name does not match --pattern " + pattern + " ({step} and {rank} are digits)");
    files.push_back({m->first, m->second, input});
  }
  if (files.empty()) throw TraceError(inputs.empty() ? "" : inputs.front(), "", "no file named as --pattern " + pattern + " says");
  std::sort(files.begin(), files.end(),
            [](const LoggedFile& a, const LoggedFile& b) { return std::tie(a.step, a.rank) < std::tie(b.step, b.rank); });
  for (size_t i = 1; i < files.size(); ++i)
    if (files[i].step == files[i - 1].step && files[i].rank == files[i - 1].rank)
      throw TraceError(files[i].path, "", "the same step and rank as " + files[i - 1].path);
  out.ranks = 0;
  for (const LoggedFile& f : files) {
    if (out.steps.empty() || out.steps.back() != f.step) out.steps.push_back(f.step);
    out.ranks = std::max(out.ranks, f.rank + 1);
  }
  // Every rank at every step: the first missing file is named.
  for (size_t i = 0, s = 0; s < out.steps.size(); ++s)
    for (int r = 0; r < out.ranks; ++r, ++i) {
      if (i >= files.size() || files[i].step != out.steps[s] || files[i].rank != r) {
        const std::string folder = fs::path(files.front().path).parent_path().string();
        throw TraceError((folder.empty() ? "" : folder + "/") + name_for(pattern, out.steps[s], r), "",
                         "missing: every rank (0 to " + std::to_string(out.ranks - 1) + ") needs a file for every logged step");
      }
    }
  return out;
}

}  // namespace moesim::gating
