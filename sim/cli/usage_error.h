#pragma once

#include <stdexcept>

namespace moesim::cli {

// Bad command-line usage (unknown command, missing argument): exit status 2 with the usage text.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A bad option value (a horizon of 0, an unknown predictor): exit status 2 with one line.
struct OptionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace moesim::cli
