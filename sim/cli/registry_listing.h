// Every registry entry a scenario can name (fabrics, gating sources, network models, routing modes,
// placement policies, predictors) with its keys, read from the entries' own descriptions: what `moesim presets` lists
// and the README's key table shows.
#pragma once

#include <string>

namespace moesim::cli {

// Plain text for the terminal, or a Markdown table for README.md.
std::string registry_listing(bool markdown);

}  // namespace moesim::cli
