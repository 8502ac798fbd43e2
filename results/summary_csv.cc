#include "results/summary_csv.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace moesim::results {
namespace {

// Fixed precision so that the same run always prints the same bytes.
std::string num(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string optional_num(const std::optional<double>& v, int decimals) { return v ? num(*v, decimals) : std::string(); }

constexpr const char* kHeader =
    "policy,step_ms_mean,step_ms_p50,step_ms_p99,tokens_per_s,gpu_util_mean,gpu_util_min,imbalance_max_mean,"
    "a2a_share,a2a_inter_node_gb_per_step,a2a_intra_node_gb_per_step,dropped_fraction,speedup_vs_static,"
    "migration_gb_per_step,migration_ms_per_step,forecast_error_pp,cost_per_mtok,tokens_per_s_per_gpu,model_tflops_per_gpu,mfu,"
    "bubble_share,exposed_comm_share,peak_memory_gb";
constexpr size_t kColumns = 23;

// The fields of one CSV line (RFC 4180 quoting, no line ends inside fields).
std::vector<std::string> fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
        out.back() += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        out.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

}  // namespace

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string summary_csv_header() { return kHeader; }

std::string summary_csv_row(const PolicySummary& r) {
  return csv_field(r.label) + "," + num(r.step_ms_mean, 4) + "," + num(r.step_ms_p50, 4) + "," + num(r.step_ms_p99, 4) + "," +
         num(r.tokens_per_second, 1) + "," + num(r.gpu_utilization, 6) + "," + num(r.gpu_utilization_min, 6) + "," + num(r.imbalance, 6) +
         "," + num(r.all_to_all_share, 6) + "," + num(r.inter_node_a2a_gb, 6) + "," + num(r.intra_node_a2a_gb, 6) + "," +
         num(r.dropped_fraction, 6) + "," + num(r.speedup, 6) + "," + num(r.migration_gb, 6) + "," + num(r.migration_ms, 6) + "," +
         optional_num(r.forecast_error_pp, 6) + "," + optional_num(r.cost_per_mtok, 6) + "," + num(r.tokens_per_gpu, 2) + "," +
         num(r.model_tflops, 3) + "," + num(r.mfu, 6) + "," + num(r.bubble_share, 6) + "," + num(r.exposed_comm_share, 6) + "," +
         num(r.peak_memory_gb, 3);
}

std::string summary_csv(const std::vector<PolicySummary>& rows) {
  std::string out = summary_csv_header() + "\n";
  for (const auto& r : rows) out += summary_csv_row(r) + "\n";
  return out;
}

std::vector<PolicySummary> parse_summary_csv(const std::string& text) {
  std::vector<PolicySummary> out;
  size_t line_no = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (line_no == 1) {
      if (line != kHeader) throw std::runtime_error("line 1: not a moesim summary.csv header");
      continue;
    }
    const auto f = fields(line);
    if (f.size() != kColumns) {
      throw std::runtime_error("line " + std::to_string(line_no) + ": " + std::to_string(f.size()) + " fields, expected " +
                               std::to_string(kColumns));
    }
    size_t i = 1;
    const auto number = [&]() {
      const std::string& s = f[i++];
      char* parsed_end = nullptr;
      const double v = std::strtod(s.c_str(), &parsed_end);
      if (s.empty() || *parsed_end != '\0') {
        throw std::runtime_error("line " + std::to_string(line_no) + ": '" + s + "' is not a number");
      }
      return v;
    };
    const auto optional_number = [&]() -> std::optional<double> {
      if (f[i].empty()) return ++i, std::nullopt;
      return number();
    };
    PolicySummary r;
    r.label = f[0];
    r.step_ms_mean = number();
    r.step_ms_p50 = number();
    r.step_ms_p99 = number();
    r.tokens_per_second = number();
    r.gpu_utilization = number();
    r.gpu_utilization_min = number();
    r.imbalance = number();
    r.all_to_all_share = number();
    r.inter_node_a2a_gb = number();
    r.intra_node_a2a_gb = number();
    r.dropped_fraction = number();
    r.speedup = number();
    r.migration_gb = number();
    r.migration_ms = number();
    r.forecast_error_pp = optional_number();
    r.cost_per_mtok = optional_number();
    r.tokens_per_gpu = number();
    r.model_tflops = number();
    r.mfu = number();
    r.bubble_share = number();
    r.exposed_comm_share = number();
    r.peak_memory_gb = number();
    out.push_back(r);
  }
  return out;
}

}  // namespace moesim::results
