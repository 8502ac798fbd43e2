// Placement policies through whole runs: what they buy over static placement, and what moving
// experts costs.
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "models/moe_model.h"
#include "policies/placement/static_placement.h"
#include "scenarios/loader/loader.h"
#include "sim/runner.h"
#include "sim/step/step_simulator.h"
#include "sim/summary.h"

namespace moesim {
namespace {

// Two H100 servers, 128 experts over 16 GPUs; stationary loads (no drift).
const std::string kCluster =
    "seed: 3\n"
    "steps: 400\n"
    "cluster: {preset: h100-dgx, nodes: 2}\n"
    "model: {preset: gpt3-350m-moe}\n"
    "parallelism: {ep: 16, dp: 16}\n"
    "training: {tokens_per_step: 262144, seq_len: 2048}\n"
    "policies:\n"
    "  - {placement: static}\n"
    "  - {placement: predictive, predictor: sw_avg, rebalance_every: 100, horizon: 50}\n"
    "  - {placement: predictive, predictor: ema, rebalance_every: 100, horizon: 50}\n"
    "  - {placement: oracle, rebalance_every: 100, horizon: 50}\n";

std::vector<PolicySummary> run(const std::string& gating) {
  const auto s = scenarios::load_scenario_text(kCluster + gating, "test.yaml", {});
  auto source = make_gating_source(s);
  return summarize(s, run_scenario(s, *source));
}

// The oracle's coming steps come from the run's own source, queued, unless routing depends on
// the placement or the queue would be too large; either way it reads the steps the run then routes
// (SkewedStationaryLoads: it never does worse than a forecast).
TEST(PlacementRuns, TheOracleSharesTheGatingSourceWhereOneRoutingServesEveryPlacement) {
  const auto s = scenarios::load_scenario_text(kCluster + "gating: {source: skewed}\n", "test.yaml", {});
  EXPECT_EQ(run_lookahead(s), 50);
  // 12 MoE layers x (16 ranks x 128 experts x 12 + 128 x 8 + 128^2 x 8 bytes) per step.
  EXPECT_DOUBLE_EQ(routing_matrix_bytes(s), 12.0 * (16 * 128 * 12 + 128 * 8 + 128 * 128 * 8));
  EXPECT_TRUE(shares_gating_source(s, 50, false));
  EXPECT_FALSE(shares_gating_source(s, 50, true));  // per-placement routing: a second source
  const int too_many = static_cast<int>(kLookAheadQueueBytes / routing_matrix_bytes(s)) + 1;
  ASSERT_LT(too_many, s.steps);
  EXPECT_FALSE(shares_gating_source(s, too_many, false));
  auto shorter = s;
  shorter.steps = 10;
  EXPECT_TRUE(shares_gating_source(shorter, too_many, false));  // no more steps queued than the run has
}

// Policies that agree share a step (StepSimulator::repeat): every policy of a run gets, step by
// step, exactly the results it gets when it runs alone, before its warmup (when it places as
// static does) and after (when it moves, and the static policy cannot stand in for it).
TEST(PlacementRuns, APolicyGetsTheStepsItGetsAlone) {
  const std::string gating = "gating: {source: skewed}\n";
  const auto both = scenarios::load_scenario_text(kCluster + gating, "test.yaml", {});
  auto source = make_gating_source(both);
  const RunResult together = run_scenario(both, *source);
  for (size_t i = 1; i < both.policies.size(); ++i) {
    auto alone = both;
    alone.policies = {both.policies[i]};
    auto own_source = make_gating_source(alone);
    const RunResult solo = run_scenario(alone, *own_source);
    const auto& shared = together.policies[i].steps;
    ASSERT_EQ(solo.policies[0].steps.size(), shared.size());
    int same_as_static = 0;
    for (size_t step = 0; step < shared.size(); ++step) {
      const StepResult& a = solo.policies[0].steps[step];
      const StepResult& b = shared[step];
      ASSERT_EQ(a.step_time, b.step_time) << both.policies[i].label << ", step " << step;
      ASSERT_EQ(a.compute_busy, b.compute_busy) << both.policies[i].label << ", step " << step;
      ASSERT_EQ(a.migration_bytes, b.migration_bytes) << both.policies[i].label << ", step " << step;
      same_as_static += b.step_time == together.policies[0].steps[step].step_time;
    }
    EXPECT_GT(same_as_static, 0) << both.policies[i].label;                                // steps it shared
    EXPECT_LT(same_as_static, static_cast<int>(shared.size())) << both.policies[i].label;  // and steps of its own
  }
}

// The run's source, noting the thread each step is routed on.
class ThreadNoting final : public gating::Source {
 public:
  explicit ThreadNoting(std::unique_ptr<gating::Source> inner) : inner_(std::move(inner)) {}
  std::string describe() const override { return inner_->describe(); }
  std::vector<std::thread::id> threads;  // per step routed

 protected:
  void advance(int) override {}
  void fill(const gating::RoutingView& view, gating::RoutingMatrix& out) override {
    threads.push_back(std::this_thread::get_id());
    inner_->route(current_step(), view, out);
  }

 private:
  std::unique_ptr<gating::Source> inner_;
};

// With two threads the next step is routed on the second while the last policy's step is simulated
// (whether that policy simulates it, or takes a twin's step), and the run is the same, step by step.
TEST(PlacementRuns, ARunRoutingTheNextStepMeanwhileIsTheSameRun) {
  const std::string policies[] = {
      "  - {placement: static}\n  - {placement: predictive, predictor: ema, rebalance_every: 20, horizon: 10, warmup: 5}\n",
      "  - {placement: static}\n  - {placement: predictive, predictor: sw_avg, rebalance_every: 20, horizon: 10, warmup: 5}\n"
      "  - {placement: static, label: again}\n",
  };
  for (const std::string& listed : policies) {
    for (const std::string execution : {"dropless", "capacity"}) {
      const std::string text =
          "seed: 5\nsteps: 45\ncluster: {preset: h100-dgx, nodes: 2}\nmodel: {preset: gpt3-350m-moe}\n"
          "parallelism: {ep: 16, dp: 16}\ntraining: {tokens_per_step: 262144, seq_len: 2048, expert_execution: " +
          execution + "}\ngating: {source: skewed, drift: 0.2}\npolicies:\n" + listed;
      const auto s = scenarios::load_scenario_text(text, "test.yaml", {});
      auto one = make_gating_source(s);
      const RunResult alone = run_scenario(s, *one);
      ThreadNoting two(make_gating_source(s));
      const RunResult meanwhile = run_scenario(s, two, nullptr, std::nullopt, nullptr, 2);
      ASSERT_EQ(two.threads.size(), 45u);
      EXPECT_EQ(two.threads[0], std::this_thread::get_id());
      for (size_t step = 1; step < 45; ++step) EXPECT_NE(two.threads[step], std::this_thread::get_id()) << "step " << step;
      EXPECT_EQ(meanwhile.expert_loads, alone.expert_loads) << execution;
      for (size_t i = 0; i < s.policies.size(); ++i) {
        const auto& a = alone.policies[i];
        const auto& b = meanwhile.policies[i];
        EXPECT_TRUE(a.steps == b.steps) << s.policies[i].label << ", " << execution;
        EXPECT_EQ(a.forecast_error_pp, b.forecast_error_pp) << s.policies[i].label << ", " << execution;
        ASSERT_EQ(a.placements.size(), b.placements.size()) << s.policies[i].label << ", " << execution;
        EXPECT_GT(a.placements.size(), i == 1 ? 1u : 0u) << s.policies[i].label << ", " << execution;  // the predictive policy moves
      }
    }
  }
}

TEST(PlacementRuns, UniformLoadsLeaveEveryPolicyAsStatic) {
  const auto r = run("gating: {source: skewed, distribution: uniform, drift: 0}\n");
  for (const auto& p : r) {
    EXPECT_NEAR(p.step_ms_mean, r[0].step_ms_mean, 0.01 * r[0].step_ms_mean) << p.label;
    EXPECT_EQ(p.migration_gb, 0.0) << p.label;  // no plan beats the current one by enough to move
  }
}

TEST(PlacementRuns, SkewedStationaryLoads) {
  const auto r = run("gating: {source: skewed, distribution: zipf, zipf_s: 0.6, drift: 0}\n");
  const double fixed = r[0].step_ms_mean, sw_avg = r[1].step_ms_mean, ema = r[2].step_ms_mean, oracle = r[3].step_ms_mean;
  EXPECT_LT(sw_avg, fixed);
  EXPECT_LT(ema, fixed);
  EXPECT_LE(oracle, sw_avg * 1.001);  // the oracle sees what sw_avg can only estimate
  EXPECT_GE(fixed - sw_avg, 0.5 * (fixed - oracle)) << "static " << fixed << ", sw_avg " << sw_avg << ", oracle " << oracle;
  EXPECT_GT(r[1].migration_gb, 0.0);
  EXPECT_EQ(r[0].migration_gb, 0.0);
  EXPECT_GT(r[1].speedup, 1.0);
  // Forecasts are scored against the loads that followed; static makes none.
  EXPECT_FALSE(r[0].forecast_error_pp.has_value());
  ASSERT_TRUE(r[1].forecast_error_pp.has_value());
  EXPECT_GT(*r[1].forecast_error_pp, 0.0);
  EXPECT_LT(*r[1].forecast_error_pp, 0.5);  // stationary loads: sw_avg is close
}

// Top-2 routing by the learned gate, with a dispatch that sends a token once to each GPU holding
// any of its experts; two servers, 128 experts over 16 GPUs.
std::vector<PolicySummary> run_top_two(const std::string& routing) {
  const auto s = scenarios::load_scenario_text(
      "seed: 3\n"
      "steps: 200\n"
      "cluster: {preset: h100-dgx, nodes: 2}\n"
      "model: {preset: gpt3-350m-moe, top_k: 2}\n"
      "parallelism: {ep: 16, dp: 16}\n"
      "training: {tokens_per_step: 262144, seq_len: 2048}\n"
      "dispatch: {dedup: gpu}\n"
      "gating: {source: learned, routing: " +
          routing +
          ", probe_tokens: 512, topics: 256, learn_tokens: 1024}\n"
          "policies:\n"
          "  - {placement: static}\n"
          "  - {placement: predictive, predictor: sw_avg, rebalance_every: 50, horizon: 50, warmup: 50}\n"
          "  - {placement: affinity, predictor: sw_avg, rebalance_every: 50, horizon: 50, warmup: 50}\n",
      "test.yaml", {});
  auto source = make_gating_source(s);
  return summarize(s, run_scenario(s, *source));
}

double a2a_gb(const PolicySummary& p) { return p.intra_node_a2a_gb + p.inter_node_a2a_gb; }

// With spare slots the oracle replicates from the true loads, so it bounds the replicating
// policies, which a packing oracle does not: a skewed load drifting faster than a 20-step window
// follows, one spare slot per GPU. (On stationary loads its plan and a forecast's agree, within noise.)
TEST(PlacementRuns, TheReplicatingOracleBoundsReplication) {
  const std::string scenario =
      "seed: 3\n"
      "steps: 120\n"
      "cluster: {preset: h100-dgx, nodes: 2}\n"
      "model: {preset: gpt3-350m-moe}\n"
      "parallelism: {ep: 16, dp: 16}\n"
      "training: {tokens_per_step: 262144, seq_len: 2048}\n"
      "gating: {source: skewed, distribution: zipf, zipf_s: 1.2, drift: 0.2}\n"
      "policies:\n"
      "  - {placement: replicated, predictor: sw_avg, spare_slots: 1, rebalance_every: 20, horizon: 20, warmup: 10}\n"
      "  - {placement: oracle, spare_slots: 1, rebalance_every: 20, horizon: 20, warmup: 10}\n"
      "  - {placement: oracle, rebalance_every: 20, horizon: 20, warmup: 10}\n";
  const auto s = scenarios::load_scenario_text(scenario, "test.yaml", {});
  auto source = make_gating_source(s);
  const auto r = summarize(s, run_scenario(s, *source));
  ASSERT_EQ(r[1].label, "oracle-replicated");
  ASSERT_EQ(r[2].label, "oracle");
  EXPECT_LE(r[1].step_ms_mean, r[0].step_ms_mean);  // bounds replicated
  EXPECT_LT(r[1].step_ms_mean, r[2].step_ms_mean);  // and does better than packing alone
}

TEST(PlacementRuns, AffinityCutsAllToAllBytesUnderDeduplication) {
  const auto r = run_top_two("topk");
  const auto &fixed = r[0], &predictive = r[1], &affinity = r[2];
  // Tokens whose two experts share a GPU travel once: fewer bytes than either other placement,
  // which ignore co-activation, at a load balance close to predictive's.
  EXPECT_LT(a2a_gb(affinity), 0.95 * a2a_gb(predictive)) << a2a_gb(affinity) << " vs " << a2a_gb(predictive);
  EXPECT_LT(a2a_gb(affinity), 0.95 * a2a_gb(fixed));
  EXPECT_LT(affinity.imbalance, fixed.imbalance);
  EXPECT_LT(affinity.step_ms_mean, fixed.step_ms_mean);
  EXPECT_GT(affinity.migration_gb, 0.0);
}

// The affinity oracle plans as affinity does from the true loads and co-activation of the coming
// steps, which the look-ahead shows it: it bounds affinity, and it is the only oracle that does.
TEST(PlacementRuns, TheAffinityOracleBoundsAffinity) {
  const auto s = scenarios::load_scenario_text(
      "seed: 3\nsteps: 150\ncluster: {preset: h100-dgx, nodes: 2}\nmodel: {preset: gpt3-350m-moe, top_k: 2}\n"
      "parallelism: {ep: 16, dp: 16}\ntraining: {tokens_per_step: 262144, seq_len: 2048}\ndispatch: {dedup: gpu}\n"
      "gating: {source: learned, probe_tokens: 512, topics: 256, learn_tokens: 1024}\npolicies:\n"
      "  - {placement: affinity, predictor: sw_avg, rebalance_every: 50, horizon: 50, warmup: 50}\n"
      "  - {placement: oracle_affinity, rebalance_every: 50, horizon: 50, warmup: 50}\n",
      "test.yaml", {});
  auto source = make_gating_source(s);
  const auto r = summarize(s, run_scenario(s, *source));
  ASSERT_EQ(r[1].label, "oracle-affinity");
  EXPECT_EQ(r[1].family, "affinity");
  EXPECT_TRUE(r[1].bound);
  EXPECT_LT(r[1].step_ms_mean, r[0].step_ms_mean);
  // The coming steps' co-activation keeps more of each token's experts on one GPU than the past
  // steps' does: fewer bytes sent once per GPU.
  EXPECT_LT(a2a_gb(r[1]), a2a_gb(r[0]));
  EXPECT_GT(r[1].migration_gb, 0.0);
}

TEST(PlacementRuns, UniformCoactivationLeavesAffinityAsStatic) {
  // Hash routing: every expert as loaded, every pair as likely, as any other.
  const auto r = run_top_two("hash");
  EXPECT_EQ(r[2].migration_gb, 0.0);
  EXPECT_NEAR(r[2].step_ms_mean, r[0].step_ms_mean, 0.01 * r[0].step_ms_mean);
}

TEST(Migration, TimeIsTheBytesOverTheBottleneckLink) {
  // One GPU per server, NICs of 400 Gb/s at full efficiency and no latency: swapping one expert
  // each way sends one expert's state over each NIC, in each direction at once.
  const auto s = scenarios::load_scenario_text(
      "cluster: {preset: h100-dgx, nodes: 2, gpus_per_node: 1, nic: {count: 1, bandwidth: 400 Gb/s, efficiency: 1.0, latency: 0 us},"
      " fabric: {switch_latency: 0 ns}}\n"
      "model: {preset: gpt3-125m-moe}\n"
      "parallelism: {ep: 2, dp: 2}\n"
      "training: {tokens_per_step: 8192, seq_len: 2048}\n",
      "test.yaml", {});
  const policies::PlacementShape shape{s.model.moe_layer_count(), s.model.experts, 2};
  policies::Placement before = policies::static_placement(shape, policies::StaticLayout::kContiguous), after = before;
  std::swap(after.layers[0].replicas[0], after.layers[0].replicas[8]);  // expert 0 to rank 1, expert 8 to rank 0
  gating::RoutingMatrix routing(shape.moe_layers, 2, shape.experts);
  StepSimulator sim(step_config(s, MigrationMode::kBlocking));
  const StepResult first = sim.simulate(routing, before), same = sim.simulate(routing, before), moved = sim.simulate(routing, after);
  EXPECT_EQ(first.migration_bytes, Bytes(0));
  EXPECT_EQ(same.migration_bytes, Bytes(0));

  const double state_bytes = models::param_counts(s.model).expert *
                             (models::MoeModel::kWeightBytes + s.model.grad_bytes_per_param + s.model.optimizer_bytes_per_param);
  EXPECT_DOUBLE_EQ(moved.migration_bytes.count(), 2 * state_bytes);
  EXPECT_NEAR(moved.migration_time.seconds(), state_bytes / (400e9 / 8), 1e-9);
  // Blocking: the step waits for it.
  EXPECT_NEAR((moved.step_time - same.step_time).seconds(), moved.migration_time.seconds(), 1e-6);
  // Overlapped: the first layers run meanwhile, so the step pays less, but the experts still wait.
  StepSimulator overlapped(step_config(s, MigrationMode::kOverlapped));
  overlapped.simulate(routing, before);
  const Duration still = overlapped.simulate(routing, before).step_time, paid = overlapped.simulate(routing, after).step_time - still;
  EXPECT_LT(paid, moved.migration_time);
  EXPECT_GT(paid, moved.migration_time * 0.5);
}

}  // namespace
}  // namespace moesim
