// Running independent pieces of work in worker processes (fork) rather than threads, for work
// whose threads would share what they should not: libhdf5's thread-safe build holds one lock over
// every call, and a process's threads share its allocator and its address space, whose page faults
// the kernel serializes. POSIX only (worker_processes_available()).
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>

namespace moesim {

// What a worker made of an exception its work threw: the exit status and the message, as the
// command would have printed them had the work run in its own process.
struct WorkerReport {
  int status = 1;
  std::string text;
};

// Thrown by for_each_in_processes() once the workers have ended, after a work threw.
struct WorkerFailure : std::runtime_error {
  explicit WorkerFailure(const WorkerReport& report) : std::runtime_error(report.text), status(report.status) {}
  int status;
};

// Whether this system runs work in processes.
bool worker_processes_available();

// Calls work(i) for i in [0, count) in up to `jobs` worker processes forked from this one, each
// index once, in no fixed order. As each index finishes, done(i, work(i)'s result) runs here, in
// the calling process, one at a time; the result must be within 0 .. 255. If a work throws,
// `report` turns the exception into a WorkerReport in its worker, no worker starts a new index, and
// once the running ones have finished, WorkerFailure carries that report (the first, if several
// threw). A worker that ends any other way (a signal, a crash) ends the call with std::runtime_error
// naming its signal or status, once the others have finished.
//
// fork() copies only the calling thread: the caller must run no other thread. A worker ends with
// _exit(), running no exit handler and flushing no stream: work must close what it writes. A worker
// whose parent dies is sent SIGTERM (on Linux), so that an interrupted command leaves none behind;
// on SIGINT or SIGTERM a worker removes its temporaries as the command would, silently
// (files::quiet_signal_cleanup()), and the command says it was stopped, once.
void for_each_in_processes(size_t count, int jobs, const std::function<int(size_t)>& work, const std::function<void(size_t, int)>& done,
                           const std::function<WorkerReport(std::exception_ptr)>& report);

}  // namespace moesim
