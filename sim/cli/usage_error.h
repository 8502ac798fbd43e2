#pragma once

#include <stdexcept>

namespace moesim::cli {

// Bad command-line usage (unknown command, missing argument): exit status 2 with the usage text.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace moesim::cli
