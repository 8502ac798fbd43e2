#include "sim/results/h5_file.h"

#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace moesim::results {

void write_h5_atomically(const std::string& path, const std::function<void(H5::H5File&)>& fill) {
  static const bool quiet = [] {
    H5::Exception::dontPrint();
    return true;
  }();
  (void)quiet;
  const std::string temporary = path + ".tmp";
  try {
    H5::H5File file(temporary, H5F_ACC_TRUNC);
    fill(file);
  } catch (const H5::Exception& e) {
    std::remove(temporary.c_str());
    throw std::runtime_error("cannot write " + path + " (" + e.getDetailMsg() + ")");
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::remove(temporary.c_str());
    throw std::runtime_error("cannot write " + path + " (" + ec.message() + ")");
  }
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
