#include "models/gating/pickle_reader.h"

#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "models/gating/trace_h5.h"

namespace moesim::gating {

const std::map<std::string, std::pair<TorchDtype, int>>& torch_storage_types() {
  static const std::map<std::string, std::pair<TorchDtype, int>> types = {
      {"torch.DoubleStorage", {TorchDtype::kFloat64, 8}}, {"torch.FloatStorage", {TorchDtype::kFloat32, 4}},
      {"torch.HalfStorage", {TorchDtype::kFloat16, 2}},   {"torch.BFloat16Storage", {TorchDtype::kBFloat16, 2}},
      {"torch.LongStorage", {TorchDtype::kInt64, 8}},     {"torch.IntStorage", {TorchDtype::kInt32, 4}},
      {"torch.ShortStorage", {TorchDtype::kInt16, 2}},    {"torch.CharStorage", {TorchDtype::kInt8, 1}},
      {"torch.ByteStorage", {TorchDtype::kUInt8, 1}},     {"torch.BoolStorage", {TorchDtype::kBool, 1}},
  };
  return types;
}

namespace {

constexpr size_t kMaxStack = size_t{1} << 22;

using Value = std::shared_ptr<TorchValue>;

Value make(TorchValue::Kind kind) {
  auto v = std::make_shared<TorchValue>();
  v->kind = kind;
  return v;
}

class Unpickler {
 public:
  Unpickler(const std::string& path, const std::string& bytes) : path_(path), b_(bytes) {}

  Value run() {
    while (true) {
      if (at_ >= b_.size()) fail("ends before its STOP");
      const size_t op_at = at_;
      const auto op = static_cast<unsigned char>(b_[at_++]);
      if (op == '.') return pop();  // STOP
      if (value_op(op) || memo_op(op) || container_op(op) || object_op(op)) continue;
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op);
      at_ = op_at;
      fail(std::string("pickle opcode ") + hex + " is not one torch.save writes");
    }
  }

 private:
  // Opcodes that push a plain value (and the framing ones); false if `op` is not one of them.
  bool value_op(unsigned char op) {
    switch (op) {
      case 0x80: take(1); break;                              // PROTO
      case 0x95: take(8); break;                              // FRAME
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
      default: return false;
    }
    return true;
  }

  // The memo's opcodes; false if `op` is not one of them.
  bool memo_op(unsigned char op) {
    switch (op) {
      case 'q': memo(static_cast<unsigned char>(take(1)[0])); break;           // BINPUT
      case 'r': memo(static_cast<uint32_t>(little(take(4), false))); break;    // LONG_BINPUT
      case 0x94: memo(static_cast<uint32_t>(memo_.size())); break;             // MEMOIZE
      case 'h': recall(static_cast<unsigned char>(take(1)[0])); break;         // BINGET
      case 'j': recall(static_cast<uint32_t>(little(take(4), false))); break;  // LONG_BINGET
      default: return false;
    }
    return true;
  }

  // Tuples, lists and dicts; false if `op` is not one of them.
  bool container_op(unsigned char op) {
    switch (op) {
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case 't': push_tuple(pop_mark()); break;           // TUPLE
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
      default: return false;
    }
    return true;
  }

  // Storages, tensors and other objects; false if `op` is not one of them.
  bool object_op(unsigned char op) {
    switch (op) {
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
      default: return false;
    }
    return true;
  }

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
    const auto type = torch_storage_types().find(f[1]->text);
    if (type == torch_storage_types().end()) fail("a storage of type " + f[1]->text + ", not one this reader knows");
    auto v = make(TorchValue::Kind::kOpaque);
    v->text = "storage";
    v->tensor.dtype = type->second.first;
    v->tensor.storage = f[2]->text;
    v->tensor.storage_numel = f[4]->integer;
    if (v->tensor.storage_numel < 0 || v->tensor.storage_numel > kMaxTorchElements)
      fail("a storage of " + std::to_string(v->tensor.storage_numel) + " elements");
    push(v);
  }
  std::vector<int64_t> ints(const TorchValue& tuple) {
    if (tuple.kind != TorchValue::Kind::kTuple || tuple.items.size() > 16) fail("a tensor shape that is not a tuple of up to 16 integers");
    std::vector<int64_t> out;
    for (const auto& i : tuple.items) {
      if (i->kind != TorchValue::Kind::kInt || i->integer < 0 || i->integer > kMaxTorchElements) fail("a tensor dimension out of range");
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
        if (last > kMaxTorchElements) fail("a tensor reaching past 2^30 elements");
      }
      if (t.offset < 0 || last >= t.storage_numel) fail("a tensor reaching past its storage");
      if (t.numel() > kMaxTorchElements) fail("a tensor of more than 2^30 elements");
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

}  // namespace

std::shared_ptr<TorchValue> unpickle_torch(const std::string& path, const std::string& bytes) { return Unpickler(path, bytes).run(); }

}  // namespace moesim::gating
