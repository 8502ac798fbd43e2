// timeline.json: the tasks of chosen steps in the Chrome trace-event format, which Perfetto
// (ui.perfetto.dev) and chrome://tracing open. One process per policy, one thread per GPU stream
// (compute and communication); every task is a complete event ("ph": "X") named by its kind, with
// its step, layer, pass, tokens and bytes as arguments. Times are microseconds from the start of
// the run. The layout is documented in README.md.
//
// Streamed: events go to the file as the run produces them, so memory does not grow with the
// number of steps recorded.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "scenarios/scenario.h"
#include "sim/step/step_simulator.h"

namespace moesim::results {

class TimelineWriter {
 public:
  // Starts the document at `path` (a file moesim created) with the names of every policy's
  // process and GPU threads; `steps` is how many steps it will record. Throws files::FileError
  // when it cannot be written.
  TimelineWriter(const std::string& path, const scenarios::Scenario& scenario, int steps);

  // The spans of one step of policy `policy` (the scenario's order). After the first step, the
  // whole timeline's size is estimated from it: files::FileError when the file system has less
  // free space than that, before the run spends its time filling the disk.
  void add(int policy, const std::vector<TimelineSpan>& spans);

  // Closes the document; files::FileError when any of it failed to reach the file.
  void finish();

 private:
  void event(const std::string& json);

  std::string path_;
  std::ofstream out_;
  bool first_ = true;
  std::string scenario_name_;
  uint64_t seed_ = 0;
  int64_t steps_to_record_ = 0;  // steps x policies
  int64_t added_ = 0;
};

}  // namespace moesim::results
