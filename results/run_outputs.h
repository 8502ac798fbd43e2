// The files of one run in its output directory: summary.csv, run.h5, timeline.json when asked,
// and the resolved scenario.yaml. The directory is locked for the whole run; every file is staged
// as a temporary and the set is published by renames, scenario.yaml last, with SIGINT/SIGTERM
// deferred: a directory holds the previous complete result set or the new one, and one holding
// scenario.yaml holds a whole result (what a resumed sweep relies on).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "results/timeline_json.h"
#include "scenarios/scenario.h"
#include "sim/files/directory_lock.h"
#include "sim/files/output_file.h"
#include "sim/runner.h"
#include "sim/summary.h"

namespace moesim::results {

class RunOutputs {
 public:
  // Creates and locks the scenario's output directory (files::FileError "in use" with
  // Wait::kNo when another moesim process holds it), removes temporaries that killed runs left
  // there, checks that each result file is none of `inputs` and missing or a regular file, and
  // with `timeline_steps`
  // above 0 starts timeline.json's temporary for that many steps. Throws files::FileError before any time is spent.
  RunOutputs(const scenarios::Scenario& scenario, int timeline_steps, files::DirectoryLock::Wait wait,
             const std::vector<std::string>& inputs = {});

  // The timeline being streamed, or nullptr.
  TimelineWriter* timeline() { return timeline_.get(); }

  // Stages summary.csv and run.h5, finishes the timeline, then publishes them all. Returns the
  // paths written, scenario.yaml last. files::FileError naming a file that cannot be written;
  // nothing is published then.
  std::vector<std::string> commit(const std::string& resolved_yaml, const std::vector<PolicySummary>& summary, const RunResult& run);

 private:
  const scenarios::Scenario& scenario_;
  std::string dir_;
  files::DirectoryLock lock_;
  std::unique_ptr<files::Temporary> timeline_file_;
  std::unique_ptr<TimelineWriter> timeline_;
};

// Whether `dir` holds a whole result of the scenario whose resolved YAML is `resolved_yaml`.
bool has_run_outputs(const std::string& dir, const std::string& resolved_yaml);

// The text of a file, or nothing when it cannot be read.
std::optional<std::string> read_text_file(const std::string& path);

}  // namespace moesim::results
