#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moesim::scenarios {

// The closest candidate to `word` by edit distance, if it is close enough to be a likely typo;
// empty otherwise.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace moesim::scenarios
