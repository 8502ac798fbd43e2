// Whole runs: the input is a scenario as for fuzz_scenario (YAML, then optionally "--set" and one
// override per line), cut to two steps, and every scenario that loads is run as `moesim run
// --timeline` runs it, all policies, its files written into the fuzzer's scratch directory
// (output.dir is overridden); `validate`'s reports and the summary table are made too. A scenario may fail only with the errors `moesim
// run` reports as bad input (exit status 2): a value the loader accepts must not crash the step model, the gating sources, the placement
// policies or the reports. What a run writes as its scenario.yaml (the resolved scenario) must load again, to the same resolved text; and a
// second run of the same scenario (the first with the last step's timeline, the second without) must give the same results, step by step,
// to the last bit, and `moesim compare` of the two runs finds no difference.
//
// Replays are run too: the token @TRACE_RANKS@ or @TRACE_TOTALS@ in an input stands for the path
// of a small trace (with per-rank counts, or per-expert totals only) written at start-up in the
// shape of the trace seeds' scenario.
//
// Runs past a size gate are skipped, so that one input takes milliseconds, not minutes: the
// gate's bounds are far above the hand-checked tiny clusters where the interesting cases live.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/gating/routing_matrix.h"
#include "models/gating/trace_h5.h"
#include "results/compare_csv.h"
#include "results/run_outputs.h"
#include "results/table.h"
#include "scenarios/loader/loader.h"
#include "sim/base/units.h"
#include "sim/cli/layout_report.h"
#include "sim/compare.h"
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

// Runs `s` as `moesim run --threads 2` does: the next step's routing drawn while a step is
// simulated, skewed gating sampled in parts.
moesim::RunResult run_on_two_threads(const Scenario& s) {
  const auto source = moesim::make_gating_source(s, 2);
  return moesim::run_scenario(s, *source, nullptr, std::nullopt, nullptr, 2);
}

// Runs `s` as `moesim run --timeline` does, into the fuzzer's own output directory (the input's
// output.dir is overridden), and makes the summary table.
moesim::RunResult run_and_write(const Scenario& s) {
  moesim::results::RunOutputs outputs(s, 1, moesim::files::DirectoryLock::Wait::kNo);
  const auto source = moesim::make_gating_source(s);
  const moesim::TimelineSink sink = [&outputs](int policy, const std::vector<moesim::TimelineSpan>& spans) {
    outputs.timeline()->add(policy, spans);
  };
  moesim::RunResult result = moesim::run_scenario(s, *source, nullptr, moesim::TimelineSteps{s.steps - 1, s.steps - 1}, sink);
  const auto summary = moesim::summarize(s, result);
  moesim::results::summary_table(summary);
  outputs.commit(moesim::scenarios::resolved_yaml(s), summary, result);
  return result;
}

// `moesim compare` of a scenario with itself, its two runs standing for two seeds on each side:
// nothing differs, every delta is zero and none is beyond seed noise; the table and compare.csv are
// made. Anything else is a finding.
void check_comparison(const Scenario& s, const std::vector<moesim::PolicySummary>& first, const std::vector<moesim::PolicySummary>& again) {
  const std::vector<std::vector<moesim::PolicySummary>> base{first, again}, variant{again, first};
  std::vector<std::string> unmatched;
  const auto comparison = moesim::compare_runs(base, variant, &unmatched);
  bool same = unmatched.empty() && moesim::scenarios::differences(s, s).empty() && comparison.size() == first.size();
  for (const auto& policy : comparison) {
    for (const auto& m : policy.metrics) same = same && m.delta == 0 && !m.significant();
  }
  moesim::results::compare_table(comparison);
  moesim::results::compare_csv(comparison);
  if (!same) {
    std::fprintf(stderr, "the scenario compared with itself differs:\n%s", moesim::scenarios::resolved_yaml(s).c_str());
    std::abort();
  }
}

// The same scenario run again, without the timeline and on two threads, gives the same steps and
// loads; anything else is a finding.
void check_repeats(const Scenario& s, const moesim::RunResult& first) {
  const moesim::RunResult again = run_on_two_threads(s);
  bool same = again.expert_loads == first.expert_loads && again.policies.size() == first.policies.size();
  for (size_t p = 0; same && p < first.policies.size(); ++p) {
    same = first.policies[p].steps == again.policies[p].steps && first.policies[p].expert_loads == again.policies[p].expert_loads;
  }
  if (!same) {
    std::fprintf(stderr, "a second run of the scenario gave other results:\n%s", moesim::scenarios::resolved_yaml(s).c_str());
    std::abort();
  }
  check_comparison(s, moesim::summarize(s, first), moesim::summarize(s, again));
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

// The trace seeds: a scenario small enough to replay many times a second.
constexpr const char* kTraceScenario = R"(name: replay
cluster: {preset: h100-dgx, nodes: 1, gpus_per_node: 4, nic: {count: 4}}
model: {preset: gpt3-125m-moe, layers: 4}
parallelism: {ep: 4}
training: {tokens_per_step: 4096, seq_len: 1024}
policies: [{placement: static}, {placement: replicated, rebalance_every: 2, warmup: 2, horizon: 2}]
)";

std::string trace_path(bool per_rank) { return (moesim::fuzz::scratch() / (per_rank ? "ranks.h5" : "totals.h5")).string(); }

// Four steps of the trace seeds' shape: each rank's tokens on two experts that move with the step.
void write_trace(bool per_rank) {
  const moesim::gating::GatingShape shape = moesim::gating_shape(moesim::scenarios::load_scenario_text(kTraceScenario, "seed.yaml", {}));
  moesim::gating::TraceInfo info;
  info.steps = 4;
  info.moe_layers = shape.moe_layers;
  info.experts = shape.experts;
  info.ranks = per_rank ? shape.ranks : 0;
  info.top_k = shape.top_k;
  info.tokens_per_step = shape.tokens_per_rank * shape.ranks;
  info.model = "fuzz";
  moesim::gating::TraceWriter writer(trace_path(per_rank), info);
  for (int step = 0; step < info.steps; ++step) {
    moesim::gating::RoutingMatrix m(shape.moe_layers, shape.ranks, shape.experts);
    for (int l = 0; l < shape.moe_layers; ++l) {
      for (int r = 0; r < shape.ranks; ++r) {
        const int64_t assignments = shape.tokens_per_rank * shape.top_k, first = assignments / 3;
        m.row(l, r)[(step + r) % shape.experts] += static_cast<int32_t>(first);
        m.row(l, r)[(step + 2 * r + 1) % shape.experts] += static_cast<int32_t>(assignments - first);
      }
    }
    if (per_rank) {
      writer.write_step(m);
    } else {
      std::vector<int32_t> totals(static_cast<size_t>(shape.moe_layers) * shape.experts, 0);
      for (int l = 0; l < shape.moe_layers; ++l) {
        for (int r = 0; r < shape.ranks; ++r) {
          for (int e = 0; e < shape.experts; ++e) totals[static_cast<size_t>(l) * shape.experts + e] += m.row(l, r)[e];
        }
      }
      writer.write_step_totals(totals);
    }
  }
  writer.finish();
}

// `text` with each trace token replaced by its trace's path.
std::string with_trace_paths(std::string text) {
  for (const bool per_rank : {true, false}) {
    const std::string token = per_rank ? "@TRACE_RANKS@" : "@TRACE_TOTALS@", path = trace_path(per_rank);
    for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at + path.size()))
      text.replace(at, token.size(), path);
  }
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  const auto corpora = moesim::fuzz::corpus_dirs(*argc, *argv);
  moesim::fuzz::seed_from(corpora, MOESIM_SOURCE_DIR "/scenarios", ".yaml");
  // The replay seeds join any corpus that lacks them, so that an older corpus replays too.
  for (const auto& corpus : corpora) {
    for (const auto& [file, token] : {std::pair{"replay-ranks.yaml", "@TRACE_RANKS@"}, std::pair{"replay-totals.yaml", "@TRACE_TOTALS@"}}) {
      if (std::filesystem::exists(corpus / file)) continue;
      std::ofstream(corpus / file) << kTraceScenario << "gating: {source: trace, path: " << token << "}\n";
    }
  }
  write_trace(true);
  write_trace(false);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = moesim::fuzz::split_scenario_input(with_trace_paths(std::string(reinterpret_cast<const char*>(data), size)));
  input.overrides.push_back("steps=2");
  input.overrides.push_back("output.dir=" + (moesim::fuzz::scratch() / "out").string());
  try {
    const Scenario s = moesim::scenarios::load_scenario_text(input.yaml, "fuzz.yaml", input.overrides);
    check_round_trip(s);
    if (!small_enough(s)) return 0;
    moesim::cli::layout_report(s, "  ");
    moesim::cli::memory_report(s, "  ");
    const moesim::RunResult first = run_and_write(s);
    check_repeats(s, first);
  } catch (const moesim::scenarios::ScenarioError&) {
  } catch (const moesim::gating::TraceError&) {
  } catch (const moesim::files::FileError&) {
  } catch (const moesim::ResourceError&) {
  } catch (const moesim::ClockOverflow&) {}
  return 0;
}
