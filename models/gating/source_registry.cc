#include "models/gating/source_registry.h"

#include "sim/base/registry.h"

namespace moesim::gating {

const SourceEntry* find_source(std::string_view name) { return registry::find(source_entries(), name); }

std::vector<std::string> source_names() { return registry::names(source_entries()); }

}  // namespace moesim::gating
