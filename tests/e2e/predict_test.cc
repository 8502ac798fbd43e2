// End-to-end tests of `moesim predict`.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tests/e2e/cli.h"

namespace moesim::e2e {
namespace {

TEST_F(Cli, PredictScoresPredictorsOnATrace) {
  const std::string scenario = std::string(MOESIM_SOURCE_DIR) + "/scenarios/learned_gpt3_125m.yaml";
  const std::string trace = (dir_ / "t.h5").string();
  ASSERT_EQ(moesim("trace generate " + scenario + " --steps 400 --out " + trace).status, 0);
  const std::string csv = (dir_ / "errors.csv").string();
  const Result r = moesim("predict " + trace + " --horizons 1,50 --stride 25 --csv " + csv);
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* expected : {"transient", "stable", "sw_avg", "arima", "oracle (upper bound)", "MoE layer  5", "horizon 50"})
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << " in " << r.out;
  EXPECT_EQ(slurp(csv).rfind("predictor,horizon,origin,layer,phase,error_pp\n", 0), 0u);

  // Bad input: exit 2, one line, nothing written.
  const std::string none = (dir_ / "none.csv").string();
  const std::vector<std::string> bad_options = {"--horizons 1,400",         "--horizons 0",
                                                "--horizons 1,x",           "--predictors sw_avg,prophet",
                                                "--predictors lstm",        "--train " + trace + " --lstm-hidden 0",
                                                "--param ema.alpha=0",      "--param ema.window=3",
                                                "--param median.window=20", "--param sw_avg"};
  for (const std::string& args : bad_options) {
    const Result bad = moesim("predict " + trace + " " + args + " --csv " + none);
    EXPECT_EQ(bad.status, 2) << args;
    EXPECT_NE(bad.err.find("moesim: error: "), std::string::npos) << args << ": " << bad.err;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
    EXPECT_FALSE(fs::exists(none));
  }
  // A trace too short for the options says which to change.
  const Result too_short = moesim("predict " + trace + " --horizons 1,400");
  EXPECT_EQ(too_short.status, 2);
  for (const char* advice : {"has 400 steps: 100 steps of history (--window 100, --phase-window 100)", "give horizons of at most 300 steps",
                             "or record a trace of at least 500 steps (moesim trace generate SCENARIO --steps 500"})
    EXPECT_NE(too_short.err.find(advice), std::string::npos) << advice << " in " << too_short.err;
  const Result missing = moesim("predict " + (dir_ / "nope.h5").string());
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("nope.h5"), std::string::npos) << missing.err;
  // Every output is checked before the work: nothing printed, then a one-line error.
  for (const std::string& csv_target : {(dir_ / "no" / "such" / "e.csv").string(), trace, std::string("/dev/full/x")}) {
    const Result early = moesim("predict " + trace + " --horizons 1,50 --stride 25 --csv " + csv_target);
    EXPECT_EQ(early.status, 2) << csv_target;
    EXPECT_EQ(early.out, "") << csv_target;
    EXPECT_NE(early.err.find("--csv: "), std::string::npos) << early.err;
  }
  EXPECT_TRUE(fs::is_regular_file(trace));
}

TEST_F(Cli, PredictTakesEveryPredictorsSettings) {
  const std::string scenario = std::string(MOESIM_SOURCE_DIR) + "/scenarios/learned_gpt3_125m.yaml";
  const std::string trace = (dir_ / "t.h5").string();
  ASSERT_EQ(moesim("trace generate " + scenario + " --steps 300 --out " + trace).status, 0);
  // The median, added as a registry entry, and a predictor's setting changing what it forecasts.
  const std::string base = "predict " + trace + " --horizons 1 --stride 25 --predictors median,ema";
  const Result defaults = moesim(base);
  const Result tuned = moesim(base + " --param ema.alpha=0.5");
  ASSERT_EQ(defaults.status, 0) << defaults.err;
  ASSERT_EQ(tuned.status, 0) << tuned.err;
  EXPECT_NE(defaults.out.find("median"), std::string::npos) << defaults.out;
  EXPECT_NE(defaults.out, tuned.out);
  // --help lists every predictor's keys from the registry.
  const Result help = moesim("predict --help");
  for (const char* key : {"sw_avg.window", "median.window", "ema.alpha", "holt.beta", "arima.refit_every"})
    EXPECT_NE(help.out.find(key), std::string::npos) << key;
}

TEST_F(Cli, PresetsListEveryRegistryEntryWithItsKeys) {
  const Result text = moesim("presets");
  ASSERT_EQ(text.status, 0) << text.err;
  for (const char* line : {"gating.source: learned", "gating.routing: c2r", "gating.c2r.group_size", "policies[].placement: affinity",
                           "policies[].max_imbalance", "policies[].predictor: median", "policies[].predictor.window"})
    EXPECT_NE(text.out.find(line), std::string::npos) << line;
  const Result markdown = moesim("presets --markdown");
  ASSERT_EQ(markdown.status, 0);
  EXPECT_EQ(markdown.out.rfind("| entry | what it is |", 0), 0u) << markdown.out;
  // A '|' inside a cell would end it: choices are escaped.
  EXPECT_NE(markdown.out.find("interval \\| gain"), std::string::npos);
}

// Mean error per (predictor, horizon, phase) from predict's CSV.
std::map<std::string, double> phase_means(const std::string& csv) {
  std::map<std::string, std::pair<double, int>> sums;
  std::istringstream lines(csv);
  std::string line;
  std::getline(lines, line);  // header
  while (std::getline(lines, line)) {
    std::istringstream cells(line);
    std::string predictor, horizon, origin, layer, phase, error;
    std::getline(cells, predictor, ',');
    std::getline(cells, horizon, ',');
    std::getline(cells, origin, ',');
    std::getline(cells, layer, ',');
    std::getline(cells, phase, ',');
    std::getline(cells, error, ',');
    auto& [sum, n] = sums[predictor + " " + horizon + " " + phase];
    sum += std::stod(error);
    ++n;
  }
  std::map<std::string, double> means;
  for (const auto& [key, s] : sums) means[key] = s.first / s.second;
  return means;
}

// The two scenarios shaped like the prediction paper's setups, shortened (the learning-rate
// schedule shrinks with the run, so loads still settle): every predictor errs less once loads
// are stable, and the detector finds where each layer settles. Each model's LSTM learns from the
// other model's run.
TEST_F(Cli, PaperShapedRunsSettleAndPredictorsErrLessOnceStable) {
  const std::string scenarios = std::string(MOESIM_SOURCE_DIR) + "/scenarios/";
  const std::string t125 = (dir_ / "t125.h5").string(), t350 = (dir_ / "t350.h5").string();
  ASSERT_EQ(moesim("trace generate " + scenarios + "learned_gpt3_125m.yaml --steps 1000 --out " + t125).status, 0);
  // Fewer probe tokens keep the 128-expert run quick; the shape stays the paper's.
  ASSERT_EQ(
      moesim("trace generate " + scenarios + "learned_gpt3_350m.yaml --steps 1000 --set gating.probe_tokens=256 --out " + t350).status, 0);
  struct Case {
    std::string trace, train;
    int layers;
  };
  for (const Case& c : {Case{t125, t350, 6}, Case{t350, t125, 12}}) {
    const std::string csv = (dir_ / "errors.csv").string();
    const Result r =
        moesim("predict " + c.trace + " --train " + c.train + " --lstm-iterations 200 --horizons 1,100 --stride 50 --csv " + csv);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.find("never settles"), std::string::npos) << r.out;
    for (int l = 0; l < c.layers; ++l) {
      const std::string layer = std::to_string(l);
      const std::string prefix = "MoE layer " + std::string(l < 10 ? " " : "") + layer + "  stable from step ";
      const auto at = r.out.find(prefix);
      ASSERT_NE(at, std::string::npos) << prefix << " in " << r.out;
      EXPECT_GT(std::stoi(r.out.substr(at + prefix.size())), 100) << r.out;  // not stable from the start
    }
    const auto means = phase_means(slurp(csv));
    for (const std::string predictor : {"last_value", "sw_avg", "ema", "holt", "arima", "lstm"}) {
      for (const std::string horizon : {"1", "100"}) {
        const std::string key = predictor + " " + horizon;
        ASSERT_TRUE(means.count(key + " transient") && means.count(key + " stable")) << key << " in " << c.trace;
        EXPECT_LT(means.at(key + " stable"), means.at(key + " transient")) << key << " in " << c.trace;
      }
    }
  }
}

// A trace logged every 10th training step: horizons and origins are in training steps, forecasts
// are scored on the recorded steps, and the last-value forecast of a step function is exact
// except across its one jump.
TEST_F(Cli, PredictWorksInTrainingStepsOnAStridedTrace) {
  std::string csv = "step,layer,expert,tokens\n";
  for (int record = 0; record < 300; ++record)
    for (int e = 0; e < 4; ++e)
      csv +=
          std::to_string(10 * record) + ",0," + std::to_string(e) + "," + std::to_string(record < 150 ? 100 + 50 * e : 250 - 50 * e) + "\n";
  const std::string trace = (dir_ / "s.h5").string();
  ASSERT_EQ(moesim("trace import csv " + write("s.csv", csv).string() + " --out " + trace).status, 0);
  const Result r = moesim("predict " + trace + " --predictors last_value,oracle --horizons 10,100 --stride 50 -q");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* expected :
       {"2991 steps x 1 MoE layers x 4 experts, forecast origins every 50 steps from step 100",
        "a record every 10 training steps, held between records; forecasts are scored on recorded steps only", "horizon 100"})
    EXPECT_NE(r.out.find(expected), std::string::npos) << expected << " in " << r.out;
  for (const std::string& args :
       {std::string("--horizons 1,100"), std::string("--horizons 10 --stride 25"), std::string("--between cubic")}) {
    const Result bad = moesim("predict " + trace + " " + args);
    EXPECT_EQ(bad.status, 2) << args;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
  }
  const Result horizons = moesim("predict " + trace + " --horizons 1,100");
  EXPECT_NE(horizons.err.find("--horizons: the trace records every 10 training steps, so horizons are multiples of 10, got 1"),
            std::string::npos)
      << horizons.err;
}

}  // namespace
}  // namespace moesim::e2e
