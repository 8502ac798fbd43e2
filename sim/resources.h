// What a command will need before it allocates: the memory of a run, estimated from the resolved
// scenario (or a trace's header), checked against a limit so that a scenario that cannot fit is
// refused in one line naming the key that drives it, instead of ending in std::bad_alloc or the
// kernel's OOM killer after minutes of work.
//
// The estimates count the structures that grow with the scenario (routing matrices, the step
// model's per-GPU state, the per-step result series, the learned gate's probes, the topology and
// the flow model's routes) from their element sizes. They are meant as upper bounds within a few
// times of the measured peak, which tests/e2e/resources_test.cc checks on scenarios where each
// part dominates; a fixed base of a few tens of MB (libraries, the binary) is not counted.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "scenarios/scenario.h"

namespace moesim {

// A run that would need more memory than allowed: user-caused, exit status 2.
struct ResourceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct MemoryPart {
  double bytes = 0;
  std::string what;  // "routing matrices, 12 MoE layers x 32 ranks x 128 experts, 2 copies"
  std::string key;   // the scenario key that drives it: "cluster.nodes"
};

struct MemoryLimit {
  double bytes = 0;
  std::string source;  // "the machine's physical memory" or "--max-memory 8 GB"
};

// The machine's physical memory as the default limit.
MemoryLimit physical_memory_limit();

// The parts of one run of `scenario`, largest first.
std::vector<MemoryPart> estimate_run_memory(const scenarios::Scenario& scenario);

// Bytes of `parts` together.
double total_bytes(const std::vector<MemoryPart>& parts);

// Throws ResourceError when `copies` runs at once of `parts` need more than `limit`, saying what
// `subject` ("the run", "sweep point 3") needs, the limit and where it comes from, and the
// largest part with its key.
void require_memory(const std::vector<MemoryPart>& parts, int copies, const MemoryLimit& limit, const std::string& subject);

// "1.2 TB", "350 MB": decimal units, three significant figures.
std::string format_bytes(double bytes);

}  // namespace moesim
