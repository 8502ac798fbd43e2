#include "sim/worker_processes.h"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace moesim {
namespace {

WorkerReport plain_report(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return {2, std::string("failed: ") + e.what() + "\n"};
  }
}

class WorkerProcesses : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!worker_processes_available()) GTEST_SKIP() << "no worker processes on this system";
  }
};

TEST_F(WorkerProcesses, RunEveryIndexOnceInProcessesOfTheirOwnAndHandBackEachResult) {
  const pid_t self = ::getpid();
  const auto dir = std::filesystem::temp_directory_path() / ("moesim-workers-" + std::to_string(self));
  std::filesystem::create_directories(dir);
  std::vector<int> results(20, -1);
  int calls = 0;
  for_each_in_processes(
      results.size(), 3,
      [&](size_t i) {
        // Each index writes its worker's pid, and nothing it changes in memory reaches the parent.
        std::ofstream(dir / std::to_string(i)) << ::getpid();
        results.assign(results.size(), 99);
        return static_cast<int>(i * 7 % 256);
      },
      [&](size_t i, int result) {
        EXPECT_EQ(results[i], -1) << "index " << i << " done twice";
        results[i] = result;
        ++calls;
      },
      plain_report);
  EXPECT_EQ(calls, 20);
  std::set<std::string> pids;
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i], static_cast<int>(i * 7 % 256));
    std::ifstream in(dir / std::to_string(i));
    std::string pid;
    in >> pid;
    EXPECT_NE(pid, std::to_string(self)) << "index " << i << " ran in the calling process";
    pids.insert(pid);
  }
  EXPECT_LE(pids.size(), 3u);
  std::filesystem::remove_all(dir);
}

TEST_F(WorkerProcesses, NoIndicesStartNothing) {
  bool called = false;
  for_each_in_processes(
      0, 4, [&](size_t) { return 0; }, [&](size_t, int) { called = true; }, plain_report);
  EXPECT_FALSE(called);
}

TEST_F(WorkerProcesses, AWorksErrorComesBackAsItsReportAndNoNewIndexStarts) {
  int done = 0;
  try {
    // One worker: index 2 throws, and 3 .. 9 never start.
    for_each_in_processes(
        10, 1,
        [](size_t i) {
          if (i == 2) throw std::invalid_argument("point 2 is bad");
          return 1;
        },
        [&](size_t i, int) {
          EXPECT_LT(i, 2u);
          ++done;
        },
        plain_report);
    FAIL() << "no error";
  } catch (const WorkerFailure& e) {
    EXPECT_EQ(e.status, 2);
    EXPECT_STREQ(e.what(), "failed: point 2 is bad\n");
  }
  EXPECT_EQ(done, 2);
}

TEST_F(WorkerProcesses, AWorkerKilledBySignalIsNamedOnceTheOthersFinish) {
  int done = 0;
  try {
    for_each_in_processes(
        6, 2,
        [](size_t i) {
          if (i == 0) ::raise(SIGKILL);
          return 0;
        },
        [&](size_t, int) { ++done; }, plain_report);
    FAIL() << "no error";
  } catch (const WorkerFailure&) {
    FAIL() << "a killed worker has no report";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("was killed by signal 9"), std::string::npos) << e.what();
  }
  // The other worker ran every index the killed one did not take.
  EXPECT_EQ(done, 5);
}

}  // namespace
}  // namespace moesim
