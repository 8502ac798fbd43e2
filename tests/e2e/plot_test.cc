// results/plot.py on a run and on a sweep: it reads what moesim writes and draws every figure.
#include "tests/e2e/cli.h"

namespace moesim::e2e {
namespace {

// plot.py's interpreter: Debian's python3 with python3-h5py and python3-matplotlib.
bool python_has_plot_modules() { return std::system("/usr/bin/python3 -c 'import h5py, matplotlib, numpy' >/dev/null 2>&1") == 0; }

bool is_png(const fs::path& p) { return slurp(p).rfind("\x89PNG\r\n", 0) == 0; }

TEST_F(Cli, PlotDrawsEveryFigureOfARunAndOfASweep) {
  if (!python_has_plot_modules())
    GTEST_SKIP() << "/usr/bin/python3 lacks h5py, matplotlib or numpy (scripts/install-deps.sh installs them)";
  const std::string plot = "/usr/bin/python3 " + std::string(MOESIM_SOURCE_DIR) + "/results/plot.py ";
  const fs::path base = write("base.yaml", kTinyScenario);
  const fs::path run = dir_ / "run";
  ASSERT_EQ(moesim("run " + base.string() + " --quiet --out " + run.string()).status, 0);
  ASSERT_EQ(std::system((plot + run.string() + " --layer 5 >/dev/null").c_str()), 0);
  for (const char* png : {"step_time.png", "gpu_utilization.png", "expert_load.png", "forecast_error.png"}) {
    EXPECT_TRUE(is_png(run / png)) << png;
  }
  EXPECT_NE(std::system((plot + run.string() + " --layer 6 >/dev/null 2>&1").c_str()), 0);  // 6 MoE layers: 0..5
  // With moesim predict's CSV beside run.h5, the forecast figure is error against horizon.
  const std::string trace = (dir_ / "trace.h5").string();
  ASSERT_EQ(moesim("trace generate " + base.string() + " --steps 130 --out " + trace).status, 0);
  ASSERT_EQ(moesim("predict " + trace + " --predictors sw_avg,last_value --horizons 1,10 --csv " + (run / "prediction_errors.csv").string())
                .status,
            0);
  const std::string printed = (dir_ / "plot.txt").string();
  ASSERT_EQ(std::system((plot + run.string() + " >" + printed).c_str()), 0);
  EXPECT_NE(slurp(printed).find("forecast_error.png (against the horizon, from prediction_errors.csv)"), std::string::npos)
      << slurp(printed);

  // Axes that advance together (a zip) share a figure; a grid axis has its own.
  const fs::path sweep =
      write("sweep.yaml", "base: base.yaml\ngrid:\n  gating.routing: [topk, hash]\nzip:\n  cluster.nodes: [1, 2]\n  seed: [3, 4]\n");
  const fs::path out = dir_ / "sweep";
  ASSERT_EQ(moesim("sweep " + sweep.string() + " --quiet --out " + out.string()).status, 0);
  ASSERT_EQ(std::system((plot + out.string() + " >/dev/null").c_str()), 0);
  EXPECT_TRUE(is_png(out / "sweep_gating.routing.png"));
  EXPECT_TRUE(is_png(out / "sweep_cluster.nodes_and_seed.png"));
  EXPECT_FALSE(fs::exists(out / "sweep_cluster.nodes.png"));
  EXPECT_FALSE(fs::exists(out / "sweep_seed.png"));
  EXPECT_NE(std::system((plot + dir_.string() + " >/dev/null 2>&1").c_str()), 0);  // neither run.h5 nor sweep.h5
}

TEST_F(Cli, PlotDrawsTheGateSensitivityIncludingALayerThatNeverSettles) {
  if (!python_has_plot_modules())
    GTEST_SKIP() << "/usr/bin/python3 lacks h5py, matplotlib or numpy (scripts/install-deps.sh installs them)";
  // scripts/gate_sensitivity.py's layout; an empty settle_last is a run where a layer never settled.
  const fs::path gate = dir_ / "gate";
  fs::create_directories(gate);
  write("gate/gate_sensitivity.csv",
        "knob,key,value,steps,settle_first,settle_last,stable_sw_avg_pp\n"
        "peak learning rate,gating.lr,0.25,1000,100,400,0.2\n"
        "peak learning rate,gating.lr,1.0,1000,300,,0.3\n"
        "topic drift per step,gating.topic_drift,0.001,1000,120,500,0.1\n"
        "topic drift per step,gating.topic_drift,0.004,1000,150,700,0.4\n");
  const std::string printed = (dir_ / "plot.txt").string();
  ASSERT_EQ(
      std::system(("/usr/bin/python3 " + std::string(MOESIM_SOURCE_DIR) + "/results/plot.py " + gate.string() + " >" + printed).c_str()),
      0);
  EXPECT_TRUE(is_png(gate / "gate_sensitivity.png"));
  EXPECT_NE(slurp(printed).find("gate_sensitivity.png"), std::string::npos) << slurp(printed);
  // The sensitivity script leaves a table it did not write as it is, before running anything.
  const std::string before = slurp(gate / "gate_sensitivity.csv");
  const std::string script = "python3 " + std::string(MOESIM_SOURCE_DIR) + "/scripts/gate_sensitivity.py " + MOESIM_BINARY + " ";
  EXPECT_NE(std::system((script + gate.string() + " >/dev/null 2>" + printed).c_str()), 0);
  EXPECT_NE(slurp(printed).find("already exists"), std::string::npos) << slurp(printed);
  EXPECT_EQ(slurp(gate / "gate_sensitivity.csv"), before);
}

TEST_F(Cli, TheWhatIfQuestionsRunAsWritten) {
  // scenarios/whatif/'s questions, on a few steps and one seed: each compares two points.
  const std::string dir = std::string(MOESIM_SOURCE_DIR) + "/scenarios/whatif/";
  for (const char* question : {"nodes_8_vs_16", "nic_400g_vs_800g", "oversubscription_1_vs_2", "h100_vs_h200", "experts_64_vs_256"}) {
    const Result r = moesim("compare " + dir + question + ".yaml --steps 2 --seeds 1 --quiet");
    EXPECT_EQ(r.status, 0) << question << "\n" << r.err;
    EXPECT_NE(r.out.find("differs in "), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("differs in nothing"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("cost per M tokens"), std::string::npos) << r.out;
  }
  // The same question as BASE --set.
  const Result set = moesim("compare " + dir + "planner_base.yaml --set cluster.fabric.oversubscription=2 --steps 2 --seeds 1 --quiet");
  EXPECT_EQ(set.status, 0) << set.err;
  EXPECT_NE(set.out.find("cluster.fabric.oversubscription: 1 -> 2"), std::string::npos) << set.out;
  // A what-if file has exactly two points.
  write("planner_base.yaml", slurp(dir + "planner_base.yaml"));
  const Result three = moesim("compare " + write("three.yaml", "base: planner_base.yaml\ngrid: {seed: [1, 2, 3]}\n").string());
  EXPECT_EQ(three.status, 2);
  EXPECT_NE(three.err.find("a what-if file varies its base in two points"), std::string::npos) << three.err;
}

}  // namespace
}  // namespace moesim::e2e
