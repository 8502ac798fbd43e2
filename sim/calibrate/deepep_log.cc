#include "sim/calibrate/deepep_log.h"

#include <cmath>
#include <regex>
#include <sstream>

namespace moesim::calibrate {
namespace {

constexpr size_t kMaxLineChars = 512;

// "name=VALUE" in the [config] line, as a whole number in [1, max].
bool config_value(const std::string& line, const std::string& name, int max, int& out) {
  const std::regex pattern("\\b" + name + "=([0-9]+)\\b");
  std::smatch m;
  if (!std::regex_search(line, m, pattern)) return false;
  const std::string digits = m[1].str();
  if (digits.size() > 9) return false;
  const long v = std::stol(digits);
  if (v < 1 || v > max) return false;
  out = static_cast<int>(v);
  return true;
}

}  // namespace

DeepEpLog parse_deepep_log(const std::string& text, const std::string& path) {
  const auto fail = [&](int line, const std::string& what) {
    return LogError(path + (line > 0 ? ":" + std::to_string(line) : "") + ": " + what);
  };
  // DeepEP prints "[tuning] SMs 24, NVL chunk 8, RDMA chunk 16: 45.21 GB/s (RDMA), 140.70 GB/s (NVL) "
  // internode and "[tuning] SMs 24, NVL chunk 8: 153.20 GB/s (NVL) " intranode; the "Best ..." lines
  // carry the same figures.
  static const std::regex tuning(
      R"(^\[tuning\] SMs ([0-9]+), NVL chunk [0-9]+(, RDMA chunk [0-9]+)?: ([0-9]+(?:\.[0-9]+)?) GB/s \((RDMA|NVL)\)(, ([0-9]+(?:\.[0-9]+)?) GB/s \(NVL\))? ?$)");
  static const std::regex best(R"(^\[tuning\] Best (dispatch \((FP8|BF16)\)|combine): )");
  DeepEpLog log;
  log.path = path;
  bool configured = false;
  std::vector<DeepEpTuning> block;  // tuning lines not yet labelled by their "Best ..." line
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const bool ours = line.rfind("[config]", 0) == 0 || line.rfind("[tuning]", 0) == 0;
    // DeepEP's lines are short; a long one is not its (and would be slow to match).
    if (ours && line.size() > kMaxLineChars)
      throw fail(n, "expected a DeepEP [config] or [tuning] line, got one of " + std::to_string(line.size()) + " characters");
    if (line.rfind("[config]", 0) == 0) {
      if (!config_value(line, "num_tokens", 1 << 20, log.tokens) || !config_value(line, "hidden", 1 << 20, log.hidden) ||
          !config_value(line, "num_topk", 1024, log.top_k))
        throw fail(n, "expected DeepEP's '[config] num_tokens=N, hidden=N, [num_topk_groups=N, ]num_topk=N' with whole numbers, got '" +
                          line + "'");
      log.internode = config_value(line, "num_topk_groups", 1024, log.topk_groups);
      configured = true;
      continue;
    }
    if (line.rfind("[tuning]", 0) != 0) continue;  // the tests' other output: layout, correctness checks
    if (!configured) throw fail(n, "a [tuning] line before DeepEP's [config] line: not a DeepEP test log, or a truncated one");
    std::smatch m;
    if (std::regex_search(line, m, best)) {
      const bool combine = m[1].str() == "combine";
      if (block.empty()) throw fail(n, "a 'Best' line with no [tuning] lines before it");
      for (auto& t : block) {
        t.combine = combine;
        t.fp8 = !combine && m[2].str() == "FP8";
        log.tunings.push_back(t);
      }
      block.clear();
      continue;
    }
    if (!std::regex_match(line, m, tuning))
      throw fail(n, "expected DeepEP's '[tuning] SMs N, NVL chunk N[, RDMA chunk N]: X GB/s (RDMA|NVL)...', got '" + line + "'");
    DeepEpTuning t;
    t.line = n;
    const std::string sms = m[1].str();
    t.sms = sms.size() > 6 ? 0 : std::stoi(sms);
    const bool rdma = m[4].str() == "RDMA";
    if (rdma != log.internode)
      throw fail(n, std::string("an ") + (rdma ? "RDMA" : "NVL-only") + " figure in an " + (log.internode ? "internode" : "intranode") +
                        " log (its [config] line " + (log.internode ? "gives" : "gives no") + " num_topk_groups)");
    const double first = std::stod(m[3].str()), second = m[6].matched ? std::stod(m[6].str()) : 0.0;
    t.rdma_gbps = rdma ? first : 0.0;
    t.nvl_gbps = rdma ? second : first;
    const double figure = rdma ? t.rdma_gbps : t.nvl_gbps;
    if (t.sms < 1 || t.sms > 1024) throw fail(n, "expected 1 to 1024 SMs, got " + sms);
    if (!(figure > 0) || !std::isfinite(figure) || figure > 1e5)
      throw fail(n, "expected a bandwidth above 0 and below 100,000 GB/s, got " + m[3].str());
    block.push_back(t);
  }
  if (!configured) throw fail(0, "not a DeepEP test log: no '[config] num_tokens=..., hidden=..., num_topk=...' line");
  if (!block.empty()) throw fail(0, "[tuning] lines without the 'Best dispatch' or 'Best combine' line that ends them (a truncated log?)");
  if (log.tunings.empty()) throw fail(0, "no [tuning] lines: run DeepEP's test with its tuning (the default)");
  return log;
}

DeepEpLog read_deepep_log(const std::string& path) { return parse_deepep_log(read_log_file(path, "DeepEP test log"), path); }

}  // namespace moesim::calibrate
