// What every registry shares (one per extension point: predictors, placement policies, routing
// modes, gating sources): its entries, in listing order, each with a `name`. The entries of each
// are listed by cmake/Registry.cmake.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moesim::registry {

// The entry called `name`, or null.
template <typename Entry>
const Entry* find(std::span<const Entry* const> entries, std::string_view name) {
  for (const Entry* entry : entries) {
    if (entry->name == name) return entry;
  }
  return nullptr;
}

// The entries' names, in order.
template <typename Entry>
std::vector<std::string> names(std::span<const Entry* const> entries) {
  std::vector<std::string> out;
  for (const Entry* entry : entries) out.emplace_back(entry->name);
  return out;
}

}  // namespace moesim::registry
