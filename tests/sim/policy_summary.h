// A policy's summary with just a label and a mean step time, for tests of tables and outputs.
#pragma once

#include <string>

#include "sim/summary.h"

namespace moesim::test {

inline PolicySummary policy_summary(std::string label, double step_ms_mean) {
  PolicySummary s;
  s.label = std::move(label);
  s.step_ms_mean = step_ms_mean;
  return s;
}

}  // namespace moesim::test
