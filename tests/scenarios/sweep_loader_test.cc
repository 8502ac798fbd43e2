// Expanding a sweep file into points.
#include "scenarios/loader/sweep_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "models/gating/routing/routing_rule.h"

#include <unistd.h>

namespace moesim::scenarios {
namespace {

class SweepLoader : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("moesim-sweep-loader-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "sub");
    std::ofstream(dir_ / "sub" / "base.yaml") << "name: b\ncluster: {preset: h100-dgx, nodes: 2}\nmodel: {preset: gpt3-125m-moe}\n"
                                                 "training: {tokens_per_step: 65536}\npolicies: [{placement: static}]\n";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string sweep(const std::string& text) {
    std::ofstream(dir_ / "s.yaml") << text;
    return (dir_ / "s.yaml").string();
  }
  std::filesystem::path dir_;
};

TEST_F(SweepLoader, GridTimesZipWithTheLastGridAxisFastestAndZipInnermost) {
  const Sweep s = load_sweep_file(sweep("base: sub/base.yaml\nset: {steps: 7}\n"
                                        "grid:\n  cluster.nodes: [1, 2]\n  policies: [[{placement: static}], [{placement: oracle}]]\n"
                                        "zip:\n  seed: [5, 6, 7]\n  gating.routing: [topk, hash, topk]\n"),
                                  (dir_ / "out").string());
  EXPECT_EQ(s.name, "s");
  EXPECT_EQ(s.base, (dir_ / "sub" / "base.yaml").string());
  ASSERT_EQ(s.axes.size(), 4u);
  EXPECT_EQ(s.axes[1].key, "policies");
  EXPECT_EQ(s.axes[1].values[1], "[{placement: oracle}]");
  ASSERT_EQ(s.points.size(), 12u);
  const SweepPoint& p = s.points[7];  // nodes index 1, policies index 0, zip index 1
  EXPECT_EQ(p.values, (std::vector<std::string>{"2", "[{placement: static}]", "6", "hash"}));
  EXPECT_EQ(p.scenario.cluster.nodes, 2);
  EXPECT_EQ(p.scenario.seed, 6u);
  EXPECT_EQ(p.scenario.steps, 7);
  EXPECT_EQ(p.scenario.gating.routing->name(), "hash");
  EXPECT_EQ(p.scenario.policies.at(0).placement_name(), "static");
  EXPECT_EQ(s.points[4].scenario.policies.at(0).placement_name(), "oracle");
  EXPECT_EQ(p.scenario.output_dir, (dir_ / "out" / "points" / "0007").string());
  EXPECT_EQ(load_sweep_file(sweep("base: sub/base.yaml\ngrid: {seed: [1]}\n")).output_dir, "results/runs/s");
}

TEST_F(SweepLoader, AnAxisValueErrorNamesTheSweepFileAndThePoint) {
  try {
    load_sweep_file(sweep("base: sub/base.yaml\ngrid:\n  seed: [1]\n  cluster.nodes: [4, 0]\n"));
    FAIL();
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.key_path(), "cluster.nodes");
    EXPECT_EQ(e.location(), (dir_ / "s.yaml").string() + ":4:22, point 1");
  }
  EXPECT_THROW(load_sweep_file(sweep("grid: {seed: [1]}\n")), ScenarioError);    // no base
  EXPECT_THROW(load_sweep_file(sweep("base: sub/base.yaml\n")), ScenarioError);  // no axis
  EXPECT_THROW(load_sweep_file(sweep("base: missing.yaml\ngrid: {seed: [1]}\n")), ScenarioError);
  EXPECT_THROW(load_sweep_file(sweep("base: sub/base.yaml\ngrid: [seed]\n")), ScenarioError);
  EXPECT_THROW(load_sweep_file(sweep("base: sub/base.yaml\ngrid: {seed: [1}\n")), ScenarioError);  // YAML syntax
}

TEST_F(SweepLoader, PointsResolvedOnThreadsAreThePointsResolvedInTurnAndTheFirstErrorIsThePointsInOrder) {
  const std::string file = sweep("base: sub/base.yaml\ngrid:\n  seed: [1, 2, 3, 4, 5]\n  gating.routing: [topk, hash]\n");
  const Sweep one = load_sweep_file(file, (dir_ / "out").string(), {"steps=9"}, 1);
  const Sweep four = load_sweep_file(file, (dir_ / "out").string(), {"steps=9"}, 4);
  ASSERT_EQ(one.points.size(), 10u);
  ASSERT_EQ(four.points.size(), 10u);
  for (size_t i = 0; i < one.points.size(); ++i) {
    EXPECT_EQ(four.points[i].index, static_cast<int>(i));
    EXPECT_EQ(four.points[i].values, one.points[i].values);
    EXPECT_EQ(four.points[i].resolved_yaml, one.points[i].resolved_yaml) << "point " << i;
  }
  // Points 1 and 3 are bad (nodes 0): point 1's error, however the threads take them.
  const std::string bad = sweep("base: sub/base.yaml\ngrid:\n  cluster.nodes: [2, 0, 2, -1]\n");
  for (const int threads : {1, 2, 4}) {
    try {
      load_sweep_file(bad, std::nullopt, {}, threads);
      FAIL() << threads << " threads: no error";
    } catch (const ScenarioError& e) {
      EXPECT_EQ(e.location(), (dir_ / "s.yaml").string() + ":3:22, point 1") << threads << " threads";
    }
  }
}

}  // namespace
}  // namespace moesim::scenarios
