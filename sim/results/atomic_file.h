// Writes a whole file or nothing: to a temporary file beside the target, then rename().
#pragma once

#include <string>

namespace moesim::results {

// Throws std::runtime_error naming the path when the file cannot be written.
void write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace moesim::results
