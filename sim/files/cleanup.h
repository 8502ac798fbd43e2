// What moesim removes when SIGINT or SIGTERM stops it: the temporaries this process created and
// has not yet renamed into place. The handler removes exactly those, then exits with status
// 128 + the signal (130, 143). A commit (the renames that publish a result set) is never cut in
// half: a signal that arrives during one is acted on when the last running commit ends.
#pragma once

#include <string>

namespace moesim::files {

// Installs the SIGINT/SIGTERM handler once per process; later calls do nothing.
void install_signal_cleanup();

// For a worker process whose parent reports for it (sim/worker_processes.h): the handler still
// removes this process's temporaries and exits, but says nothing, so that one interrupted command
// prints one line.
void quiet_signal_cleanup();

// Registers `path` for removal on a signal until forget_temporary(path). Throws
// std::runtime_error when too many temporaries are live at once (a bug: each run holds a few).
void register_temporary(const std::string& path);
void forget_temporary(const std::string& path);

// Defers SIGINT/SIGTERM for its lifetime (other threads keep running; the signal is acted on
// when the last guard ends).
class CommitGuard {
 public:
  CommitGuard();
  ~CommitGuard();
  CommitGuard(const CommitGuard&) = delete;
  CommitGuard& operator=(const CommitGuard&) = delete;
};

}  // namespace moesim::files
