#include "results/h5_file.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace moesim::results {
namespace {

// HDF5's metadata checksum: Bob Jenkins' lookup3 hashlittle with an initial value of 0
// (H5_checksum_lookup3 in libhdf5's H5checksum.c), byte by byte.
uint32_t lookup3(const unsigned char* k, size_t length) {
  const auto rot = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  uint32_t a = 0xdeadbeef + static_cast<uint32_t>(length), b = a, c = a;
  const auto word = [&](size_t i, size_t n) {
    uint32_t w = 0;
    for (size_t j = 0; j < n; ++j) w += static_cast<uint32_t>(k[i + j]) << (8 * j);
    return w;
  };
  while (length > 12) {
    a += word(0, 4), b += word(4, 4), c += word(8, 4);
    a -= c, a ^= rot(c, 4), c += b, b -= a, b ^= rot(a, 6), a += c, c -= b, c ^= rot(b, 8), b += a;
    a -= c, a ^= rot(c, 16), c += b, b -= a, b ^= rot(a, 19), a += c, c -= b, c ^= rot(b, 4), b += a;
    length -= 12, k += 12;
  }
  if (length == 0) return c;
  a += word(0, std::min<size_t>(length, 4));
  if (length > 4) b += word(4, std::min<size_t>(length - 4, 4));
  if (length > 8) c += word(8, length - 8);
  c ^= b, c -= rot(b, 14), a ^= c, a -= rot(c, 11), b ^= a, b -= rot(a, 25), c ^= b, c -= rot(b, 16);
  a ^= c, a -= rot(c, 4), b ^= a, b -= rot(a, 14), c ^= b, c -= rot(b, 24);
  return c;
}

// libhdf5 1.10's H5Fget_file_image clears a version 2/3 superblock's "open for writing" flag in
// the image but keeps the checksum computed with it set, so the image fails its own checksum.
// Recomputes it, after checking that this is exactly the defect (a fixed libhdf5 is left alone).
void repair_superblock_checksum(std::string& image) {
  if (image.size() < 12 || (image[8] != 2 && image[8] != 3)) return;
  const size_t offsets = static_cast<unsigned char>(image[9]);
  const size_t body = 12 + 4 * offsets;
  if (image.size() < body + 4) return;
  auto* bytes = reinterpret_cast<unsigned char*>(image.data());
  uint32_t stored = 0;
  for (size_t j = 0; j < 4; ++j) stored |= static_cast<uint32_t>(bytes[body + j]) << (8 * j);
  if (lookup3(bytes, body) == stored) return;
  std::string written = image.substr(0, body);
  written[11] = 1;  // as it was while the file was open for writing
  if (lookup3(reinterpret_cast<const unsigned char*>(written.data()), body) != stored) {
    throw std::logic_error("HDF5 file image: the superblock checksum matches neither the image nor its open state");
  }
  const uint32_t fixed = lookup3(bytes, body);
  for (size_t j = 0; j < 4; ++j) bytes[body + j] = static_cast<unsigned char>(fixed >> (8 * j));
}

}  // namespace

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
  // Built in memory (HDF5's core driver, no backing store) and written by moesim: libhdf5 never
  // meets a full disk, whose failed closes it reports from destructors and crashes on at exit.
  std::string image;
  try {
    // The latest file format, whose metadata carries checksums (as moesim's traces do).
    H5::FileAccPropList access;
    access.setLibverBounds(H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    H5Pset_fapl_core(access.getId(), size_t{1} << 20, false);
    H5::FileCreatPropList creation;  // the root group without timestamps
    H5Pset_obj_track_times(creation.getId(), false);
    H5::H5File file(temporary.path(), H5F_ACC_TRUNC, creation, access);
    fill(file);
    file.flush(H5F_SCOPE_GLOBAL);
    const ssize_t size = H5Fget_file_image(file.getId(), nullptr, 0);
    if (size < 0) throw H5::FileIException("fill_h5", "cannot take the file's image");
    image.resize(static_cast<size_t>(size));
    if (H5Fget_file_image(file.getId(), image.data(), image.size()) != size)
      throw H5::FileIException("fill_h5", "cannot take the file's image");
  } catch (const H5::Exception& e) {
    throw files::FileError("cannot write '" + temporary.target() + "' (" + e.getDetailMsg() + ")");
  }
  repair_superblock_checksum(image);
  temporary.write(image);
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

void double_attribute(H5::H5Object& o, const char* name, double v) {
  o.createAttribute(name, H5::PredType::NATIVE_DOUBLE, H5::DataSpace()).write(H5::PredType::NATIVE_DOUBLE, &v);
}

}  // namespace moesim::results
