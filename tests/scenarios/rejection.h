// Shared by the bad-input tests: loading `yaml` with `overrides` must fail with one line holding
// every expected fragment.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scenarios/loader/loader.h"

namespace moesim::scenarios {

inline void expect_rejected(const std::string& yaml, const std::vector<std::string>& overrides, const std::vector<std::string>& fragments) {
  try {
    load_scenario_text(yaml, "bad.yaml", overrides);
    FAIL() << "accepted bad input";
  } catch (const ScenarioError& e) {
    const std::string msg = e.what();
    for (const auto& fragment : fragments) EXPECT_NE(msg.find(fragment), std::string::npos) << "'" << fragment << "' not in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

}  // namespace moesim::scenarios
