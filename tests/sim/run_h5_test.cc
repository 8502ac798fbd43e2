// run.h5 holds what the run simulated, step by step, and the placements when they changed.
#include <gtest/gtest.h>

#include <H5Cpp.h>

#include <cmath>
#include <filesystem>

#include "results/run_h5.h"
#include "results/sweep_outputs.h"
#include "scenarios/loader/loader.h"
#include "sim/runner.h"
#include "tests/sim/policy_summary.h"

namespace moesim {
namespace {

template <typename T>
std::vector<T> read(const H5::Group& g, const char* name, const H5::PredType& type, std::vector<hsize_t>& dims) {
  const H5::DataSet ds = g.openDataSet(name);
  const H5::DataSpace space = ds.getSpace();
  dims.resize(space.getSimpleExtentNdims());
  space.getSimpleExtentDims(dims.data());
  std::vector<T> values(space.getSimpleExtentNpoints());
  ds.read(values.data(), type);
  return values;
}

// A scenario's run, written to a run.h5 of its own in the temporary directory.
struct WrittenRun {
  scenarios::Scenario scenario;
  RunResult run;
  std::string path;
};

WrittenRun write_run(const std::string& yaml, const std::string& name) {
  WrittenRun w{scenarios::load_scenario_text(yaml, "t.yaml", {}), {}, {}};
  auto source = make_gating_source(w.scenario);
  w.run = run_scenario(w.scenario, *source);
  w.path = (std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()) + ".h5")).string();
  results::write_run_h5(w.path, w.scenario, w.run, "resolved: yaml\n");
  return w;
}

TEST(RunH5, HoldsStepSeriesAndPlacementChanges) {
  const auto [s, run, path] = write_run(
      "steps: 30\n"
      "cluster: {preset: h100-dgx, nodes: 1, gpus_per_node: 4, nic: {count: 4}}\n"
      "model: {preset: gpt3-125m-moe}\n"
      "parallelism: {ep: 4, dp: 4}\n"
      "training: {tokens_per_step: 65536, seq_len: 2048}\n"
      "gating: {source: skewed, zipf_s: 1.2, drift: 0}\n"
      "policies:\n"
      "  - {placement: static}\n"
      "  - {placement: replicated, rebalance_every: 10, horizon: 5, warmup: 5}\n",
      "run_h5_test");

  H5::H5File file(path, H5F_ACC_RDONLY);
  std::vector<hsize_t> dims;
  const H5::Group fixed = file.openGroup("policies/0"), moving = file.openGroup("policies/1");
  const auto step_ms = read<double>(fixed, "step_ms", H5::PredType::NATIVE_DOUBLE, dims);
  ASSERT_EQ(dims, std::vector<hsize_t>{30});
  EXPECT_DOUBLE_EQ(step_ms[7], run.policies[0].steps[7].step_time / Milliseconds(1));
  read<double>(fixed, "gpu_busy_ms", H5::PredType::NATIVE_DOUBLE, dims);
  EXPECT_EQ(dims, (std::vector<hsize_t>{30, 4}));
  EXPECT_EQ(read<int32_t>(fixed, "placement_steps", H5::PredType::NATIVE_INT32, dims), std::vector<int32_t>{0});

  // Replicated re-planned at steps 5, 15 and 25 (or kept a plan): every change is recorded, and
  // each expert's shares sum to 1.
  const auto steps = read<int32_t>(moving, "placement_steps", H5::PredType::NATIVE_INT32, dims);
  EXPECT_EQ(steps.size(), run.policies[1].placements.size());
  ASSERT_GE(steps.size(), 2u);
  EXPECT_EQ(steps[1], 5);
  const auto share = read<float>(moving, "placement_share", H5::PredType::NATIVE_FLOAT, dims);
  ASSERT_EQ(dims, (std::vector<hsize_t>{steps.size(), 6, 16, 4}));
  for (size_t expert = 0; expert < steps.size() * 6 * 16; ++expert) {
    float sum = 0;
    for (int r = 0; r < 4; ++r) sum += share[expert * 4 + r];
    EXPECT_NEAR(sum, 1.0f, 1e-6f);
  }
  // The same plans in slot form: each rank's experts in increasing order, its spare slot -1 or an
  // expert it replicates; every expert on the ranks its shares say.
  const auto slots = read<int32_t>(moving, "placement_slots", H5::PredType::NATIVE_INT32, dims);
  ASSERT_EQ(dims, (std::vector<hsize_t>{steps.size(), 6, 4, 5}));
  for (size_t layer = 0; layer < steps.size() * 6; ++layer) {
    for (int r = 0; r < 4; ++r) {
      int previous = -1;
      for (int k = 0; k < 5; ++k) {
        const int e = slots[(layer * 4 + r) * 5 + k];
        if (e < 0) continue;
        EXPECT_GT(e, previous);
        EXPECT_GT(share[(layer * 16 + e) * 4 + r], 0.0f) << "expert " << e << " on rank " << r;
        previous = e;
      }
    }
  }
  const auto migration = read<double>(moving, "migration_gb", H5::PredType::NATIVE_DOUBLE, dims);
  EXPECT_GT(migration[5], 0.0);
  EXPECT_EQ(migration[4], 0.0);

  // The loads every policy saw: each step's tokens per expert sum to tokens x top-k per layer.
  const auto loads = read<int32_t>(file.openGroup("/"), "expert_loads", H5::PredType::NATIVE_INT32, dims);
  ASSERT_EQ(dims, (std::vector<hsize_t>{30, 6, 16}));
  for (size_t layer = 0; layer < 30 * 6; ++layer) {
    int64_t sum = 0;
    for (int e = 0; e < 16; ++e) sum += loads[layer * 16 + e];
    EXPECT_EQ(sum, 65536 * s.model.top_k);
  }
  const auto a2a = read<double>(fixed, "a2a_inter_node_gb", H5::PredType::NATIVE_DOUBLE, dims);
  EXPECT_DOUBLE_EQ(a2a[3], run.policies[0].steps[3].a2a_inter_node.count() / 1e9);
  // One forecast score per closed plan; static plans nothing.
  EXPECT_EQ(read<double>(fixed, "forecast_error_pp", H5::PredType::NATIVE_DOUBLE, dims).size(), 0u);
  const auto errors = read<double>(moving, "forecast_error_pp", H5::PredType::NATIVE_DOUBLE, dims);
  EXPECT_EQ(errors.size(), run.policies[1].forecast_scores.size());
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(read<int32_t>(moving, "forecast_first_step", H5::PredType::NATIVE_INT32, dims)[0], 5);

  std::string yaml;
  const H5::Attribute attr = file.openGroup("/").openAttribute("scenario_yaml");
  attr.read(attr.getStrType(), yaml);
  EXPECT_EQ(yaml, "resolved: yaml\n");
  std::filesystem::remove(path);
}

// Loads are stored shuffled and deflated in chunks of whole steps of about 256 KiB (GPT-3 125M: 6 x
// 16 int32 a step, 682 steps a chunk), the last chunk only partly filled: every value reads back
// as the run made it.
TEST(RunH5, LoadsReadBackWholeAcrossChunksOfManySteps) {
  const auto [s, run, path] = write_run(
      "steps: 1500\n"
      "cluster: {preset: h100-dgx, nodes: 1, gpus_per_node: 4, nic: {count: 4}}\n"
      "model: {preset: gpt3-125m-moe}\n"
      "parallelism: {ep: 4, dp: 4}\n"
      "training: {tokens_per_step: 8192, seq_len: 2048}\n"
      "gating: {source: skewed}\n"
      "policies: [{placement: static}]\n",
      "run_h5_chunks_test");

  H5::H5File file(path, H5F_ACC_RDONLY);
  std::vector<hsize_t> dims;
  EXPECT_EQ(read<int32_t>(file.openGroup("/"), "expert_loads", H5::PredType::NATIVE_INT32, dims), run.expert_loads);
  EXPECT_EQ(dims, (std::vector<hsize_t>{1500, 6, 16}));
  const H5::DSetCreatPropList props = file.openDataSet("expert_loads").getCreatePlist();
  hsize_t chunk[3] = {};
  ASSERT_EQ(props.getChunk(3, chunk), 3);
  EXPECT_EQ(chunk[0], 682u);
  EXPECT_EQ(chunk[2], 16u);
  // Shuffled before deflating, so a reader unshuffles after inflating.
  ASSERT_EQ(props.getNfilters(), 2);
  auto filter = [&](int i) {
    unsigned flags = 0, config = 0, values[4] = {};
    size_t count = std::size(values);
    char name[64] = {};
    return props.getFilter(i, flags, count, values, sizeof name, name, config);
  };
  EXPECT_EQ(filter(0), H5Z_FILTER_SHUFFLE);
  EXPECT_EQ(filter(1), H5Z_FILTER_DEFLATE);
  file.close();
  std::filesystem::remove(path);
}

std::vector<std::string> read_strings(const H5::Group& g, const std::string& name) {
  const H5::DataSet ds = g.openDataSet(name);
  hsize_t n = 0;
  ds.getSpace().getSimpleExtentDims(&n);
  std::vector<char*> raw(n);
  const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  if (n > 0) ds.read(raw.data(), type);
  std::vector<std::string> out(raw.begin(), raw.end());
  H5Dvlen_reclaim(type.getId(), ds.getSpace().getId(), H5P_DEFAULT, raw.data());
  return out;
}

TEST(SweepH5, HoldsTheSweepCsvByColumn) {
  const PolicySummary a = test::policy_summary("static", 10);
  PolicySummary b = test::policy_summary("oracle", 8);
  b.forecast_error_pp = 0.5;
  const results::SweepTable t{"s", {"cluster.nodes", "policies"}, {{0, {"4", "[a]"}, {a, b}}, {1, {"8", "[a]"}, {a}}}};
  const auto path = (std::filesystem::temp_directory_path() / ("sweep_h5_test_" + std::to_string(::getpid()) + ".h5")).string();
  results::write_sweep_h5(path, t);
  H5::H5File file(path, H5F_ACC_RDONLY);
  const H5::Group root = file.openGroup("/");
  std::vector<hsize_t> dims;
  EXPECT_EQ(read_strings(root, "axes"), (std::vector<std::string>{"cluster.nodes", "policies"}));
  EXPECT_EQ(read<int32_t>(root, "point", H5::PredType::NATIVE_INT32, dims), (std::vector<int32_t>{0, 0, 1}));
  EXPECT_EQ(read_strings(root, "policy"), (std::vector<std::string>{"static", "oracle", "static"}));
  EXPECT_EQ(read_strings(file.openGroup("axis"), "cluster.nodes"), (std::vector<std::string>{"4", "4", "8"}));
  const H5::Group metrics = file.openGroup("metrics");
  EXPECT_EQ(read<double>(metrics, "step_ms_mean", H5::PredType::NATIVE_DOUBLE, dims), (std::vector<double>{10, 8, 10}));
  const auto error = read<double>(metrics, "forecast_error_pp", H5::PredType::NATIVE_DOUBLE, dims);
  EXPECT_TRUE(std::isnan(error[0]));
  EXPECT_EQ(error[1], 0.5);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace moesim
