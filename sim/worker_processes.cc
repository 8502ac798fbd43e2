#include "sim/worker_processes.h"

#include "sim/files/cleanup.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <new>
#include <optional>
#include <vector>

#if defined(__unix__)
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#endif
#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace moesim {

#if defined(__unix__)

bool worker_processes_available() { return true; }

namespace {

// In memory every worker shares (an anonymous shared mapping): the next index to take, and whether a
// work has thrown. Lock-free atomics work across processes.
struct Shared {
  std::atomic<uint64_t> next{0};
  std::atomic<uint32_t> failed{0};
};
static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<uint32_t>::is_always_lock_free);

// What a worker tells the parent of an index, followed by `length` bytes of message. One write of
// at most PIPE_BUF bytes, which POSIX makes atomic, so several workers' records never interleave.
struct Record {
  uint32_t index;
  int32_t result;  // work's result, when status < 0
  int32_t status;  // < 0: the index is done; otherwise the exit status of a work that threw
  uint32_t length;
};
constexpr size_t kMaxMessage = PIPE_BUF - sizeof(Record);

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Reads `size` bytes; false at the end of the pipe before the first.
bool read_all(int fd, char* data, size_t size) {
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, data + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("reading from the worker processes: ") + std::strerror(errno));
    if (n == 0) {
      if (got == 0) return false;
      throw std::runtime_error("a worker process's report ended early");
    }
    got += static_cast<size_t>(n);
  }
  return true;
}

[[noreturn]] void work_until_done(Shared& shared, int out, size_t count, const std::function<int(size_t)>& work,
                                  const std::function<WorkerReport(std::exception_ptr)>& report) {
  while (shared.failed.load() == 0) {
    const uint64_t i = shared.next.fetch_add(1);
    if (i >= count) break;
    Record record{static_cast<uint32_t>(i), 0, -1, 0};
    std::string message;
    try {
      record.result = work(i);
    } catch (...) {
      WorkerReport r;
      try {
        r = report(std::current_exception());
      } catch (...) {
        r = {1, "moesim: internal error: a worker could not describe its error\n"};
      }
      shared.failed.store(1);
      record.status = r.status;
      message = r.text.substr(0, kMaxMessage);
    }
    record.length = static_cast<uint32_t>(message.size());
    std::string bytes(reinterpret_cast<const char*>(&record), sizeof record);
    bytes += message;
    if (!write_all(out, bytes.data(), bytes.size()) || record.status >= 0) ::_exit(record.status >= 0 ? record.status : 1);
  }
  ::_exit(0);
}

std::string how_it_ended(pid_t pid, int status) {
  if (WIFSIGNALED(status)) {
    const char* name = ::strsignal(WTERMSIG(status));
    return "worker process " + std::to_string(pid) + " was killed by signal " + std::to_string(WTERMSIG(status)) +
           (name ? std::string(" (") + name + ")" : std::string());
  }
  return "worker process " + std::to_string(pid) + " exited with status " + std::to_string(WEXITSTATUS(status)) + " without a report";
}

}  // namespace

void for_each_in_processes(size_t count, int jobs, const std::function<int(size_t)>& work, const std::function<void(size_t, int)>& done,
                           const std::function<WorkerReport(std::exception_ptr)>& report) {
  if (count == 0) return;
  if (count > UINT32_MAX) throw std::invalid_argument("for_each_in_processes: more indices than a worker's report can name");
  const size_t workers = std::clamp<size_t>(static_cast<size_t>(std::max(jobs, 1)), 1, count);
  void* memory = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::runtime_error(std::string("cannot map memory for the worker processes: ") + std::strerror(errno));
  Shared* shared = new (memory) Shared;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ::munmap(memory, sizeof(Shared));
    throw std::runtime_error(std::string("cannot make a pipe for the worker processes: ") + std::strerror(errno));
  }
  // What this process has buffered must not be written again by each worker.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  std::vector<pid_t> pids;
  std::string fork_error;
  for (size_t w = 0; w < workers; ++w) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(pipe_fds[0]);
#if defined(__linux__)
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(128 + SIGTERM);  // the parent died before prctl
#endif
      files::quiet_signal_cleanup();
      work_until_done(*shared, pipe_fds[1], count, work, report);
    }
    if (pid < 0) {
      fork_error = std::string("cannot start a worker process: ") + std::strerror(errno);
      break;
    }
    pids.push_back(pid);
  }
  ::close(pipe_fds[1]);
  if (pids.empty()) {
    ::close(pipe_fds[0]);
    ::munmap(memory, sizeof(Shared));
    throw std::runtime_error(fork_error);
  }

  std::optional<WorkerReport> first;
  std::exception_ptr here;  // thrown by done() or the reading: the workers are still waited for
  try {
    Record record;
    while (read_all(pipe_fds[0], reinterpret_cast<char*>(&record), sizeof record)) {
      std::string message(record.length, '\0');
      read_all(pipe_fds[0], message.data(), message.size());
      if (record.status < 0) {
        done(record.index, record.result);
      } else if (!first) {
        first = WorkerReport{record.status, std::move(message)};
      }
    }
  } catch (...) {
    shared->failed.store(1);
    here = std::current_exception();
  }
  ::close(pipe_fds[0]);
  std::string ended;
  for (const pid_t pid : pids) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    const bool reported = first && WIFEXITED(status) && WEXITSTATUS(status) == first->status;
    if (ended.empty() && !reported && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) ended = how_it_ended(pid, status);
  }
  ::munmap(memory, sizeof(Shared));
  if (here) std::rethrow_exception(here);
  if (first) throw WorkerFailure(*first);
  if (!ended.empty()) throw std::runtime_error(ended);
}

#else

bool worker_processes_available() { return false; }

void for_each_in_processes(size_t, int, const std::function<int(size_t)>&, const std::function<void(size_t, int)>&,
                           const std::function<WorkerReport(std::exception_ptr)>&) {
  throw std::logic_error("worker processes need a POSIX system");
}

#endif

}  // namespace moesim
