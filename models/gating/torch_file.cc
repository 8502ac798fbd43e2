#include "models/gating/torch_file.h"

#include <zip.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "models/gating/trace_h5.h"

namespace moesim::gating {
namespace {

// Bounds on what a file may make this reader hold, whatever it declares.
constexpr uint64_t kMaxPickleBytes = uint64_t{1} << 28;
constexpr size_t kMaxStack = size_t{1} << 22;
constexpr int64_t kMaxElements = int64_t{1} << 30;

using Value = std::shared_ptr<TorchValue>;

Value make(TorchValue::Kind kind) {
  auto v = std::make_shared<TorchValue>();
  v->kind = kind;
  return v;
}

const std::map<std::string, std::pair<TorchDtype, int>>& storage_types() {
  static const std::map<std::string, std::pair<TorchDtype, int>> types = {
      {"torch.DoubleStorage", {TorchDtype::kFloat64, 8}}, {"torch.FloatStorage", {TorchDtype::kFloat32, 4}},
      {"torch.HalfStorage", {TorchDtype::kFloat16, 2}},   {"torch.BFloat16Storage", {TorchDtype::kBFloat16, 2}},
      {"torch.LongStorage", {TorchDtype::kInt64, 8}},     {"torch.IntStorage", {TorchDtype::kInt32, 4}},
      {"torch.ShortStorage", {TorchDtype::kInt16, 2}},    {"torch.CharStorage", {TorchDtype::kInt8, 1}},
      {"torch.ByteStorage", {TorchDtype::kUInt8, 1}},     {"torch.BoolStorage", {TorchDtype::kBool, 1}},
  };
  return types;
}

int element_size(TorchDtype d) {
  for (const auto& [name, type] : storage_types())
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
class Unpickler {
 public:
  Unpickler(const std::string& path, const std::string& bytes) : path_(path), b_(bytes) {}

  Value run() {
    while (true) {
      if (at_ >= b_.size()) fail("ends before its STOP");
      const size_t op_at = at_;
      const auto op = static_cast<unsigned char>(b_[at_++]);
      switch (op) {
        case 0x80: take(1); break;                              // PROTO
        case 0x95: take(8); break;                              // FRAME
        case '.': return pop();                                 // STOP
        case '}': push(make(TorchValue::Kind::kDict)); break;   // EMPTY_DICT
        case ']': push(make(TorchValue::Kind::kList)); break;   // EMPTY_LIST
        case ')': push(make(TorchValue::Kind::kTuple)); break;  // EMPTY_TUPLE
        case 'N': push(make(TorchValue::Kind::kNone)); break;
        case 0x88:
        case 0x89: {  // NEWTRUE, NEWFALSE
          auto v = make(TorchValue::Kind::kBool);
          v->integer = op == 0x88;
          push(v);
          break;
        }
        case 'K': push_int(static_cast<unsigned char>(take(1)[0])); break;  // BININT1
        case 'M': push_int(little(take(2), false)); break;                  // BININT2
        case 'J': push_int(little(take(4), true)); break;                   // BININT
        case 0x8a: {                                                        // LONG1
          const int n = static_cast<unsigned char>(take(1)[0]);
          if (n > 8) fail("an integer of " + std::to_string(n) + " bytes");
          push_int(n == 0 ? 0 : little(take(n), true));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian
          const std::string raw = take(8);
          uint64_t bits = 0;
          for (char c : raw) bits = bits << 8 | static_cast<unsigned char>(c);
          auto v = make(TorchValue::Kind::kFloat);
          std::memcpy(&v->real, &bits, 8);
          push(v);
          break;
        }
        case 'X': push_string(take(static_cast<size_t>(little(take(4), false)))); break;  // BINUNICODE
        case 0x8c: push_string(take(static_cast<unsigned char>(take(1)[0]))); break;      // SHORT_BINUNICODE
        case 'B': push_string(take(static_cast<size_t>(little(take(4), false)))); break;  // BINBYTES
        case 'C': push_string(take(static_cast<unsigned char>(take(1)[0]))); break;       // SHORT_BINBYTES
        case 'c': {                                                                       // GLOBAL
          const std::string module = line(), name = line();
          push_global(module + "." + name);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          const Value name = pop(), module = pop();
          push_global(module->text + "." + name->text);
          break;
        }
        case 'q': memo(static_cast<unsigned char>(take(1)[0])); break;           // BINPUT
        case 'r': memo(static_cast<uint32_t>(little(take(4), false))); break;    // LONG_BINPUT
        case 0x94: memo(static_cast<uint32_t>(memo_.size())); break;             // MEMOIZE
        case 'h': recall(static_cast<unsigned char>(take(1)[0])); break;         // BINGET
        case 'j': recall(static_cast<uint32_t>(little(take(4), false))); break;  // LONG_BINGET
        case '(': marks_.push_back(stack_.size()); break;                        // MARK
        case 't': push_tuple(pop_mark()); break;                                 // TUPLE
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const size_t n = op - 0x84u;
          if (stack_.size() < n) fail("a tuple of more values than the stack holds");
          std::vector<Value> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push_tuple(std::move(items));
          break;
        }
        case 'a': {  // APPEND
          const Value v = pop();
          top(TorchValue::Kind::kList)->items.push_back(v);
          break;
        }
        case 'e': {  // APPENDS
          auto items = pop_mark();
          auto& list = top(TorchValue::Kind::kList)->items;
          list.insert(list.end(), items.begin(), items.end());
          break;
        }
        case 's': {  // SETITEM
          const Value v = pop(), k = pop();
          top(TorchValue::Kind::kDict)->dict.emplace_back(k, v);
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          if (items.size() % 2) fail("SETITEMS with an odd number of values");
          auto& dict = top(TorchValue::Kind::kDict)->dict;
          for (size_t i = 0; i < items.size(); i += 2) dict.emplace_back(items[i], items[i + 1]);
          break;
        }
        case 'Q': persistent(pop()); break;  // BINPERSID
        case 'R': {                          // REDUCE
          const Value args = pop(), callable = pop();
          push(reduce(*callable, *args));
          break;
        }
        case 0x81: {  // NEWOBJ
          const Value args = pop(), cls = pop();
          auto v = make(TorchValue::Kind::kOpaque);
          v->text = cls->text;
          push(v);
          break;
        }
        case 'b': pop(); break;  // BUILD: the state of an object read as opaque
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          at_ = op_at;
          fail(std::string("pickle opcode ") + hex + " is not one torch.save writes");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw TraceError(path_, "data.pkl", "byte " + std::to_string(at_) + ": " + what + " (not a file torch.save wrote?)");
  }
  std::string take(size_t n) {
    if (n > b_.size() - at_) fail("ends inside a value");
    std::string s = b_.substr(at_, n);
    at_ += n;
    return s;
  }
  std::string line() {
    const size_t end = b_.find('\n', at_);
    if (end == std::string::npos || end - at_ > 256) fail("a global name without its end");
    std::string s = b_.substr(at_, end - at_);
    at_ = end + 1;
    return s;
  }
  static int64_t little(const std::string& raw, bool is_signed) {
    uint64_t v = 0;
    for (size_t i = raw.size(); i-- > 0;) v = v << 8 | static_cast<unsigned char>(raw[i]);
    if (is_signed && raw.size() < 8 && (static_cast<unsigned char>(raw.back()) & 0x80)) v |= ~uint64_t{0} << (8 * raw.size());
    return static_cast<int64_t>(v);
  }
  void push(Value v) {
    if (stack_.size() >= kMaxStack) fail("more than 2^22 values at once");
    stack_.push_back(std::move(v));
  }
  Value pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("a value taken from an empty stack");
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  std::vector<Value> pop_mark() {
    if (marks_.empty()) fail("a MARK-ed sequence with no MARK");
    std::vector<Value> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  TorchValue* top(TorchValue::Kind kind) {
    if (stack_.empty() || stack_.back()->kind != kind) fail("adds to something that is not a list or dict");
    return stack_.back().get();
  }
  void push_int(int64_t i) {
    auto v = make(TorchValue::Kind::kInt);
    v->integer = i;
    push(v);
  }
  void push_string(std::string s) {
    auto v = make(TorchValue::Kind::kString);
    v->text = std::move(s);
    push(v);
  }
  void push_global(const std::string& name) {
    auto v = make(TorchValue::Kind::kOpaque);
    v->text = name;
    push(v);
  }
  void push_tuple(std::vector<Value> items) {
    auto v = make(TorchValue::Kind::kTuple);
    v->items = std::move(items);
    push(v);
  }
  void memo(uint32_t key) {
    if (stack_.empty()) fail("memoizes an empty stack");
    if (memo_.size() >= kMaxStack) fail("more than 2^22 memoized values");
    memo_[key] = stack_.back();
  }
  void recall(uint32_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail("recalls memo " + std::to_string(key) + ", never stored");
    push(it->second);
  }
  // ('storage', torch.XStorage, key, location, numel): a storage, kept as a tensor without shape.
  void persistent(const Value& id) {
    const auto& f = id->items;
    if (id->kind != TorchValue::Kind::kTuple || f.size() < 5 || f[0]->text != "storage" || f[2]->kind != TorchValue::Kind::kString ||
        f[4]->kind != TorchValue::Kind::kInt)
      fail("a persistent id that is not a tensor storage");
    const auto type = storage_types().find(f[1]->text);
    if (type == storage_types().end()) fail("a storage of type " + f[1]->text + ", not one this reader knows");
    auto v = make(TorchValue::Kind::kOpaque);
    v->text = "storage";
    v->tensor.dtype = type->second.first;
    v->tensor.storage = f[2]->text;
    v->tensor.storage_numel = f[4]->integer;
    if (v->tensor.storage_numel < 0 || v->tensor.storage_numel > kMaxElements)
      fail("a storage of " + std::to_string(v->tensor.storage_numel) + " elements");
    push(v);
  }
  std::vector<int64_t> ints(const TorchValue& tuple) {
    if (tuple.kind != TorchValue::Kind::kTuple || tuple.items.size() > 16) fail("a tensor shape that is not a tuple of up to 16 integers");
    std::vector<int64_t> out;
    for (const auto& i : tuple.items) {
      if (i->kind != TorchValue::Kind::kInt || i->integer < 0 || i->integer > kMaxElements) fail("a tensor dimension out of range");
      out.push_back(i->integer);
    }
    return out;
  }
  Value reduce(const TorchValue& callable, const TorchValue& args) {
    if (callable.text == "torch._utils._rebuild_tensor_v2" || callable.text == "torch._utils._rebuild_tensor") {
      if (args.kind != TorchValue::Kind::kTuple || args.items.size() < 4 || args.items[0]->text != "storage" ||
          args.items[1]->kind != TorchValue::Kind::kInt)
        fail("a tensor rebuilt from something that is not a storage");
      auto v = make(TorchValue::Kind::kTensor);
      v->tensor = args.items[0]->tensor;
      v->tensor.offset = args.items[1]->integer;
      v->tensor.shape = ints(*args.items[2]);
      v->tensor.stride = ints(*args.items[3]);
      const TorchTensor& t = v->tensor;
      if (t.shape.size() != t.stride.size()) fail("a tensor whose shape and strides differ in length");
      int64_t last = t.offset;
      for (size_t d = 0; d < t.shape.size(); ++d) {
        if (t.shape[d] == 0) last = -1;
        if (last >= 0) last += (t.shape[d] - 1) * t.stride[d];
        if (last > kMaxElements) fail("a tensor reaching past 2^30 elements");
      }
      if (t.offset < 0 || last >= t.storage_numel) fail("a tensor reaching past its storage");
      if (t.numel() > kMaxElements) fail("a tensor of more than 2^30 elements");
      return v;
    }
    if (callable.text == "torch._utils._rebuild_parameter" && args.kind == TorchValue::Kind::kTuple && !args.items.empty())
      return args.items[0];
    if (callable.text == "collections.OrderedDict") return make(TorchValue::Kind::kDict);
    auto v = make(TorchValue::Kind::kOpaque);
    v->text = callable.text;
    return v;
  }

  const std::string& path_;
  const std::string& b_;
  size_t at_ = 0;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Value> memo_;
};

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
    root_ = Unpickler(path, pickle).run();
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
