// Resource estimates: a scenario that cannot fit is refused before anything is allocated, in one
// line naming the key that drives it; and the estimates bound what a run really uses.
#include <sys/resource.h>

#include <sstream>

#include "tests/e2e/cli.h"

namespace moesim::e2e {
namespace {

// The estimate `moesim validate` prints, in bytes.
double estimate_of(const std::string& validate_out) {
  const size_t at = validate_out.find("needs about ");
  if (at == std::string::npos) return -1;
  std::istringstream words(validate_out.substr(at + 12));
  double value = 0;
  std::string unit;
  if (!(words >> value >> unit)) return -1;
  return value * (unit == "kB" ? 1e3 : unit == "MB" ? 1e6 : unit == "GB" ? 1e9 : unit == "TB" ? 1e12 : 1);
}

TEST_F(Cli, ScenariosTooLargeForMemoryAreRefusedNamingTheKey) {
  const std::string q = quickstart();
  const struct {
    std::string sets, key, limit;
  } cases[] = {
      {"--set cluster.nodes=1048576 --set parallelism.dp=8388608 --set parallelism.ep=128 --set training.tokens_per_step=17179869184",
       "`cluster.nodes`", "16GB"},
      // 12 MoE layers x 16 M probes x 12 bytes: about 2.4 GB.
      {"--set gating.probe_tokens=16777216", "`gating.probe_tokens`", "1GB"},
      {"--set cluster.fabric.spines=65536 --set cluster.nodes=16384 --set parallelism.dp=131072 --set parallelism.ep=128 "
       "--set training.tokens_per_step=268435456 --set steps=1 --set \"policies=[{placement: static}]\"",
       "`cluster.fabric.spines`", "16GB"},
  };
  for (const auto& c : cases) {
    for (const std::string command : {"validate", "run"}) {
      // A fixed limit, so that the test means the same on any machine.
      const Result r = moesim(command + " " + q + " " + c.sets + " --max-memory " + c.limit +
                              (command == "run" ? " --out " + (dir_ / "out").string() : ""));
      EXPECT_EQ(r.status, 2) << command << " " << c.sets << "\n" << r.err;
      EXPECT_NE(r.err.find("of memory, more than the"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find("(driven by " + c.key + ")"), std::string::npos) << r.err;
      EXPECT_EQ(r.out, "");
    }
  }
  EXPECT_FALSE(fs::exists(dir_ / "out"));
  // --max-memory lowers the limit, for every command that runs scenarios.
  const Result small = moesim("run " + q + " --steps 2 --max-memory 1MB --out " + (dir_ / "out").string());
  EXPECT_EQ(small.status, 2);
  EXPECT_NE(small.err.find("the 1.00 MB of --max-memory 1MB"), std::string::npos) << small.err;
  const fs::path tiny = write("tiny.yaml", kTinyScenario);
  write("sweep.yaml", "base: tiny.yaml\ngrid: {seed: [1, 2]}\n");
  EXPECT_EQ(moesim("sweep " + (dir_ / "sweep.yaml").string() + " --max-memory 1kB -q").status, 2);
  EXPECT_EQ(moesim("compare " + tiny.string() + " --set seed=3 --max-memory 1kB -q").status, 2);
  EXPECT_EQ(moesim("run " + q + " --max-memory lots").status, 2);
}

TEST_F(Cli, SweepGridsBeyondTheLimitAreRefusedNotOverflowed) {
  write("tiny.yaml", kTinyScenario);
  std::string grid = "base: tiny.yaml\ngrid:\n";
  for (const char* key : {"seed", "steps", "cluster.nodes", "cost.gpu_hour"})
    grid += std::string("  ") + key + ": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]\n";
  for (int i = 0; i < 12; ++i)
    grid += "  gating.skewed_axis_" + std::to_string(i) + ": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]\n";
  write("huge.yaml", grid);  // 16^16 = 2^64 points: overflowed to 0 in 64 bits
  const Result r = moesim("sweep " + (dir_ / "huge.yaml").string() + " -q");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("has 1.845e+19 points"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("more than the 100000 one sweep may hold"), std::string::npos) << r.err;
}

// Each estimate is at least what the run uses and at most a few times as much.
TEST_F(Cli, EstimatesBoundTheMeasuredPeak) {
#ifdef MOESIM_SANITIZED
  GTEST_SKIP() << "under a sanitizer the peak is mostly shadow memory (and AddressSanitizer's quarantine), not the program's";
#endif
  const std::string q = quickstart();
  for (const std::string& sets : {std::string("--set steps=20"), std::string("--set steps=2 --set gating.probe_tokens=32768"),
                                  std::string("--set steps=2 --set cluster.fabric.spines=16384"),
                                  std::string("--set steps=2 --set cluster.nodes=64 --set parallelism.dp=512 --set parallelism.ep=128 "
                                              "--set training.tokens_per_step=1048576")}) {
    const double estimate = estimate_of(moesim("validate " + q + " " + sets).out);
    ASSERT_GT(estimate, 0) << sets;
    std::vector<std::string> args = {"run", q, "-q", "--out", (dir_ / "out").string()};
    std::istringstream words(sets);
    for (std::string w; words >> w;) args.push_back(w);
    const pid_t measured = spawn(args, "measured");
    int status = 0;
    struct rusage usage {};
    ::wait4(measured, &status, 0, &usage);
    ASSERT_EQ(WEXITSTATUS(status), 0) << slurp(dir_ / "measured.err");
    const double peak = static_cast<double>(usage.ru_maxrss) * 1024;
    constexpr double kBase = 40e6;  // the binary and its libraries, not estimated
    EXPECT_LE(peak, estimate + kBase) << sets;
    EXPECT_LE(estimate, 5 * peak) << sets;
  }
}

}  // namespace
}  // namespace moesim::e2e
