#include "sim/base/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace moesim {
namespace {

TEST(ParallelFor, CallsEveryIndexOnce) {
  for (const int jobs : {1, 2, 3, 8}) {
    std::vector<std::atomic<int>> calls(37);
    parallel_for(calls.size(), jobs, [&](size_t i) { ++calls[i]; });
    for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i], 1) << "index " << i << ", " << jobs << " jobs";
  }
}

TEST(ParallelFor, OneJobRunsOnTheCallingThread) {
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::thread::id> ran(5);
  parallel_for(ran.size(), 1, [&](size_t i) { ran[i] = std::this_thread::get_id(); });
  for (const auto& id : ran) EXPECT_EQ(id, caller);
  parallel_for(1, 4, [&](size_t i) { ran[i] = std::this_thread::get_id(); });  // one index: one thread
  EXPECT_EQ(ran[0], caller);
}

// On one thread no index starts after the throw (on more, another thread may be between indices
// and take its next one before it sees the failure: only the rethrow is certain).
TEST(ParallelFor, RethrowsTheFirstExceptionAndStartsNoMoreIndices) {
  for (const int jobs : {1, 2}) {
    std::atomic<int> started{0};
    EXPECT_THROW(parallel_for(1000, jobs,
                              [&](size_t i) {
                                ++started;
                                if (i == 3) throw std::runtime_error("three");
                              }),
                 std::runtime_error);
    if (jobs == 1) {
      EXPECT_EQ(started, 4);
    }
  }
}

#if defined(__linux__)
// A thread bound to one core (as taskset binds a process) counts one.
TEST(AvailableCores, CountsTheCoresTheThreadMayRunOn) {
  EXPECT_GE(available_cores(), 1);
  int bound = 0;
  std::thread([&] {
    cpu_set_t set;
    ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    int first = 0;
    while (!CPU_ISSET(first, &set)) ++first;
    CPU_ZERO(&set);
    CPU_SET(first, &set);
    ASSERT_EQ(sched_setaffinity(0, sizeof set, &set), 0);
    bound = available_cores();
  }).join();
  EXPECT_EQ(bound, 1);
}
#endif

}  // namespace
}  // namespace moesim
