// How the command line reports an error that ends a command: one line on stderr and exit status 2
// for bad input of any kind, "internal error" and status 1 for moesim's own faults. In one place, so
// that an error thrown in a sweep's worker process reads as it would have in the command's own.
#pragma once

#include <exception>

#include "sim/worker_processes.h"

namespace moesim::cli {

inline constexpr int kBadInput = 2;

// The text (with its newline) and the exit status for `error`; a UsageError's usage text is the
// caller's to add.
WorkerReport error_report(std::exception_ptr error);

}  // namespace moesim::cli
