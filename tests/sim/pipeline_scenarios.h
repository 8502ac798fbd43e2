// Test helpers: small pipelined scenarios whose steps the pipeline tests simulate.
#pragma once

#include <string>
#include <vector>

#include "policies/placement/static_placement.h"
#include "scenarios/loader/loader.h"
#include "sim/runner.h"
#include "sim/step/step_simulator.h"

namespace moesim {

// 4 H100 in a node, GPT-3 125M MoE cut to 8 layers with one expert (no all-to-all) and an 8-word
// vocabulary (no LM head to speak of): each pipeline stage does the same work.
inline scenarios::Scenario pipeline(const std::vector<std::string>& overrides) {
  return scenarios::load_scenario_text(R"(
cluster: {preset: h100-dgx, nodes: 1, gpus_per_node: 4, nic: {count: 4}, intra_node: {group_size: 4}}
model: {preset: gpt3-125m-moe, layers: 8, first_moe_layer: 0, moe_every: 1, experts: 1, vocab: 8}
parallelism: {pp: 4, ep: 1}
training: {global_batch: 8, micro_batch: 1, seq_len: 2048}
gating: {source: balanced}
)",
                                       "pipeline.yaml", overrides);
}

// Qwen3-30B-A3B cut to 8 layers on 4 nodes: PP2, EP16 over two nodes per stage.
inline scenarios::Scenario all_to_all_heavy(const std::string& schedule, const std::vector<std::string>& overrides = {}) {
  return scenarios::load_scenario_text(
      "cluster: {preset: h100-dgx, nodes: 4}\nmodel: {preset: qwen3-30b-a3b, layers: 8}\n"
      "parallelism: {pp: 2, ep: 16, zero: 1}\ntraining: {global_batch: 64, micro_batch: 1, seq_len: 4096}\n"
      "dispatch: {comm_sms: 0}\ngating: {source: balanced}\nschedule: " +
          schedule + "\n",
      "heavy.yaml", overrides);
}

// One step of `sim` (built from step_config(s), maybe changed) on the first step's routing of `s`
// and its contiguous static placement; `sim` keeps the step's DAG and schedule.
inline StepResult simulate_step(const scenarios::Scenario& s, StepSimulator& sim) {
  gating::RoutingMatrix routing(s.model.moe_layer_count(), s.parallelism.stage_gpus(), s.model.experts);
  make_gating_source(s)->next(0, routing);
  return sim.simulate(routing, policies::static_placement({s.model.moe_layer_count(), s.model.experts, s.parallelism.ep},
                                                          policies::StaticLayout::kContiguous));
}

// Every task of one step of `s`, as the timeline shows it.
inline std::vector<TimelineSpan> spans_of(const scenarios::Scenario& s) {
  StepSimulator sim(step_config(s));
  simulate_step(s, sim);
  std::vector<TimelineSpan> spans;
  sim.append_timeline(0, Duration(), spans);
  return spans;
}

inline StepResult run_step(const scenarios::Scenario& s) {
  StepSimulator sim(step_config(s));
  return simulate_step(s, sim);
}

}  // namespace moesim
