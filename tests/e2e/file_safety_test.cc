// End-to-end: moesim never loses a file it did not create. Unique temporaries cleaned up exactly,
// links never followed, special files never replaced, an input never overwritten, concurrent
// writers kept apart, and SIGINT/SIGTERM leaving no temporary and no half-written result set.
#include <signal.h>
#include <sys/file.h>

#include <chrono>
#include <set>
#include <thread>

#include "tests/e2e/cli.h"

namespace moesim::e2e {
namespace {

class FileSafety : public Cli {
 protected:
  // Long enough that a signal or a second process lands while it runs.
  fs::path long_scenario() {
    std::string text = kTinyScenario;
    text.replace(text.find("steps: 40"), 9, "steps: 200000");
    return write("long.yaml", text);
  }
  static bool wait_until(const std::function<bool()>& ready) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!ready()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  static std::set<std::string> names(const fs::path& dir) {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir)) out.insert(fs::relative(e.path(), dir).string());
    return out;
  }
  static bool has_temporary(const fs::path& dir) {
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (e.path().filename().string().find(".moesim-") != std::string::npos) return true;
    }
    return false;
  }
};

TEST_F(FileSafety, ConvertRefusesToWriteOverItsInput) {
  const fs::path csv = write("t.csv", "step,layer,expert,tokens\n0,0,0,5\n0,0,1,3\n");
  const std::string before = slurp(csv);
  fs::create_symlink(csv, dir_ / "link.h5");
  for (const std::string& out : {csv.string(), (dir_ / "link.h5").string(), (dir_ / "." / "t.csv").string()}) {
    const Result r = moesim("trace convert " + csv.string() + " " + out);
    EXPECT_EQ(r.status, 2) << out;
    EXPECT_NE(r.err.find("is also an input"), std::string::npos) << r.err;
  }
  EXPECT_EQ(slurp(csv), before);
  // A scenario whose output directory holds its own input file.
  fs::create_directories(dir_ / "out");
  write("out/scenario.yaml", std::string(kTinyScenario) + "output: {dir: " + (dir_ / "out").string() + "}\n");
  const std::string scenario = slurp(dir_ / "out" / "scenario.yaml");
  const Result run = moesim("run " + (dir_ / "out" / "scenario.yaml").string() + " --steps 3 -q");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.err.find("is also an input"), std::string::npos) << run.err;
  EXPECT_EQ(slurp(dir_ / "out" / "scenario.yaml"), scenario);
  const Result topo = moesim("topo " + (dir_ / "out" / "scenario.yaml").string() + " --dot " + (dir_ / "out" / "scenario.yaml").string());
  EXPECT_EQ(topo.status, 2);
  EXPECT_EQ(slurp(dir_ / "out" / "scenario.yaml"), scenario);
}

TEST_F(FileSafety, SpecialTargetsAreWrittenThroughOrRefusedNeverReplaced) {
  const fs::path tiny = write("tiny.yaml", kTinyScenario);
  // --dot to /dev/null and /dev/stdout: written through; /dev/null stays the device.
  EXPECT_EQ(moesim("topo " + tiny.string() + " --dot /dev/null").status, 0);
  EXPECT_TRUE(fs::is_character_file("/dev/null"));
  const Result out = moesim("topo " + tiny.string() + " --dot /dev/stdout");
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_NE(out.out.find("graph"), std::string::npos) << out.out;
  // A FIFO nobody reads: an error, not a hang; the FIFO stays.
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  const Result fifo = moesim("topo " + tiny.string() + " --dot " + (dir_ / "fifo").string());
  EXPECT_EQ(fifo.status, 2);
  EXPECT_NE(fifo.err.find("a FIFO with no reader"), std::string::npos) << fifo.err;
  EXPECT_TRUE(fs::is_fifo(dir_ / "fifo"));
  // A symbolic link is never replaced by a file.
  write("real.dot", "user");
  fs::create_symlink(dir_ / "real.dot", dir_ / "link.dot");
  const Result link = moesim("topo " + tiny.string() + " --dot " + (dir_ / "link.dot").string());
  EXPECT_EQ(link.status, 2);
  EXPECT_NE(link.err.find("symbolic link"), std::string::npos) << link.err;
  EXPECT_TRUE(fs::is_symlink(dir_ / "link.dot"));
  EXPECT_EQ(slurp(dir_ / "real.dot"), "user");
  // HDF5 traces and a run's result files are regular files only, checked before any work.
  const Result h5 = moesim("trace generate " + tiny.string() + " --steps 2 --out /dev/null");
  EXPECT_EQ(h5.status, 2);
  EXPECT_NE(h5.err.find("character device"), std::string::npos) << h5.err;
  fs::create_directories(dir_ / "run");
  ASSERT_EQ(::mkfifo((dir_ / "run" / "summary.csv").c_str(), 0600), 0);
  const Result run = moesim("run " + tiny.string() + " --steps 2 -q --out " + (dir_ / "run").string());
  EXPECT_EQ(run.status, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_TRUE(fs::is_fifo(dir_ / "run" / "summary.csv"));
  // A file where a directory is expected: a user error (exit 2), not an internal one.
  write("plain", "user");
  for (const std::string& command : {"run " + tiny.string() + " --steps 2 -q --out " + (dir_ / "plain" / "sub").string(),
                                     "run " + tiny.string() + " --steps 2 -q --out " + (dir_ / "plain").string()}) {
    const Result r = moesim(command);
    EXPECT_EQ(r.status, 2) << command << "\n" << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  }
  EXPECT_EQ(slurp(dir_ / "plain"), "user");
}

TEST_F(FileSafety, SweepCleanUpSparesUserFilesAndLinkedPointDirectories) {
  write("base.yaml", kTinyScenario);
  const fs::path sweep = write("sweep.yaml", "name: s\nbase: base.yaml\ngrid: {seed: [1, 2]}\n");
  const fs::path out = dir_ / "out";
  fs::create_directories(out / "points" / "0000");
  for (const char* name : {"notes.tmp", "data.tmpl", "report.tmp.txt", "run.h5.tmp"}) write("out/points/0000/" + std::string(name), "user");
  write("out/points/0000/.run.h5.moesim-1-0123456789abcdef.tmp", "left by a killed run");
  // Point 0001 is a link into the user's tree, which holds a file named like a temporary.
  fs::create_directories(dir_ / "mine");
  write("mine/.summary.csv.moesim-1-0123456789abcdef.tmp", "user");
  fs::create_directory_symlink(dir_ / "mine", out / "points" / "0001");
  const Result r = moesim("sweep " + sweep.string() + " -q --jobs 1 --out " + out.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("is a symbolic link"), std::string::npos) << r.err;
  EXPECT_EQ(names(dir_ / "mine"), (std::set<std::string>{".summary.csv.moesim-1-0123456789abcdef.tmp"}));
  for (const char* name : {"notes.tmp", "data.tmpl", "report.tmp.txt", "run.h5.tmp"}) {
    EXPECT_EQ(slurp(out / "points" / "0000" / name), "user") << name;
  }
  EXPECT_FALSE(fs::exists(out / "points" / "0000" / ".run.h5.moesim-1-0123456789abcdef.tmp"));
}

TEST_F(FileSafety, SigintAndSigtermRemoveThisProcesssTemporariesAndExit130Or143) {
  const fs::path scenario = long_scenario();
  for (const int sig : {SIGINT, SIGTERM}) {
    const fs::path out = dir_ / ("out" + std::to_string(sig));
    // An earlier complete result set, which must survive.
    ASSERT_EQ(moesim("run " + scenario.string() + " --steps 3 -q --out " + out.string()).status, 0);
    const std::string before = slurp(out / "summary.csv");
    write("user.tmp", "user");
    fs::copy_file(dir_ / "user.tmp", out / "notes.tmp");
    const pid_t pid = spawn({"run", scenario.string(), "-q", "--timeline-steps", "0:199999", "--out", out.string()});
    ASSERT_TRUE(wait_until([&] { return has_temporary(out); })) << "the timeline's temporary never appeared";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ::kill(pid, sig);
    const int status = wait_for(pid);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by the signal instead of handling it";
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig);
    EXPECT_FALSE(has_temporary(out));
    EXPECT_EQ(names(out), (std::set<std::string>{".moesim.lock", "notes.tmp", "run.h5", "scenario.yaml", "summary.csv"}));
    EXPECT_EQ(slurp(out / "summary.csv"), before);
    EXPECT_EQ(slurp(out / "notes.tmp"), "user");
  }
}

TEST_F(FileSafety, ASweepStoppedBySigtermTakesItsWorkerProcessesWithIt) {
  write("base.yaml", slurp(long_scenario()));
  const fs::path sweep = write("sweep.yaml", "name: s\nbase: base.yaml\ngrid: {seed: [1, 2, 3, 4]}\n");
  const fs::path out = dir_ / "out";
  const pid_t parent = spawn({"sweep", sweep.string(), "-q", "--jobs", "2", "--out", out.string()});
  // Both workers running a point: each holds its point's lock, with its own pid in it.
  const auto worker_of = [&](const char* point) {
    const fs::path lock = out / "points" / point / ".moesim.lock";
    return fs::exists(lock) ? slurp(lock) : std::string();
  };
  ASSERT_TRUE(wait_until([&] { return !worker_of("0000").empty() && !worker_of("0001").empty(); })) << "the points never started";
  EXPECT_NE(worker_of("0000"), std::to_string(parent) + "\n");
  EXPECT_NE(worker_of("0000"), worker_of("0001"));
  ::kill(parent, SIGTERM);
  EXPECT_EQ(WEXITSTATUS(wait_for(parent)), 143);
  // The workers end too: their locks come free, and they leave no temporary.
  for (const char* point : {"0000", "0001"}) {
    const int fd = ::open((out / "points" / point / ".moesim.lock").c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0) << point;
    EXPECT_TRUE(wait_until([&] { return ::flock(fd, LOCK_EX | LOCK_NB) == 0; })) << "point " << point << "'s worker still runs";
    ::close(fd);
  }
  EXPECT_FALSE(has_temporary(out));
  EXPECT_FALSE(fs::exists(out / "points" / "0000" / "summary.csv"));
}

TEST_F(FileSafety, ASecondRunOnABusyDirectoryRefusesAndASecondSweepWaitsItsTurn) {
  const fs::path scenario = long_scenario();
  const fs::path out = dir_ / "out";
  const pid_t first = spawn({"run", scenario.string(), "-q", "--out", out.string()});
  ASSERT_TRUE(wait_until([&] { return fs::exists(out / ".moesim.lock") && !slurp(out / ".moesim.lock").empty(); }));
  const Result second = moesim("run " + scenario.string() + " --steps 3 -q --out " + out.string());
  EXPECT_EQ(second.status, 2);
  EXPECT_NE(second.err.find("is in use by another moesim process (pid " + std::to_string(first) + ")"), std::string::npos) << second.err;
  ::kill(first, SIGTERM);
  EXPECT_EQ(WEXITSTATUS(wait_for(first)), 143);
  EXPECT_EQ(moesim("run " + scenario.string() + " --steps 3 -q --out " + out.string()).status, 0);

  // Two sweeps of one file on one directory: both finish, and both combine every point.
  write("base.yaml", kTinyScenario);
  const fs::path sweep = write("sweep.yaml", "name: s\nbase: base.yaml\ngrid: {seed: [1, 2, 3, 4]}\n");
  const fs::path shared = dir_ / "shared";
  const pid_t a = spawn({"sweep", sweep.string(), "-q", "--jobs", "2", "--out", shared.string()}, "a");
  const pid_t b = spawn({"sweep", sweep.string(), "-q", "--jobs", "2", "--out", shared.string()}, "b");
  EXPECT_EQ(WEXITSTATUS(wait_for(a)), 0) << slurp(dir_ / "a.err");
  EXPECT_EQ(WEXITSTATUS(wait_for(b)), 0) << slurp(dir_ / "b.err");
  EXPECT_NE(slurp(dir_ / "a.out").find("wrote "), std::string::npos) << slurp(dir_ / "a.out");
  EXPECT_NE(slurp(dir_ / "b.out").find("wrote "), std::string::npos) << slurp(dir_ / "b.out");
  const Result clean = moesim("sweep " + sweep.string() + " -q --out " + (dir_ / "clean").string());
  ASSERT_EQ(clean.status, 0);
  EXPECT_EQ(slurp(shared / "sweep.csv"), slurp(dir_ / "clean" / "sweep.csv"));
  EXPECT_FALSE(has_temporary(shared));
}

// A small file system of the test's own (tmpfs), or a skip where mounting is not allowed.
class SmallDisk : public FileSafety {
 protected:
  bool mount_small(const std::string& size) {
    disk_ = dir_ / "disk";
    fs::create_directories(disk_);
    mounted_ = std::system(("mount -t tmpfs -o size=" + size + " tmpfs " + disk_.string() + " 2>/dev/null").c_str()) == 0;
    return mounted_;
  }
  void TearDown() override {
    if (mounted_) {
      EXPECT_EQ(std::system(("umount " + disk_.string()).c_str()), 0);
    }
    FileSafety::TearDown();
  }
  fs::path disk_;
  bool mounted_ = false;
};

TEST_F(SmallDisk, AFullDiskIsAOneLineErrorAndLeavesNothingHalfWritten) {
  if (!mount_small("256k")) GTEST_SKIP() << "cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)";
  const fs::path tiny = write("tiny.yaml", kTinyScenario);
  // The timeline would fill the disk: refused after its first step, from that step's size.
  const Result timeline = moesim("run " + tiny.string() + " -q --timeline-steps 0:39 --out " + (disk_ / "t").string());
  EXPECT_EQ(timeline.status, 2) << timeline.err;
  EXPECT_NE(timeline.err.find("record fewer steps"), std::string::npos) << timeline.err;
  // The results themselves do not fit: ENOSPC while staging, nothing published.
  write("long.yaml", std::string(kTinyScenario).replace(std::string(kTinyScenario).find("steps: 40"), 9, "steps: 20000"));
  const Result full = moesim("run " + (dir_ / "long.yaml").string() + " -q --out " + (disk_ / "r").string());
  EXPECT_EQ(full.status, 2) << full.err;
  EXPECT_EQ(std::count(full.err.begin(), full.err.end(), '\n'), 1) << full.err;
  EXPECT_EQ(full.err.find("internal error"), std::string::npos) << full.err;
  EXPECT_FALSE(has_temporary(disk_));
  EXPECT_EQ(names(disk_ / "r"), (std::set<std::string>{".moesim.lock"}));
  // A trace streamed to disk until the disk is full: one line, no partial trace.
  const Result trace = moesim("trace generate " + (dir_ / "long.yaml").string() + " --out " + (disk_ / "t.h5").string());
  EXPECT_EQ(trace.status, 2) << trace.err;
  EXPECT_EQ(std::count(trace.err.begin(), trace.err.end(), '\n'), 1) << trace.err;
  EXPECT_FALSE(fs::exists(disk_ / "t.h5"));
  EXPECT_FALSE(has_temporary(disk_));
}

}  // namespace
}  // namespace moesim::e2e
