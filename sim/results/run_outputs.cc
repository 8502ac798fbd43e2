#include "sim/results/run_outputs.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/results/atomic_file.h"
#include "sim/results/run_h5.h"
#include "sim/results/summary_csv.h"
#include "sim/results/timeline_json.h"

namespace moesim::results {

std::vector<std::string> write_run_outputs(const scenarios::Scenario& s, const std::string& resolved_yaml,
                                           const std::vector<PolicySummary>& summary, const RunResult& run, bool timeline) {
  const std::filesystem::path dir(s.output_dir);
  std::vector<std::string> written = {(dir / "summary.csv").string(), (dir / "run.h5").string()};
  write_file_atomically(written[0], summary_csv(summary));
  write_run_h5(written[1], s, run, resolved_yaml);
  if (timeline) {
    written.push_back((dir / "timeline.json").string());
    write_file_atomically(written.back(), timeline_json(s, run));
  }
  written.push_back((dir / "scenario.yaml").string());
  write_file_atomically(written.back(), resolved_yaml);
  return written;
}

std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

bool has_run_outputs(const std::string& dir, const std::string& resolved_yaml) {
  const std::filesystem::path d(dir);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(d / "summary.csv", ec) || !std::filesystem::is_regular_file(d / "run.h5", ec)) return false;
  return read_text_file((d / "scenario.yaml").string()) == resolved_yaml;
}

}  // namespace moesim::results
