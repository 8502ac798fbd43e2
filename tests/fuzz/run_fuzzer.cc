// Whole runs: the input is a scenario as for fuzz_scenario (YAML, then optionally "--set" and one
// override per line), cut to two steps, and every scenario that loads is run as `moesim run`
// runs it, all policies, without writing files; `validate`'s reports and the summary table are
// made too. A scenario may fail only with the errors `moesim run` reports as bad input (exit
// status 2): a value the loader accepts must not crash the step model, the gating sources, the
// placement policies or the reports. What a run writes as its scenario.yaml (the resolved
// scenario) must load again, to the same resolved text; and a second run of the same scenario
// must give the same results, step by step, to the last bit.
//
// Runs past a size gate are skipped, so that one input takes milliseconds, not minutes: the
// gate's bounds are far above the hand-checked tiny clusters where the interesting cases live.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "models/gating/trace_h5.h"
#include "results/table.h"
#include "scenarios/loader/loader.h"
#include "sim/base/units.h"
#include "sim/cli/layout_report.h"
#include "sim/files/output_file.h"
#include "sim/resources.h"
#include "sim/runner.h"
#include "sim/summary.h"
#include "tests/fuzz/fuzz_files.h"

namespace {

using moesim::scenarios::Scenario;

// The resolved scenario loads again and resolves to the same text; anything else is a finding.
void check_round_trip(const Scenario& s) {
  const std::string resolved = moesim::scenarios::resolved_yaml(s);
  std::string again;
  try {
    again = moesim::scenarios::resolved_yaml(moesim::scenarios::load_scenario_text(resolved, "fuzz.yaml", {}));
  } catch (const moesim::scenarios::ScenarioError& e) {
    std::fprintf(stderr, "the resolved scenario does not load: %s\n%s", e.what(), resolved.c_str());
    std::abort();
  }
  if (again != resolved) {
    std::fprintf(stderr, "the resolved scenario resolves differently:\n%s\n--- again:\n%s", resolved.c_str(), again.c_str());
    std::abort();
  }
}

// The learned gate's multiply-adds per step: every MoE layer scores its probe and learning
// tokens against every expert in its token space.
double learned_gate_work(const Scenario& s) {
  if (s.gating.source->name() != "learned") return 0;
  double d = 0, tokens = 0;
  for (const auto& [key, value] : s.gating.source->values()) {
    if (key == "d") d = std::stod(value);
    if (key == "probe_tokens" || key == "learn_tokens") tokens += std::stod(value);
  }
  return d * tokens * s.model.experts * s.model.moe_layer_count();
}

bool same_steps(const std::vector<moesim::StepResult>& a, const std::vector<moesim::StepResult>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const moesim::StepResult &x = a[i], &y = b[i];
    if (x.step_time != y.step_time || x.compute_busy != y.compute_busy || x.all_to_all_time != y.all_to_all_time ||
        x.a2a_intra_node != y.a2a_intra_node || x.a2a_inter_node != y.a2a_inter_node || x.imbalance != y.imbalance ||
        x.dropped != y.dropped || x.assignments != y.assignments || x.migration_bytes != y.migration_bytes ||
        x.migration_time != y.migration_time || x.exposed_comm != y.exposed_comm || x.bubble != y.bubble)
      return false;
  }
  return true;
}

// Runs `s` as `moesim run` does, less the files.
moesim::RunResult run(const Scenario& s) {
  const auto source = moesim::make_gating_source(s);
  return moesim::run_scenario(s, *source);
}

// The same scenario run again gives the same steps and loads; anything else is a finding.
void check_repeats(const Scenario& s, const moesim::RunResult& first) {
  const moesim::RunResult again = run(s);
  bool same = again.expert_loads == first.expert_loads && again.policies.size() == first.policies.size();
  for (size_t p = 0; same && p < first.policies.size(); ++p) {
    same = same_steps(first.policies[p].steps, again.policies[p].steps) && first.policies[p].expert_loads == again.policies[p].expert_loads;
  }
  if (!same) {
    std::fprintf(stderr, "a second run of the scenario gave other results:\n%s", moesim::scenarios::resolved_yaml(s).c_str());
    std::abort();
  }
}

bool small_enough(const Scenario& s) {
  if (learned_gate_work(s) > 2e7) return false;
  if (s.cluster.gpu_count() > 128 || s.model.layers > 32 || s.model.experts > 256) return false;
  if (s.training.micro_batch > 0 && s.training.micro_batches(s.parallelism) > 32) return false;
  if (s.training.tokens_per_step > (int64_t{1} << 22) || s.policies.size() > 8) return false;
  const moesim::MemoryLimit limit{256e6, "the fuzzer's gate"};
  try {
    moesim::require_memory(moesim::estimate_run_memory(s), 1, limit, "the run");
  } catch (const moesim::ResourceError&) {
    return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  moesim::fuzz::seed_from(moesim::fuzz::corpus_dirs(*argc, *argv), MOESIM_SOURCE_DIR "/scenarios", ".yaml");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find("\n--set\n");
  std::vector<std::string> overrides;
  if (split != std::string::npos) {
    std::istringstream lines(input.substr(split + 7));
    for (std::string line; std::getline(lines, line);) overrides.push_back(line);
  }
  overrides.push_back("steps=2");
  try {
    const Scenario s = moesim::scenarios::load_scenario_text(input.substr(0, split), "fuzz.yaml", overrides);
    check_round_trip(s);
    if (!small_enough(s)) return 0;
    moesim::cli::layout_report(s, "  ");
    moesim::cli::memory_report(s, "  ");
    const moesim::RunResult first = run(s);
    moesim::results::summary_table(moesim::summarize(s, first));
    check_repeats(s, first);
  } catch (const moesim::scenarios::ScenarioError&) {
  } catch (const moesim::gating::TraceError&) {
  } catch (const moesim::files::FileError&) {
  } catch (const moesim::ResourceError&) {
  } catch (const moesim::ClockOverflow&) {}
  return 0;
}
