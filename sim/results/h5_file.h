// What the HDF5 writers share (internal to sim/results): writing a file whole or not at all, and
// attributes and properties that keep the same run's file the same bytes.
#pragma once

#include <H5Cpp.h>

#include <functional>
#include <string>

namespace moesim::results {

// Fills a new file at PATH.tmp, then renames it to `path`. Throws std::runtime_error naming `path`
// (and removes the temporary) when any of it fails. HDF5 prints nothing on its own.
void write_h5_atomically(const std::string& path, const std::function<void(H5::H5File&)>& fill);

// Dataset properties without object timestamps.
H5::DSetCreatPropList untimed_properties();

void text_attribute(H5::H5Object& o, const char* name, const std::string& value);
void int_attribute(H5::H5Object& o, const char* name, int64_t value);

}  // namespace moesim::results
