// `moesim trace generate | info | convert | import`.
#pragma once

#include <string>
#include <vector>

namespace moesim::cli {

int cmd_trace(const std::vector<std::string>& args);

// What `trace info` prints about a trace file (trace_info.cc); `ep` GPUs for the GPU imbalance (0:
// the trace's ranks where they divide its experts, else none).
void print_trace(const std::string& path, int ep = 0);
// `moesim trace import` (trace_import_command.cc), and the formats its help lists.
int trace_import(const std::vector<std::string>& args);
extern const char* const kTraceImportFormats;

}  // namespace moesim::cli
