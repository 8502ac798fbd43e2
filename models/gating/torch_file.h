// PyTorch's own file format (torch.save since PyTorch 1.6): a zip archive holding a pickle of the
// saved object (`*/data.pkl`) and each tensor storage's raw bytes (`*/data/KEY`). Read here without
// PyTorch, for the routing dumps that PyTorch programs write (SGLang's expert distribution
// recorder, Hugging Face router logits): the pickle's plain values (None, bools, integers, floats,
// strings, tuples, lists, dicts) and tensors (`torch._utils._rebuild_tensor_v2` on a storage of
// one of the dtypes below; the pickle is read by pickle_reader.h); anything else in the pickle
// reads as an opaque value. Nothing in the file is executed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace moesim::gating {

enum class TorchDtype { kFloat64, kFloat32, kFloat16, kBFloat16, kInt64, kInt32, kInt16, kInt8, kUInt8, kBool };

struct TorchTensor {
  TorchDtype dtype = TorchDtype::kFloat32;
  std::string storage;  // key of its storage in the archive
  int64_t storage_numel = 0;
  int64_t offset = 0;
  std::vector<int64_t> shape, stride;
  int64_t numel() const;
};

struct TorchValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kTensor, kOpaque };
  Kind kind = Kind::kNone;
  int64_t integer = 0;                             // kBool, kInt
  double real = 0;                                 // kFloat
  std::string text;                                // kString; for kOpaque, what it was (a global's name)
  std::vector<std::shared_ptr<TorchValue>> items;  // kTuple, kList
  std::vector<std::pair<std::shared_ptr<TorchValue>, std::shared_ptr<TorchValue>>> dict;  // kDict
  TorchTensor tensor;                                                                     // kTensor

  // The dict's value under string key `key`, or null.
  const TorchValue* find(const std::string& key) const;
  std::string describe() const;  // "a tuple of 16", "a tensor int32 [3, 61, 256]", ...
};

// An opened .pt file. Throws TraceError(path, entry, message) for anything it cannot read.
class TorchFile {
 public:
  explicit TorchFile(const std::string& path);
  ~TorchFile();
  TorchFile(const TorchFile&) = delete;
  TorchFile& operator=(const TorchFile&) = delete;

  const TorchValue& root() const { return *root_; }
  // The tensor's elements in row-major order of its shape, as doubles (integers exactly up to 2^53).
  std::vector<double> values(const TorchTensor& tensor) const;

 private:
  std::string read_entry(const std::string& name, uint64_t max_bytes) const;

  std::string path_, prefix_;
  uint64_t archive_bytes_ = 0;
  void* zip_ = nullptr;
  std::shared_ptr<TorchValue> root_;
};

}  // namespace moesim::gating
