// `moesim predict TRACE.h5`: how well each load predictor forecasts a trace.
#pragma once

#include <string>
#include <vector>

namespace moesim::cli {

int cmd_predict(const std::vector<std::string>& args);

}  // namespace moesim::cli
