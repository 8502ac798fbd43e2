// End-to-end tests of the moesim binary: exit codes, messages, and the files a run writes.
#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>

#include "tests/e2e/cli.h"

namespace moesim::e2e {
namespace {

TEST_F(Cli, RunSaysHowManyStepsInItsFirstLine) {
  const fs::path tiny = write("tiny.yaml", kTinyScenario);
  for (const auto& [steps, words] : {std::pair{"1", ", 1 step, "}, {"2", ", 2 steps, "}}) {
    const Result r = moesim("run " + tiny.string() + " --steps " + steps + " --out " + (dir_ / steps).string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.substr(0, r.out.find('\n')).find(words), std::string::npos) << r.out;
  }
}

TEST_F(Cli, RunQuickstartPrintsATableAndWritesSummaryCsv) {
  const fs::path out = dir_ / "run";
  const Result r = moesim("run " + quickstart() + " --steps 20 --quiet --out " + out.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("step mean"), std::string::npos);
  for (const char* policy : {"predictive-sw_avg", "predictive-last_value", "replicated", "phase_aware", "oracle", "oracle-replicated"}) {
    EXPECT_NE(r.out.find(policy), std::string::npos) << policy;
  }
  const std::string csv = slurp(out / "summary.csv");
  std::istringstream lines(csv);
  std::string header, first, second, extra;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  for (int row = 3; row <= 7; ++row) EXPECT_TRUE(std::getline(lines, extra)) << "row " << row;
  EXPECT_FALSE(std::getline(lines, extra));
  EXPECT_EQ(header,
            "policy,step_ms_mean,step_ms_p50,step_ms_p99,tokens_per_s,gpu_util_mean,gpu_util_min,imbalance_max_mean,a2a_share,"
            "a2a_inter_node_gb_per_step,a2a_intra_node_gb_per_step,dropped_fraction,speedup_vs_static,migration_gb_per_step,"
            "migration_ms_per_step,forecast_error_pp,cost_per_mtok,tokens_per_s_per_gpu,model_tflops_per_gpu,mfu,bubble_share,"
            "exposed_comm_share,peak_memory_gb");
  EXPECT_EQ(first.rfind("static,", 0), 0u);
  EXPECT_EQ(second.rfind("predictive-sw_avg,", 0), 0u);
  // Columns are numbers in their ranges: 15 fields, positive step time, utilization in (0, 1].
  std::vector<double> v;
  std::istringstream fields(first.substr(first.find(',') + 1));
  for (std::string f; v.size() < 14 && std::getline(fields, f, ',');) v.push_back(std::stod(f));
  ASSERT_EQ(v.size(), 14u);
  // Static forecasts nothing and the scenario gives no GPU price: both fields are empty.
  EXPECT_NE(first.find(",,,"), std::string::npos);
  // Per GPU: tokens/s is the total over 32 GPUs; MFU in (0, 1); no pipeline, so next to no bubble.
  std::vector<std::string> all;
  std::istringstream every(first);
  for (std::string f; std::getline(every, f, ',');) all.push_back(f);
  ASSERT_EQ(all.size(), 23u);
  EXPECT_NEAR(std::stod(all[17]) * 32, std::stod(all[4]), 0.01 * std::stod(all[4]));
  EXPECT_GT(std::stod(all[19]), 0);
  EXPECT_LT(std::stod(all[19]), 1);
  EXPECT_GT(std::stod(all[22]), 0);  // peak memory, GB
  EXPECT_GT(v[0], 0);
  EXPECT_LE(v[1], v[2]);  // p50 <= p99
  EXPECT_GT(v[4], 0);
  EXPECT_LE(v[4], 1);
  EXPECT_GT(v[5], 0);
  EXPECT_LE(v[5], v[4]);  // the least busy GPU is at most as busy as the mean
  EXPECT_GE(v[6], 1);     // imbalance max/mean
  EXPECT_GT(v[8], 0);     // 4 nodes: some all-to-all crosses nodes
  EXPECT_EQ(v[11], 1.0);  // static is its own baseline
  EXPECT_EQ(v[12], 0.0);  // and never migrates
  EXPECT_TRUE(fs::exists(out / "scenario.yaml"));
}

TEST_F(Cli, SameScenarioAndSeedGiveByteIdenticalOutputs) {
  // The same output directory too: run.h5 holds the resolved scenario, output.dir included.
  const std::string args = "run " + quickstart() + " --steps 15 --quiet --out " + (dir_ / "a").string();
  ASSERT_EQ(moesim(args).status, 0);
  const std::string csv = slurp(dir_ / "a" / "summary.csv"), h5 = slurp(dir_ / "a" / "run.h5");
  ASSERT_EQ(moesim(args).status, 0);
  // Compared as booleans: a failure must not print megabytes of HDF5.
  EXPECT_TRUE(csv == slurp(dir_ / "a" / "summary.csv"));
  EXPECT_TRUE(h5 == slurp(dir_ / "a" / "run.h5"));
  ASSERT_EQ(moesim(args + " --set seed=2").status, 0);
  EXPECT_TRUE(csv != slurp(dir_ / "a" / "summary.csv"));
  EXPECT_TRUE(h5 != slurp(dir_ / "a" / "run.h5"));
}

TEST_F(Cli, ARunGivesTheSameOutputsOnAnyNumberOfThreads) {
  // Skewed gating of 3.1 M counts a step: sampled in three parts on three threads.
  const fs::path scenario = write("threads.yaml", R"(name: threads
steps: 2
cluster: {preset: h100-dgx, nodes: 256}
model: {preset: gpt3-350m-moe}
parallelism: {ep: 128, dp: 2048}
training: {tokens_per_step: 4194304}
gating: {source: skewed}
policies:
  - {placement: static}
)");
  const std::string args = "run " + scenario.string() + " --quiet --out " + (dir_ / "a").string();
  ASSERT_EQ(moesim(args + " --threads 1").status, 0);
  const std::string csv = slurp(dir_ / "a" / "summary.csv"), h5 = slurp(dir_ / "a" / "run.h5");
  ASSERT_EQ(moesim(args + " --threads 3").status, 0);
  EXPECT_TRUE(csv == slurp(dir_ / "a" / "summary.csv"));
  EXPECT_TRUE(h5 == slurp(dir_ / "a" / "run.h5"));
  const Result bad = moesim(args + " --threads 0");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--threads 0: expected at least 1"), std::string::npos) << bad.err;
}

TEST_F(Cli, TheResolvedScenarioReproducesTheRun) {
  ASSERT_EQ(moesim("run " + quickstart() + " --steps 10 --quiet --out " + (dir_ / "a").string()).status, 0);
  const Result again = moesim("run " + (dir_ / "a" / "scenario.yaml").string() + " --quiet --out " + (dir_ / "b").string());
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(slurp(dir_ / "a" / "summary.csv"), slurp(dir_ / "b" / "summary.csv"));
}

TEST_F(Cli, BadScenarioExitsTwoWithOneLineAndWritesNothing) {
  const fs::path bad = write("bad.yaml", "name: bad\ncluster:\n  preset: h100-dgx\n  nodes: -2\nmodel: {preset: gpt3-350m-moe}\n");
  const fs::path out = dir_ / "out";
  const std::string expected = "`cluster.nodes`: expected a positive integer (at most 1048576), got '-2' (" + bad.string() + ":4:10)";
  for (const std::string& args : {"validate " + bad.string(), "run " + bad.string() + " --out " + out.string()}) {
    const Result r = moesim(args);
    EXPECT_EQ(r.status, 2) << args;
    EXPECT_NE(r.err.find(expected), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(Cli, SetOverridesAreValidatedLikeTheFile) {
  const Result r = moesim("validate " + quickstart() + " --set parallelism.ep=48");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("`parallelism.ep`"), std::string::npos);
  EXPECT_NE(r.err.find("--set parallelism.ep=48"), std::string::npos);
  const Result ok = moesim("validate " + quickstart() + " --set cluster.nodes=8 --set parallelism.dp=64 --set parallelism.ep=64");
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("64 GPUs"), std::string::npos);
}

TEST_F(Cli, ValidatePrintsTheResolvedScenario) {
  const Result r = moesim("validate " + quickstart() + " --print");
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("bf16_peak: 989.4 TFLOP/s"), std::string::npos);
  EXPECT_NE(r.out.find("ep_layout: packed"), std::string::npos);
  // Every resolved value, a default false among them (compare's list of differences reads it).
  EXPECT_NE(r.out.find("tp_comm_overlap: false"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("expert parallel   0-31 (32 GPUs, nodes 0-3)"), std::string::npos) << r.out;
  // Spread over a larger cluster, an EP group takes every other GPU and each expert's two
  // replicas sit side by side.
  const Result spread =
      moesim("validate " + quickstart() + " --set cluster.nodes=8 --set parallelism.dp=64 --set parallelism.ep_layout=spread --print");
  ASSERT_EQ(spread.status, 0) << spread.err;
  EXPECT_NE(spread.out.find("ETP 1 x expert-DP 2 x EP 32 (ep_layout spread)"), std::string::npos) << spread.out;
  EXPECT_NE(spread.out.find("expert parallel   0, 2, 4, ... 62 (32 GPUs, nodes 0-7)"), std::string::npos) << spread.out;
  EXPECT_NE(spread.out.find("expert-data-par.  0-1 (2 GPUs, node 0)"), std::string::npos) << spread.out;
  // Packed, a group of a few GPUs apart lists each of them once.
  const Result packed = moesim("validate " + quickstart() + " --set parallelism.ep=16 --print");
  ASSERT_EQ(packed.status, 0) << packed.err;
  EXPECT_NE(packed.out.find("expert-data-par.  0, 16 (2 GPUs, nodes 0-2)\n"), std::string::npos) << packed.out;
}

TEST_F(Cli, ValidatePrintsThePipelineSplitAndTakesAnotherInMegatronsNotation) {
  const std::string pipelined = "validate " + quickstart() + " --set parallelism.pp=2 --set parallelism.dp=16 --set parallelism.ep=16";
  const Result even = moesim(pipelined + " --print");
  ASSERT_EQ(even.status, 0) << even.err;
  EXPECT_NE(even.out.find("layers over the 2 virtual stages: Et*12|t*12L (the even split"), std::string::npos) << even.out;
  const Result given = moesim(pipelined + " --set 'parallelism.pipeline_layout=Et*10,|t*14L' --print");
  ASSERT_EQ(given.status, 0) << given.err;
  EXPECT_NE(given.out.find("pipeline_layout: Et*10|t*14L"), std::string::npos) << given.out;
  EXPECT_NE(given.out.find("layers over the 2 virtual stages: Et*10|t*14L (parallelism.pipeline_layout)"), std::string::npos) << given.out;
  const Result bad = moesim(pipelined + " --set 'parallelism.pipeline_layout=Et*10|t*13L'");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("`parallelism.pipeline_layout`: expected 24 transformer layers 't' (model.layers), got 23"), std::string::npos)
      << bad.err;
}

// The memory table has a column for every term of any stage: here the embedding's gradient on the
// first stage (400,000 words x 1,024 in BF16, 64-token micro-batches) and the logits on the last.
TEST_F(Cli, ValidatePrintsEveryStagesMemoryTerms) {
  const Result r = moesim("validate " + quickstart() +
                          " --set parallelism.pp=2 --set parallelism.dp=16 --set parallelism.ep=16 --set parallelism.recompute=full"
                          " --set model.vocab=400000 --set training.seq_len=64 --set training.micro_batch=1"
                          " --set training.cross_entropy=bf16 --print");
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream table(r.out.substr(r.out.find("memory per GPU")));
  std::string title, header, first, last;
  std::getline(table, title), std::getline(table, header), std::getline(table, first), std::getline(table, last);
  const size_t gradient = header.find("embed. grad"), logits = header.find("LM head");
  ASSERT_NE(gradient, std::string::npos) << r.out;
  ASSERT_NE(logits, std::string::npos) << r.out;
  // Each value ends where its column's name does.
  const auto cell = [](const std::string& line, size_t end) { return line.substr(end - 7, 7); };
  EXPECT_EQ(cell(first, gradient + 11), " 0.8 GB") << r.out;
  EXPECT_EQ(cell(last, gradient + 11).back(), '-') << r.out;
  EXPECT_EQ(cell(first, logits + 7).back(), '-') << r.out;
  EXPECT_EQ(cell(last, logits + 7), " 0.1 GB") << r.out;
}

TEST_F(Cli, MissingScenarioFileExitsTwo) {
  const Result r = moesim("run " + (dir_ / "nope.yaml").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot open"), std::string::npos);
}

TEST_F(Cli, PresetsListsClustersAndModels) {
  const Result r = moesim("presets");
  ASSERT_EQ(r.status, 0);
  for (const char* name : {"h100-dgx", "a100-dgx", "h800-dgx", "ascend-910b", "gpt3-125m-moe", "gpt3-350m-moe", "mixtral-8x7b",
                           "deepseek-v3", "rail_optimized", "fat_tree", "multi_plane", "hccs"}) {
    EXPECT_NE(r.out.find(name), std::string::npos) << name;
  }
}

TEST_F(Cli, TopoSummarizesTheFabricAndWritesDot) {
  const std::string dot = (dir_ / "t.dot").string();
  const Result r = moesim("topo " + quickstart() +
                          " --set cluster.fabric.kind=fat_tree --set cluster.fabric.oversubscription=2 "
                          "--set cluster.fabric.leaf_ports=16 --dot " +
                          dot);
  ASSERT_EQ(r.status, 0) << r.err;
  // Four nodes, two per top-of-rack leaf: 16 NICs of 50 GB/s face the other half, halved by 2:1.
  EXPECT_NE(r.out.find("fat_tree"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("switches      4 intra-node (nvswitch), 2 leaves, 8 spines"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bisection     400.0 GB/s per direction"), std::string::npos) << r.out;
  EXPECT_EQ(slurp(dot).rfind("graph G {", 0), 0u);
  EXPECT_EQ(r.out.find("NICs not shared"), std::string::npos) << r.out;
  const Result apart = moesim("topo " + quickstart() + " --set cluster.network.share_nics=false");
  ASSERT_EQ(apart.status, 0) << apart.err;
  EXPECT_NE(apart.out.find("network       analytic model, flat all-to-all, each collective priced alone (NICs not shared)"),
            std::string::npos)
      << apart.out;
  // Ascend's servers join their two HCCS groups of four through PCIe.
  const Result ascend = moesim("topo " + quickstart() + " --set cluster.preset=ascend-910b");
  ASSERT_EQ(ascend.status, 0) << ascend.err;
  EXPECT_NE(ascend.out.find("switches      8 intra-node (hccs), 4 PCIe between groups,"), std::string::npos) << ascend.out;
  const Result bad = moesim("topo " + quickstart() + " --set cluster.fabric.leaf_ports=1 --set cluster.fabric.spines=0 --dot " +
                            (dir_ / "bad.dot").string());
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("cluster.fabric.spines"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir_ / "bad.dot"));
}

TEST_F(Cli, HelpAndUsageErrors) {
  EXPECT_EQ(moesim("--help").status, 0);
  const Result run_help = moesim("run --help");
  EXPECT_EQ(run_help.status, 0);
  EXPECT_NE(run_help.out.find("--set"), std::string::npos);
  EXPECT_EQ(moesim("validate --help").status, 0);
  EXPECT_EQ(moesim("presets --help").status, 0);
  EXPECT_EQ(moesim("topo --help").status, 0);
  EXPECT_EQ(moesim("topo").status, 2);
  EXPECT_EQ(moesim("").status, 2);
  EXPECT_EQ(moesim("frobnicate").status, 2);
  EXPECT_EQ(moesim("run").status, 2);
  const Result bad_option = moesim("run " + quickstart() + " --stepz 3");
  EXPECT_EQ(bad_option.status, 2);
  EXPECT_NE(bad_option.err.find("stepz"), std::string::npos);
  EXPECT_EQ(moesim("run " + quickstart() + " --steps x").status, 2);
}

}  // namespace

namespace {

TEST_F(Cli, TraceReplayReproducesTheGeneratingRun) {
  const std::string trace = (dir_ / "q.h5").string();
  const Result gen = moesim("trace generate " + quickstart() + " --steps 60 --out " + trace);
  ASSERT_EQ(gen.status, 0) << gen.err;
  EXPECT_NE(gen.out.find("first tenth"), std::string::npos);
  ASSERT_EQ(moesim("run " + quickstart() + " --steps 60 -q --out " + (dir_ / "a").string()).status, 0);
  const Result replay = moesim("run " + quickstart() + " --steps 60 -q --out " + (dir_ / "b").string() +
                               " --set 'gating={source: trace, path: " + trace + "}'");
  ASSERT_EQ(replay.status, 0) << replay.err;
  EXPECT_NE(replay.out.find("exact, per-rank counts"), std::string::npos);
  EXPECT_EQ(slurp(dir_ / "a" / "summary.csv"), slurp(dir_ / "b" / "summary.csv"));
  const Result info = moesim("trace info " + trace);
  EXPECT_EQ(info.status, 0);
  EXPECT_NE(info.out.find("60 records x 12 MoE layers x 128 experts"), std::string::npos) << info.out;
}

TEST_F(Cli, BadTracesExitTwoNamingFileAndDataset) {
  const std::string trace = (dir_ / "q.h5").string();
  ASSERT_EQ(moesim("trace generate " + quickstart() + " --steps 5 --out " + trace).status, 0);
  const Result too_short =
      moesim("run " + quickstart() + " --steps 6 --out " + (dir_ / "o").string() + " --set 'gating={source: trace, path: " + trace + "}'");
  EXPECT_EQ(too_short.status, 2);
  EXPECT_NE(too_short.err.find(trace + ":/rank_counts: has 5 steps, the scenario asks for 6"), std::string::npos) << too_short.err;
  EXPECT_FALSE(fs::exists(dir_ / "o"));
  const Result wrong_model =
      moesim("validate " + quickstart() + " --set model.experts=64 --set 'gating={source: trace, path: " + trace + "}'");
  EXPECT_EQ(wrong_model.status, 2);
  EXPECT_NE(wrong_model.err.find("has 128 experts per layer, the model has 64"), std::string::npos) << wrong_model.err;
  const Result missing = moesim("trace info " + (dir_ / "none.h5").string());
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("none.h5: no such file"), std::string::npos);
  const fs::path csv = write("bad.csv", "step,layer,expert,tokens\n0,0,0,nan\n");
  const Result bad_csv = moesim("trace convert " + csv.string() + " " + (dir_ / "c.h5").string());
  EXPECT_EQ(bad_csv.status, 2);
  EXPECT_NE(bad_csv.err.find("bad.csv:line 2"), std::string::npos) << bad_csv.err;
  EXPECT_FALSE(fs::exists(dir_ / "c.h5"));
}

TEST_F(Cli, ConvertedCsvTracesReplayByShare) {
  std::string csv = "step,layer,expert,tokens\n";
  for (int step = 0; step < 4; ++step)
    for (int layer = 0; layer < 6; ++layer)
      for (int expert = 0; expert < 16; ++expert)
        csv += std::to_string(step) + "," + std::to_string(layer) + "," + std::to_string(expert) + "," + std::to_string(100 + expert * 10) +
               "\n";
  const fs::path in = write("t.csv", csv);
  const std::string h5 = (dir_ / "t.h5").string();
  ASSERT_EQ(moesim("trace convert " + in.string() + " " + h5).status, 0);
  const std::string scenario = std::string(MOESIM_SOURCE_DIR) + "/scenarios/learned_gpt3_125m.yaml";
  const Result r =
      moesim("run " + scenario + " --steps 4 -q --out " + (dir_ / "r").string() + " --set 'gating={source: trace, path: " + h5 + "}'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("per-expert totals"), std::string::npos);
}

TEST_F(Cli, EveryRoutingModeHasAScenarioThatRuns) {
  for (const std::string mode : {"topk", "hash", "locmoe", "c2r"}) {
    const std::string scenario = std::string(MOESIM_SOURCE_DIR) + "/scenarios/routing_" + mode + ".yaml";
    const Result r = moesim("run " + scenario + " --steps 12 -q --out " + (dir_ / mode).string());
    ASSERT_EQ(r.status, 0) << mode << ": " << r.err;
    EXPECT_NE(r.out.find(mode + " routing"), std::string::npos) << r.out;
    EXPECT_TRUE(fs::exists(dir_ / mode / "summary.csv"));
  }
}

// The quickstart runs an oracle, whose look-ahead source must route under every mode too.
TEST_F(Cli, QuickstartRunsUnderEveryRoutingMode) {
  for (const std::string mode : {"topk", "hash", "locmoe", "c2r"}) {
    const std::string top_k = mode == "c2r" ? " --set model.top_k=2 --set gating.c2r.warmup_steps=2" : "";
    const Result r =
        moesim("run " + quickstart() + " --set gating.routing=" + mode + top_k + " --steps 3 -q --out " + (dir_ / mode).string());
    ASSERT_EQ(r.status, 0) << mode << ": " << r.err;
    EXPECT_NE(r.out.find("oracle"), std::string::npos) << r.out;
  }
}

TEST_F(Cli, AffinityScenarioRuns) {
  const std::string scenario = std::string(MOESIM_SOURCE_DIR) + "/scenarios/affinity_top2.yaml";
  const Result r = moesim("run " + scenario + " --steps 40 --set policies.2.warmup=10 --set policies.2.rebalance_every=10 --out " +
                          (dir_ / "affinity").string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(" affinity "), std::string::npos) << r.out;
  const std::string csv = slurp(dir_ / "affinity" / "summary.csv");
  const auto row = csv.find("\naffinity,");
  ASSERT_NE(row, std::string::npos) << csv;
  EXPECT_NE(slurp(dir_ / "affinity" / "scenario.yaml").find("max_imbalance: 1.1"), std::string::npos);
}

TEST_F(Cli, LocMoeTraceReplaysTheRoutingItRecorded) {
  // Placement-aware routing is recorded under the first policy's placement; replaying it under
  // that placement gives the same run.
  const std::string scenario = std::string(MOESIM_SOURCE_DIR) + "/scenarios/routing_locmoe.yaml";
  const std::string trace = (dir_ / "l.h5").string();
  const Result gen = moesim("trace generate " + scenario + " --steps 20 --out " + trace);
  ASSERT_EQ(gen.status, 0) << gen.err;
  EXPECT_NE(gen.out.find("routed under the placement of policy `static`"), std::string::npos) << gen.out;
  ASSERT_EQ(moesim("run " + scenario + " --steps 20 -q --out " + (dir_ / "a").string()).status, 0);
  const Result replay =
      moesim("run " + scenario + " --steps 20 -q --out " + (dir_ / "b").string() + " --set 'gating={source: trace, path: " + trace + "}'");
  ASSERT_EQ(replay.status, 0) << replay.err;
  EXPECT_EQ(slurp(dir_ / "a" / "summary.csv"), slurp(dir_ / "b" / "summary.csv"));
}

}  // namespace

namespace {

TEST_F(Cli, LearnedGatingRunSaysWhichRouterItUses) {
  const std::string scenario = std::string(MOESIM_SOURCE_DIR) + "/scenarios/learned_gpt3_125m.yaml";
  const Result r = moesim("run " + scenario + " --steps 30 -q --out " + (dir_ / "l").string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("gating: learned-gate synthetic gating, topk routing (router: "), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir_ / "l" / "summary.csv"));
}

TEST_F(Cli, ContentBlindRoutingDoesNotNameTheUnusedRouter) {
  const std::string scenario = std::string(MOESIM_SOURCE_DIR) + "/scenarios/papers/locmoe_64npu.yaml";
  for (const char* routing : {"gating.locmoe.gate=grap", "gating.routing=hash"}) {
    const Result r = moesim("run " + scenario + " --steps 2 -q --set " + routing + " --out " + (dir_ / "g").string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("(content-blind: the learned gate neither routes nor learns)"), std::string::npos) << routing << r.out;
    EXPECT_EQ(r.out.find("router:"), std::string::npos) << routing << r.out;
    fs::remove_all(dir_ / "g");
  }
}

// What fuzzing found (tests/fuzz/regressions; a scenario is run with its timeline): each one a
// clean error, never a crash or a leak; a timeout on a valid input (named *-accepted.*) is
// converted, and its test has a deadline.
TEST_F(Cli, FuzzFindingsAreOneLineErrors) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(std::string(MOESIM_SOURCE_DIR) + "/tests/fuzz/regressions")) {
    ++files;
    const bool csv = entry.path().extension() == ".csv";
    const fs::path out = dir_ / "out.h5";
    if (entry.path().stem().string().ends_with("-accepted")) {
      const auto start = std::chrono::steady_clock::now();
      const Result ok = moesim("trace convert " + entry.path().string() + " " + out.string());
      EXPECT_EQ(ok.status, 0) << entry.path() << "\n" << ok.err;
      EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << entry.path();
      fs::remove(out);
      continue;
    }
    std::string command = csv ? "trace convert " + entry.path().string() + " " + out.string() : "trace info " + entry.path().string();
    if (entry.path().extension() == ".json") {  // a Hugging Face config.json, read as model.config
      std::string scenario = kTinyScenario;
      scenario.replace(scenario.find("model: {preset: gpt3-125m-moe}"), 30, "model: {config: " + entry.path().string() + "}");
      command = "validate " + write("config_scenario.yaml", scenario).string();
    }
    if (entry.path().extension() == ".pt") command = "trace import sglang " + entry.path().string() + " --out " + out.string();
    if (entry.path().extension() == ".yaml") {  // a scenario, run as fuzz_run runs it
      command = "run " + entry.path().string() + " --timeline -q --out " + (dir_ / "run").string();
    }
    const Result r = moesim(command);
    EXPECT_FALSE(fs::exists(out));
    EXPECT_FALSE(fs::exists(dir_ / "run"));
    EXPECT_EQ(r.status, 2) << entry.path() << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(entry.path().string()), std::string::npos) << r.err;
  }
  EXPECT_GE(files, 5);
}

}  // namespace
}  // namespace moesim::e2e
