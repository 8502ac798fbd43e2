// Running independent pieces of work on a pool of threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

namespace moesim {

// The cores this process may run on (its CPU affinity, as taskset or a container's cpuset set it),
// at least 1.
inline int available_cores() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// Calls work(i) for i in [0, count) on up to `jobs` threads, each index once, in no fixed order
// (on the calling thread where one would do). After a call throws, each thread starts no new index
// once it sees that (one between indices may already have taken its next); the first exception is
// rethrown once the running calls finish.
inline void parallel_for(size_t count, int jobs, const std::function<void(size_t)>& work) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex lock;
  const auto worker = [&] {
    for (size_t i; !failed && (i = next++) < count;) {
      try {
        work(i);
      } catch (...) {
        const std::lock_guard<std::mutex> guard(lock);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  const size_t threads = std::clamp<size_t>(static_cast<size_t>(std::max(jobs, 1)), 1, std::max<size_t>(count, 1));
  if (threads == 1) {
    worker();
  } else {
    std::vector<std::jthread> pool;
    for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace moesim
