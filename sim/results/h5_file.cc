#include "sim/results/h5_file.h"

#include <stdexcept>

namespace moesim::results {

void write_h5_atomically(const std::string& path, const std::function<void(H5::H5File&)>& fill) {
  files::check_target(path, files::Target::kFile);
  files::Temporary temporary(path);
  fill_h5(temporary, fill);
  temporary.commit();
}

void fill_h5(const files::Temporary& temporary, const std::function<void(H5::H5File&)>& fill) {
  static const bool quiet = [] {
    H5::Exception::dontPrint();
    return true;
  }();
  (void)quiet;
  try {
    // The latest file format, whose metadata carries checksums (as moesim's traces do).
    H5::FileAccPropList access;
    access.setLibverBounds(H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    H5::FileCreatPropList creation;  // the root group without timestamps
    H5Pset_obj_track_times(creation.getId(), false);
    H5::H5File file(temporary.path(), H5F_ACC_TRUNC, creation, access);
    fill(file);
  } catch (const H5::Exception& e) {
    throw files::FileError("cannot write '" + temporary.target() + "' (" + e.getDetailMsg() + ")");
  }
}

H5::Group untimed_group(H5::Group& parent, const std::string& name) {
  const hid_t properties = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(properties, false);
  const hid_t id = H5Gcreate2(parent.getId(), name.c_str(), H5P_DEFAULT, properties, H5P_DEFAULT);
  H5Pclose(properties);
  if (id < 0) throw H5::GroupIException("untimed_group", "cannot create group " + name);
  H5::Group group(id);
  H5Gclose(id);  // the Group holds its own reference
  return group;
}

H5::DSetCreatPropList untimed_properties() {
  H5::DSetCreatPropList props;
  H5Pset_obj_track_times(props.getId(), false);
  return props;
}

void text_attribute(H5::H5Object& o, const char* name, const std::string& v) {
  const H5::StrType type(H5::PredType::C_S1, v.empty() ? 1 : v.size());
  o.createAttribute(name, type, H5::DataSpace()).write(type, v.empty() ? std::string(" ") : v);
}

void int_attribute(H5::H5Object& o, const char* name, int64_t v) {
  o.createAttribute(name, H5::PredType::NATIVE_INT64, H5::DataSpace()).write(H5::PredType::NATIVE_INT64, &v);
}

}  // namespace moesim::results
