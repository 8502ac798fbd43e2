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

TEST(ParallelFor, RethrowsTheFirstExceptionAndStartsNoMoreIndices) {
  for (const int jobs : {1, 2}) {
    std::atomic<int> started{0};
    EXPECT_THROW(parallel_for(1000, jobs,
                              [&](size_t i) {
                                ++started;
                                if (i == 3) throw std::runtime_error("three");
                              }),
                 std::runtime_error);
    EXPECT_LT(started, 1000) << jobs << " jobs";
  }
}

}  // namespace
}  // namespace moesim
