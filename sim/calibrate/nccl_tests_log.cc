#include "sim/calibrate/nccl_tests_log.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace moesim::calibrate {
namespace {

constexpr size_t kMaxLogBytes = size_t{64} << 20;
constexpr double kMaxSize = 1099511627776.0;  // 1 TiB per rank, beyond any GPU's memory
constexpr double kMaxTimeUs = 86400e6;

// mpirun's per-rank prefix, "[1,0]<stdout>:".
std::string strip_prefix(const std::string& line) {
  if (line.empty() || line[0] != '[') return line;
  const size_t end = line.find(">:");
  return end == std::string::npos ? line : line.substr(end + 2);
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

const network::CollectiveOpInfo* op_named_in(const std::string& text) {
  for (const auto& info : network::collective_ops())
    if (text.find(info.tool) != std::string::npos) return &info;
  return nullptr;
}

bool number(const std::string& w, double& v) {
  size_t used = 0;
  try {
    v = std::stod(w, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == w.size() && std::isfinite(v);
}

}  // namespace

NcclTestsLog parse_nccl_tests_log(const std::string& text, const std::string& path) {
  const auto fail = [&](int line, const std::string& what) {
    return LogError(path + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what);
  };
  NcclTestsLog log;
  log.path = path;
  const network::CollectiveOpInfo* op = nullptr;
  std::set<std::string> hosts;
  int ranks = 0;
  // Column indices of the out-of-place size, time and busbw, from the header.
  int size_col = -1, time_col = -1, busbw_col = -1, columns = 0;
  std::istringstream in(text);
  int n = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++n;
    const std::string line = strip_prefix(raw);
    const auto w = words(line);
    if (w.empty()) continue;
    if (w[0] == "#") {
      if (line.find("Collective test starting:") != std::string::npos) {
        op = op_named_in(line);
        if (!op)
          throw fail(
              n,
              "a collective moesim does not model (expected one of all_reduce_perf, all_gather_perf, reduce_scatter_perf, alltoall_perf)");
      } else if (w.size() >= 6 && w[1] == "Rank") {
        // "#  Rank  0 Group  0 Pid 123 on HOST device 0 ...": the host follows "on".
        for (size_t i = 2; i + 1 < w.size(); ++i)
          if (w[i] == "on") {
            hosts.insert(w[i + 1]);
            break;
          }
        ++ranks;
      } else if (w.size() > 1 && w[1] == "size") {
        std::vector<std::string> h(w.begin() + 1, w.end());
        for (size_t i = 0; i < h.size(); ++i) {
          if (h[i] == "size" && size_col < 0) size_col = static_cast<int>(i);
          if (h[i] == "time" && time_col < 0) time_col = static_cast<int>(i);
          if (h[i] == "busbw" && busbw_col < 0) busbw_col = static_cast<int>(i);
        }
        columns = static_cast<int>(h.size());
        if (size_col != 0 || time_col < 0 || busbw_col < 0) throw fail(n, "a header without nccl-tests' size, time and busbw columns");
      }
      continue;
    }
    if (columns == 0) throw fail(n, "not nccl-tests output: a line of data before the '#       size         count ...' header");
    // Out-of-place columns are all a row needs; in-place ones may read "N/A".
    const int needed = std::max(time_col, busbw_col) + 1;
    if (static_cast<int>(w.size()) < needed)
      throw fail(n, "expected at least " + std::to_string(needed) + " columns (size ... busbw), got " + std::to_string(w.size()));
    double size = 0, time = 0, busbw = 0;
    if (!number(w[size_col], size) || size < 0 || size > kMaxSize || size != std::floor(size))
      throw fail(n, "expected a size in bytes up to 1 TiB, got '" + w[size_col] + "'");
    if (!number(w[time_col], time) || time <= 0 || time > kMaxTimeUs)
      throw fail(n, "expected a time in microseconds above 0 and below a day, got '" + w[time_col] + "'");
    if (!number(w[busbw_col], busbw) || busbw < 0) throw fail(n, "expected a bus bandwidth in GB/s, got '" + w[busbw_col] + "'");
    log.rows.push_back({n, static_cast<int64_t>(size), time, busbw});
  }
  if (columns == 0) throw fail(0, "not nccl-tests output: no '#       size         count      type ...' header line");
  if (log.rows.empty()) throw fail(0, "no measurements after the header (a truncated log?)");
  if (!op) op = op_named_in(std::filesystem::path(path).filename().string());
  if (!op)
    throw fail(0,
               "cannot tell which collective this log measured: no '# Collective test starting:' line, and the file name names no "
               "all_reduce_perf, all_gather_perf, reduce_scatter_perf or alltoall_perf");
  if (ranks < 2)
    throw fail(0, "expected the '#  Rank  N ... on HOST device ...' lines of at least 2 ranks, found " + std::to_string(ranks));
  log.op = op->op;
  log.ranks = ranks;
  log.nodes = static_cast<int>(hosts.size());
  // Sizes below one element per rank measure nothing (nccl-tests prints them with count 0).
  const int64_t unit = network::kElementBytes * (op->count_per_rank ? ranks : 1);
  std::erase_if(log.rows, [&](const NcclTestsRow& r) { return r.bytes < unit; });
  if (log.rows.empty()) throw fail(0, "no size of at least one element per rank (" + std::to_string(unit) + " bytes)");
  return log;
}

std::string read_log_file(const std::string& path, const std::string& kind) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw LogError(path + ": expected a readable " + kind + " file");
  if (std::filesystem::file_size(path, ec) > kMaxLogBytes) throw LogError(path + ": larger than 64 MB, not a " + kind);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) throw LogError(path + ": cannot be read");
  return text.str();
}

NcclTestsLog read_nccl_tests_log(const std::string& path) { return parse_nccl_tests_log(read_log_file(path, "nccl-tests log"), path); }

}  // namespace moesim::calibrate
