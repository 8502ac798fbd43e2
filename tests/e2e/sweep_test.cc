// End-to-end tests of `moesim sweep`: outputs, resuming after a kill, shards, MPI ranks, bad input.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

#include <chrono>
#include <thread>

#include "tests/e2e/cli.h"

extern char** environ;

namespace moesim::e2e {
namespace {

constexpr const char* kBase = kTinyScenario;

class Sweep : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write("base.yaml", kBase);
  }
  fs::path sweep_file(const std::string& axes) { return write("sweep.yaml", "name: tiny-sweep\nbase: base.yaml\n" + axes); }
  static std::string lines_of(const std::string& text) { return std::to_string(std::count(text.begin(), text.end(), '\n')); }
};

TEST_F(Sweep, WritesAPointDirectoryEachAndCombinedCsvAndH5) {
  const fs::path sweep = sweep_file(
      "grid:\n  cluster.nodes: [1, 2]\n  cluster.fabric.oversubscription: [1, 2]\nzip:\n  seed: [1, 2]\n  gating.routing: [topk, hash]\n");
  const fs::path out = dir_ / "out";
  const Result r = moesim("sweep " + sweep.string() + " --out " + out.string() + " --jobs 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("8 points over cluster.nodes (2), cluster.fabric.oversubscription (2), seed and gating.routing together (2)"),
            std::string::npos)
      << r.out;
  for (int p = 0; p < 8; ++p) {
    const fs::path point = out / "points" / ("000" + std::to_string(p));
    for (const char* f : {"summary.csv", "run.h5", "scenario.yaml"}) EXPECT_TRUE(fs::exists(point / f)) << point / f;
  }
  // The grid's last axis varies fastest, the zip axes together fastest of all.
  EXPECT_NE(slurp(out / "points" / "0005" / "scenario.yaml").find("nodes: 2"), std::string::npos);
  EXPECT_NE(slurp(out / "points" / "0005" / "scenario.yaml").find("routing: hash"), std::string::npos);
  const std::string csv = slurp(out / "sweep.csv");
  EXPECT_EQ(csv.rfind("point,cluster.nodes,cluster.fabric.oversubscription,seed,gating.routing,policy,step_ms_mean,", 0), 0u);
  EXPECT_EQ(lines_of(csv), "17");  // header + 8 points x 2 policies
  EXPECT_NE(csv.find("\n5,2,1,2,hash,static,"), std::string::npos) << csv;
  EXPECT_TRUE(fs::exists(out / "sweep.h5"));
  // Each row is its point's summary.csv row.
  const std::string point5 = slurp(out / "points" / "0005" / "summary.csv");
  const std::string row = point5.substr(point5.find('\n') + 1, point5.find('\n', point5.find('\n') + 1) - point5.find('\n'));
  EXPECT_NE(csv.find("5,2,1,2,hash," + row), std::string::npos);

  // Run again: every point is found done and skipped, and the combined file is the same.
  const Result again = moesim("sweep " + sweep.string() + " --out " + out.string());
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_NE(again.out.find("ran 0 points, skipped 8 already done"), std::string::npos) << again.out;
  EXPECT_EQ(slurp(out / "sweep.csv"), csv);
  // --set applies to every point: every point's scenario changes, so every point runs again.
  const Result set = moesim("sweep " + sweep.string() + " --set steps=20 --out " + (dir_ / "set").string());
  ASSERT_EQ(set.status, 0) << set.err;
  EXPECT_NE(slurp(dir_ / "set" / "points" / "0003" / "scenario.yaml").find("steps: 20"), std::string::npos);
  EXPECT_EQ(moesim("sweep " + sweep.string() + " --set seed=3 --out " + (dir_ / "set").string()).status, 2);  // seed is swept
  // A point whose scenario changed is run again.
  write("base.yaml", std::string(kBase) + "output: {dir: elsewhere}\n");
  EXPECT_NE(moesim("sweep " + sweep.string() + " --out " + out.string()).out.find("ran 0 points, skipped 8"), std::string::npos);
  std::string fewer_steps = kBase;
  fewer_steps.replace(fewer_steps.find("steps: 40"), 9, "steps: 30");
  write("base.yaml", fewer_steps);
  const Result changed = moesim("sweep " + sweep.string() + " --out " + out.string());
  EXPECT_NE(changed.out.find("ran 8 points, skipped 0"), std::string::npos) << changed.out << changed.err;
}

TEST_F(Sweep, KilledMidRunResumesToExactlyTheRowsOfACleanRun) {
  // Enough steps that the kill lands while points are running.
  std::string longer = kBase;
  longer.replace(longer.find("steps: 40"), 9, "steps: 1000");
  write("base.yaml", longer);
  const fs::path sweep = sweep_file("grid:\n  seed: [1, 2, 3, 4, 5, 6]\n");
  const fs::path clean = dir_ / "clean", killed = dir_ / "killed";
  ASSERT_EQ(moesim("sweep " + sweep.string() + " --quiet --jobs 2 --out " + clean.string()).status, 0);

  const std::string binary = MOESIM_BINARY, file = sweep.string(), out = killed.string();
  std::vector<std::string> args = {binary, "sweep", file, "--quiet", "--jobs", "2", "--out", out};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  // Kill it once the first point is written (scenario.yaml comes last), while others run.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(killed / "points" / "0000" / "scenario.yaml") && !fs::exists(killed / "points" / "0001" / "scenario.yaml") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the sweep finished before it could be killed";
  EXPECT_FALSE(fs::exists(killed / "sweep.csv"));

  const Result resumed = moesim("sweep " + sweep.string() + " --quiet --jobs 2 --out " + out);
  ASSERT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_EQ(resumed.out.find("skipped 0 "), std::string::npos) << "nothing was kept from the killed run:\n" << resumed.out;
  EXPECT_EQ(slurp(killed / "sweep.csv"), slurp(clean / "sweep.csv"));
  for (const auto& entry : fs::recursive_directory_iterator(killed)) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST_F(Sweep, ShardsRunDisjointSlicesAndTheLastCombines) {
  const fs::path sweep = sweep_file("grid:\n  seed: [1, 2, 3]\n  gating.routing: [topk, hash]\n");
  ASSERT_EQ(moesim("sweep " + sweep.string() + " --out " + (dir_ / "whole").string()).status, 0);
  const std::string out = (dir_ / "sharded").string();
  const Result first = moesim("sweep " + sweep.string() + " --shard 1/2 --out " + out);
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_NE(first.out.find("shard 1/2, running 3 points"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("3 of 6 points have results"), std::string::npos) << first.out;
  EXPECT_FALSE(fs::exists(dir_ / "sharded" / "sweep.csv"));
  EXPECT_TRUE(fs::exists(dir_ / "sharded" / "points" / "0002" / "summary.csv"));
  EXPECT_FALSE(fs::exists(dir_ / "sharded" / "points" / "0001"));
  const Result second = moesim("sweep " + sweep.string() + " --shard 2/2 --out " + out);
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(slurp(dir_ / "sharded" / "sweep.csv"), slurp(dir_ / "whole" / "sweep.csv"));
}

TEST_F(Sweep, TwoMpiRanksGiveTheSingleProcessCsv) {
#ifndef MOESIM_MPIEXEC
  GTEST_SKIP() << "moesim was built without MPI (install libopenmpi-dev and rebuild)";
#else
  // Open MPI refuses root unless told, and CI containers run as root. Under the asan preset, leak
  // checks are off for the ranks only: Open MPI keeps what its initialization allocates (and its
  // plugins are unloaded before LeakSanitizer could name them); the single-process sweep tests
  // check moesim's own code for leaks.
  const std::string launcher =
      std::string("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" ") +
      MOESIM_MPIEXEC + " -n 2 --oversubscribe ";
  const fs::path err = dir_ / "mpi-stderr.txt";
  if (std::system((launcher + "true >/dev/null 2>" + err.string()).c_str()) != 0) {
    GTEST_SKIP() << "mpirun cannot start 2 ranks on this machine:\n" << slurp(err);
  }
  const fs::path sweep = sweep_file("grid:\n  seed: [1, 2, 3]\n  cluster.nodes: [1, 2]\n");
  ASSERT_EQ(moesim("sweep " + sweep.string() + " --jobs 1 --out " + (dir_ / "single").string()).status, 0);
  const std::string mpirun = launcher + MOESIM_BINARY;
  const std::string cmd = mpirun + " sweep " + sweep.string() + " --jobs 1 --out " + (dir_ / "mpi").string() + " >" +
                          (dir_ / "mpi-stdout.txt").string() + " 2>" + err.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(err);
  const std::string out = slurp(dir_ / "mpi-stdout.txt");
  EXPECT_NE(out.find("rank 0 of 2, running 3 points"), std::string::npos) << out;
  EXPECT_EQ(slurp(dir_ / "mpi" / "sweep.csv"), slurp(dir_ / "single" / "sweep.csv"));
#endif
}

TEST_F(Sweep, BadSweepsExitTwoBeforeAnyPointRuns) {
  const fs::path out = dir_ / "out";
  struct Case {
    std::string axes, message;
  };
  const Case cases[] = {
      {"grid: {cluster.nodez: [1, 2]}",
       "`cluster.nodez`: unknown key (did you mean 'nodes'?) (" + (dir_ / "sweep.yaml").string() + ":3:24, point 0)"},
      {"grid: {cluster.nodes: []}", "`grid.cluster.nodes`: expected at least one value, got an empty list"},
      {"zip: {seed: [1, 2, 3], steps: [5, 6]}",
       "`zip.steps`: 2 values, but `zip.seed` has 3: zip axes advance together and need the same length"},
      {"grid: {cluster.nodes: [1, -3]}",
       "`cluster.nodes`: expected a positive integer (at most 1048576), got '-3' (" + (dir_ / "sweep.yaml").string() + ":3:27, point 1)"},
      {"grid: {seed: 4}", "`grid.seed`: expected a list of values to sweep, got '4'"},
      {"grdi: {seed: [1]}", "`grdi`: unknown key in a sweep file; did you mean `grid`?"},
      {"grid: {output.dir: [a, b]}", "`output.dir`: the sweep gives every point its own output directory"},
      {"set: {seed: 3}\ngrid: {seed: [1, 2]}", "`seed`: is swept or set twice"},
  };
  for (const auto& c : cases) {
    const fs::path sweep = sweep_file(c.axes + "\n");
    const Result r = moesim("sweep " + sweep.string() + " --out " + out.string());
    EXPECT_EQ(r.status, 2) << c.axes;
    EXPECT_NE(r.err.find("moesim: error: " + c.message), std::string::npos) << c.axes << "\n" << r.err;
    EXPECT_EQ(lines_of(r.err), "1") << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.axes;
  }
  // An output directory that cannot be made (a file is in the way): nothing runs.
  write("file", "x");
  const fs::path sweep = sweep_file("grid: {seed: [1, 2]}\n");
  const Result r = moesim("sweep " + sweep.string() + " --out " + (dir_ / "file" / "out").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("`output.dir`: cannot use '" + (dir_ / "file" / "out").string() + "' as a directory"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(moesim("sweep " + sweep.string() + " --shard 3/2").status, 2);
  EXPECT_EQ(moesim("sweep " + (dir_ / "missing.yaml").string()).status, 2);
}

TEST_F(Sweep, PointsRunInWorkerProcessesWhoseErrorsReadAsInOneProcess) {
  const fs::path sweep = sweep_file("grid:\n  seed: [1, 2, 3]\n");
  const Result whole = moesim("sweep " + sweep.string() + " --jobs 2 --out " + (dir_ / "two").string());
  ASSERT_EQ(whole.status, 0) << whole.err;
  EXPECT_NE(whole.out.find("running 3 points here on 2 processes"), std::string::npos) << whole.out;
  ASSERT_EQ(moesim("sweep " + sweep.string() + " --jobs 1 --out " + (dir_ / "one").string()).status, 0);
  EXPECT_EQ(slurp(dir_ / "two" / "sweep.csv"), slurp(dir_ / "one" / "sweep.csv"));

  // A point that fails as it runs (its directory a link): the same line and status either way.
  Result failed[2];
  for (const int jobs : {1, 2}) {
    const fs::path out = dir_ / "linked";
    fs::remove_all(out);
    fs::create_directories(out / "points");
    fs::create_directories(dir_ / "elsewhere");
    fs::create_directory_symlink(dir_ / "elsewhere", out / "points" / "0001");
    failed[jobs - 1] = moesim("sweep " + sweep.string() + " -q --jobs " + std::to_string(jobs) + " --out " + out.string());
  }
  for (const Result& r : failed) {
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("moesim: error: cannot use '" + (dir_ / "linked" / "points" / "0001").string() +
                         "' for a sweep point: it is a symbolic link"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(lines_of(r.err), "1") << r.err;
  }
  EXPECT_EQ(failed[0].err, failed[1].err);
  EXPECT_TRUE(fs::is_empty(dir_ / "elsewhere"));
}

TEST_F(Sweep, ListShowsThePointsAndWhichAreDone) {
  const fs::path sweep = sweep_file("grid:\n  seed: [1, 2]\n");
  const std::string out = (dir_ / "out").string();
  ASSERT_EQ(moesim("sweep " + sweep.string() + " --shard 1/2 --out " + out).status, 0);
  const Result r = moesim("sweep " + sweep.string() + " --list --out " + out);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("0      1     " + out + "/points/0000  done"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1      2     " + out + "/points/0001  to run"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace moesim::e2e
