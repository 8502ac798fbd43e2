// What the HDF5 writers share (internal to sim/results): writing a file whole or not at all, and
// attributes and properties that keep the same run's file the same bytes.
#pragma once

#include <H5Cpp.h>

#include <functional>
#include <string>

#include "sim/files/output_file.h"

namespace moesim::results {

// Fills a new file at a unique temporary (sim/files/output_file.h), then renames it to `path`.
// Throws files::FileError naming `path` (and removes the temporary) when any of it fails. HDF5
// prints nothing on its own.
void write_h5_atomically(const std::string& path, const std::function<void(H5::H5File&)>& fill);

// Fills `temporary` as a new HDF5 file, for a caller that commits it with others.
void fill_h5(const files::Temporary& temporary, const std::function<void(H5::H5File&)>& fill);

// Dataset properties without object timestamps.
H5::DSetCreatPropList untimed_properties();

// A new group without object timestamps (the latest file format stores them in every object
// header, so the same run would otherwise give different bytes).
H5::Group untimed_group(H5::Group& parent, const std::string& name);

void text_attribute(H5::H5Object& o, const char* name, const std::string& value);
void int_attribute(H5::H5Object& o, const char* name, int64_t value);
void double_attribute(H5::H5Object& o, const char* name, double value);

}  // namespace moesim::results
