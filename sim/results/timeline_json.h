// timeline.json: the tasks of chosen steps in the Chrome trace-event format, which Perfetto
// (ui.perfetto.dev) and chrome://tracing open. One process per policy, one thread per GPU stream
// (compute and communication); every task is a complete event ("ph": "X") named by its kind, with
// its step, layer, pass, tokens and bytes as arguments. Times are microseconds from the start of
// the run. The layout is documented in README.md.
#pragma once

#include <string>

#include "scenarios/scenario.h"
#include "sim/runner.h"

namespace moesim::results {

std::string timeline_json(const scenarios::Scenario& scenario, const RunResult& run);

}  // namespace moesim::results
