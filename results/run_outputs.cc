#include "results/run_outputs.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "results/h5_file.h"
#include "results/run_h5.h"
#include "results/summary_csv.h"
#include "sim/files/cleanup.h"

namespace moesim::results {
namespace {

constexpr const char* kSummary = "summary.csv";
constexpr const char* kRunH5 = "run.h5";
constexpr const char* kTimeline = "timeline.json";
constexpr const char* kScenario = "scenario.yaml";

// Creates `dir` (and its parents); a FileError when that is impossible or it is not a directory.
std::string created_directory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir)) {
    throw files::FileError("cannot use '" + dir +
                           "' as the output directory: " + (ec ? ec.message() : std::string("it exists and is not a directory")));
  }
  return dir;
}

}  // namespace

RunOutputs::RunOutputs(const scenarios::Scenario& s, int timeline_steps, files::DirectoryLock::Wait wait,
                       const std::vector<std::string>& inputs)
    : scenario_(s), dir_(created_directory(s.output_dir)), lock_(dir_, wait) {
  files::remove_moesim_temporaries(dir_);
  const std::filesystem::path d(dir_);
  for (const char* name : {kSummary, kRunH5, kTimeline, kScenario}) {
    files::require_not_input((d / name).string(), inputs);
    files::check_target((d / name).string(), files::Target::kFile);
  }
  // Every output is made in dir_ as a temporary beside its target: one made and removed there
  // shows that the directory takes them all, before the run spends any time.
  files::require_writable((d / kSummary).string(), files::Target::kFile);
  if (timeline_steps > 0) {
    timeline_file_ = std::make_unique<files::Temporary>((d / kTimeline).string());
    timeline_ = std::make_unique<TimelineWriter>(timeline_file_->path(), s, timeline_steps);
  }
}

std::vector<std::string> RunOutputs::commit(const std::string& resolved_yaml, const std::vector<PolicySummary>& summary,
                                            const RunResult& run) {
  const std::filesystem::path d(dir_);
  std::vector<std::unique_ptr<files::Temporary>> staged;
  const auto stage = [&](const char* name) -> files::Temporary& {
    return *staged.emplace_back(std::make_unique<files::Temporary>((d / name).string()));
  };
  stage(kSummary).write(summary_csv(summary));
  fill_h5(stage(kRunH5), [&](H5::H5File& file) { fill_run_h5(file, scenario_, run, resolved_yaml); });
  if (timeline_) timeline_->finish();
  stage(kScenario).write(resolved_yaml);

  // Every target is checked before the first rename, so a failure publishes nothing.
  std::vector<files::Temporary*> order = {staged[0].get(), staged[1].get()};
  if (timeline_file_) order.push_back(timeline_file_.get());
  order.push_back(staged[2].get());
  for (const files::Temporary* t : order) files::check_target(t->target(), files::Target::kFile);

  std::vector<std::string> written;
  const files::CommitGuard guard;
  for (files::Temporary* t : order) {
    t->commit();
    written.push_back(t->target());
  }
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
  if (!std::filesystem::is_regular_file(d / kSummary, ec) || !std::filesystem::is_regular_file(d / kRunH5, ec)) return false;
  return read_text_file((d / kScenario).string()) == resolved_yaml;
}

}  // namespace moesim::results
