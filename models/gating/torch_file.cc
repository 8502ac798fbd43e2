#include "models/gating/torch_file.h"

#include <zip.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "models/gating/pickle_reader.h"
#include "models/gating/trace_h5.h"

namespace moesim::gating {
namespace {

// Bounds on what a file may make this reader hold, whatever it declares.
constexpr uint64_t kMaxPickleBytes = uint64_t{1} << 28;
constexpr int64_t kMaxElements = kMaxTorchElements;

int element_size(TorchDtype d) {
  for (const auto& [name, type] : torch_storage_types())
    if (type.first == d) return type.second;
  return 1;
}

const char* dtype_name(TorchDtype d) {
  switch (d) {
    case TorchDtype::kFloat64: return "float64";
    case TorchDtype::kFloat32: return "float32";
    case TorchDtype::kFloat16: return "float16";
    case TorchDtype::kBFloat16: return "bfloat16";
    case TorchDtype::kInt64: return "int64";
    case TorchDtype::kInt32: return "int32";
    case TorchDtype::kInt16: return "int16";
    case TorchDtype::kInt8: return "int8";
    case TorchDtype::kUInt8: return "uint8";
    case TorchDtype::kBool: return "bool";
  }
  return "?";
}

// The subset of the pickle machine torch.save's pickles use (protocol 2, and 4's framing ops).
double half_to_double(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  if (exponent == 31) return mantissa ? std::nan("") : sign * INFINITY;
  return sign * std::ldexp(mantissa + 1024, exponent - 25);
}

double element(const char* p, TorchDtype d) {
  switch (d) {
    case TorchDtype::kFloat64: {
      double v;
      std::memcpy(&v, p, 8);
      return v;
    }
    case TorchDtype::kFloat32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case TorchDtype::kFloat16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return half_to_double(v);
    }
    case TorchDtype::kBFloat16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      const uint32_t bits = uint32_t{v} << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    case TorchDtype::kInt64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return static_cast<double>(v);
    }
    case TorchDtype::kInt32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case TorchDtype::kInt16: {
      int16_t v;
      std::memcpy(&v, p, 2);
      return v;
    }
    case TorchDtype::kInt8: return static_cast<signed char>(*p);
    case TorchDtype::kUInt8:
    case TorchDtype::kBool: return static_cast<unsigned char>(*p);
  }
  return 0;
}

}  // namespace

int64_t TorchTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d == 0) return 0;
    if (n <= kMaxElements) n *= d;  // dimensions are at most 2^30: no overflow, and past the bound is enough to know
  }
  return n;
}

const TorchValue* TorchValue::find(const std::string& key) const {
  for (const auto& [k, v] : dict)
    if (k->kind == Kind::kString && k->text == key) return v.get();
  return nullptr;
}

std::string TorchValue::describe() const {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "a bool";
    case Kind::kInt: return "the integer " + std::to_string(integer);
    case Kind::kFloat: return "a float";
    case Kind::kString: return "the string '" + text.substr(0, 40) + "'";
    case Kind::kTuple: return "a tuple of " + std::to_string(items.size());
    case Kind::kList: return "a list of " + std::to_string(items.size());
    case Kind::kDict: return "a dict of " + std::to_string(dict.size()) + " keys";
    case Kind::kTensor: {
      std::string s = std::string("a tensor ") + dtype_name(tensor.dtype) + " [";
      for (size_t i = 0; i < tensor.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(tensor.shape[i]);
      return s + "]";
    }
    case Kind::kOpaque: return "an object " + text;
  }
  return "?";
}

TorchFile::TorchFile(const std::string& path) : path_(path) {
  std::error_code ec;
  archive_bytes_ = std::filesystem::file_size(path, ec);
  if (ec) throw TraceError(path, "", "cannot read the file (" + ec.message() + ")");
  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (!z) {
    zip_error_t e;
    zip_error_init_with_code(&e, error);
    const std::string why = zip_error_strerror(&e);
    zip_error_fini(&e);
    throw TraceError(path, "", "not a file torch.save wrote (a zip archive): " + why);
  }
  zip_ = z;
  const zip_int64_t entries = zip_get_num_entries(z, 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    const char* name = zip_get_name(z, static_cast<zip_uint64_t>(i), 0);
    const std::string n = name ? name : "";
    if (n.size() >= 8 && n.compare(n.size() - 8, 8, "data.pkl") == 0 && n.find('/') == n.size() - 9) {
      prefix_ = n.substr(0, n.size() - 8);
      break;
    }
  }
  if (prefix_.empty()) {
    zip_close(z);
    zip_ = nullptr;
    throw TraceError(path, "", "a zip archive without ARCHIVE/data.pkl: not a file torch.save wrote");
  }
  try {
    if (zip_name_locate(z, (prefix_ + "byteorder").c_str(), 0) >= 0 && read_entry("byteorder", 16) != "little")
      throw TraceError(path, "byteorder", "tensors stored big-endian: only little-endian files are read");
    const std::string pickle = read_entry("data.pkl", kMaxPickleBytes);
    root_ = unpickle_torch(path, pickle);
  } catch (...) {
    zip_close(z);
    zip_ = nullptr;
    throw;
  }
}

TorchFile::~TorchFile() {
  if (zip_) zip_close(static_cast<zip_t*>(zip_));
}

std::string TorchFile::read_entry(const std::string& name, uint64_t max_bytes) const {
  auto* z = static_cast<zip_t*>(zip_);
  const std::string full = prefix_ + name;
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(z, full.c_str(), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) throw TraceError(path_, name, "missing from the archive");
  if (st.size > max_bytes) throw TraceError(path_, name, std::to_string(st.size) + " bytes: more than this reader takes");
  // What an entry declares is bounded by the archive's own size before anything is allocated:
  // torch.save stores entries uncompressed, and deflate expands at most 1,032-fold.
  const bool stored = (st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE;
  if (!(st.valid & ZIP_STAT_COMP_SIZE) || st.size > (stored ? archive_bytes_ : st.comp_size * 1032))
    throw TraceError(path_, name, "declares " + std::to_string(st.size) + " bytes, more than the archive holds (a damaged archive?)");
  zip_file_t* f = zip_fopen(z, full.c_str(), 0);
  if (!f) throw TraceError(path_, name, std::string("cannot be read: ") + zip_strerror(z));
  std::string out(st.size, '\0');
  const zip_int64_t got = zip_fread(f, out.data(), st.size);
  zip_fclose(f);
  if (got < 0 || static_cast<zip_uint64_t>(got) != st.size) throw TraceError(path_, name, "cannot be read whole (a damaged archive?)");
  return out;
}

std::vector<double> TorchFile::values(const TorchTensor& t) const {
  const int size = element_size(t.dtype);
  const std::string data = read_entry("data/" + t.storage, static_cast<uint64_t>(t.storage_numel) * static_cast<uint64_t>(size));
  if (static_cast<int64_t>(data.size()) < t.storage_numel * size)
    throw TraceError(path_, "data/" + t.storage,
                     std::to_string(data.size()) + " bytes, short of its " + std::to_string(t.storage_numel) + " elements");
  std::vector<double> out;
  out.reserve(static_cast<size_t>(t.numel()));
  if (t.numel() == 0) return out;
  std::vector<int64_t> index(t.shape.size(), 0);
  while (true) {
    int64_t at = t.offset;
    for (size_t d = 0; d < index.size(); ++d) at += index[d] * t.stride[d];
    out.push_back(element(data.data() + at * size, t.dtype));
    size_t d = index.size();
    while (d > 0 && ++index[d - 1] == t.shape[d - 1]) index[--d] = 0;
    if (d == 0) break;
  }
  return out;
}

}  // namespace moesim::gating
