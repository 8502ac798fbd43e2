// The subset of Python's pickle that torch.save writes (protocol 2, and protocol 4's framing),
// read into TorchValue trees (torch_file.h): plain values, containers, tensor storages and tensors
// rebuilt by torch._utils._rebuild_tensor_v2. Nothing is executed; any other global reads as an
// opaque value. Bounded whatever the bytes declare.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "models/gating/torch_file.h"

namespace moesim::gating {

// The largest tensor (or storage) this reader accepts, in elements.
inline constexpr int64_t kMaxTorchElements = int64_t{1} << 30;

// torch.<Type>Storage: its dtype and bytes per element.
const std::map<std::string, std::pair<TorchDtype, int>>& torch_storage_types();

// The object pickled in `bytes` (`path` names the file in errors). Throws TraceError.
std::shared_ptr<TorchValue> unpickle_torch(const std::string& path, const std::string& bytes);

}  // namespace moesim::gating
