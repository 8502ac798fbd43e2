#include "models/gating/source_registry.h"

namespace moesim::gating {

const SourceEntry* find_source(std::string_view name) {
  for (const SourceEntry* entry : source_entries()) {
    if (entry->name == name) return entry;
  }
  return nullptr;
}

std::vector<std::string> source_names() {
  std::vector<std::string> names;
  for (const SourceEntry* entry : source_entries()) names.emplace_back(entry->name);
  return names;
}

}  // namespace moesim::gating
