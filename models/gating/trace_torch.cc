#include "models/gating/trace_torch.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numeric>

#include "models/gating/logged_files.h"
#include "models/gating/torch_file.h"
#include "models/gating/trace_h5.h"

namespace moesim::gating {
namespace {

bool is_integer(TorchDtype d) {
  return d != TorchDtype::kFloat64 && d != TorchDtype::kFloat32 && d != TorchDtype::kFloat16 && d != TorchDtype::kBFloat16;
}

// An SGLang dump's logical_count, [passes][layers][experts].
struct Dump {
  std::vector<int64_t> shape;
  std::vector<double> counts;
};

Dump read_dump(const std::string& path) {
  const TorchFile file(path);
  const TorchValue& root = file.root();
  const TorchValue* count = root.kind == TorchValue::Kind::kDict ? root.find("logical_count") : nullptr;
  if (!count) {
    const bool detail = root.kind == TorchValue::Kind::kDict && root.find("records");
    throw TraceError(path, "data.pkl",
                     detail ? "a per_token dump: record with --expert-distribution-recorder-mode stat"
                            : "expected SGLang's stat dump, a dict with logical_count, got " + root.describe());
  }
  if (count->kind != TorchValue::Kind::kTensor || count->tensor.shape.size() != 3 || !is_integer(count->tensor.dtype))
    throw TraceError(path, "logical_count", "expected an integer tensor [forward passes, layers, experts], got " + count->describe());
  return {count->tensor.shape, file.values(count->tensor)};
}

}  // namespace

ImportedCounts read_sglang_dumps(const std::vector<std::string>& paths) {
  std::vector<Dump> dumps;
  for (const std::string& p : paths) {
    dumps.push_back(read_dump(p));
    if (dumps.back().shape[1] != dumps.front().shape[1] || dumps.back().shape[2] != dumps.front().shape[2])
      throw TraceError(p, "logical_count", "layers and experts differ from " + paths.front() + "'s");
  }
  const int64_t layers = dumps.front().shape[1], experts = dumps.front().shape[2];
  if (layers == 0 || experts == 0) throw TraceError(paths.front(), "logical_count", "no layers or experts");
  // MoE layers: those routed in some pass; records: passes with counts.
  std::vector<bool> routed(static_cast<size_t>(layers), false);
  std::vector<std::pair<size_t, int64_t>> passes;  // (dump, pass)
  for (size_t d = 0; d < dumps.size(); ++d) {
    for (int64_t p = 0; p < dumps[d].shape[0]; ++p) {
      bool any = false;
      for (int64_t l = 0; l < layers; ++l)
        for (int64_t e = 0; e < experts; ++e) {
          const double v = dumps[d].counts[static_cast<size_t>((p * layers + l) * experts + e)];
          if (v < 0 || v > INT32_MAX)
            throw TraceError(paths[d], "logical_count",
                             "pass " + std::to_string(p) + ", layer " + std::to_string(l) + ": a count of " + std::to_string(v));
          if (v > 0) any = true, routed[static_cast<size_t>(l)] = true;
        }
      if (any) passes.emplace_back(d, p);
    }
  }
  if (passes.empty()) throw TraceError(paths.front(), "logical_count", "all zeros: nothing was recorded");
  std::vector<int64_t> moe;
  for (int64_t l = 0; l < layers; ++l)
    if (routed[static_cast<size_t>(l)]) moe.push_back(l);
  if (static_cast<double>(passes.size()) * static_cast<double>(moe.size()) * static_cast<double>(experts) > kMaxImportedCounts)
    throw TraceError(paths.front(), "logical_count", "more than 2^26 counts: import fewer dumps at a time");

  ImportedCounts out;
  out.source = paths.front();
  out.generator = "imported from " + std::to_string(paths.size()) + " SGLang expert distribution dump" + (paths.size() > 1 ? "s" : "") +
                  " (stat mode, forward passes as records; layers " + std::to_string(moe.front()) + ".." + std::to_string(moe.back()) +
                  " of " + std::to_string(layers) + " routed)";
  out.resize(static_cast<int>(passes.size()), static_cast<int>(moe.size()), 0, static_cast<int>(experts));
  for (size_t r = 0; r < passes.size(); ++r) {
    out.steps.push_back(static_cast<int64_t>(r));
    const auto& [d, p] = passes[r];
    for (size_t l = 0; l < moe.size(); ++l)
      for (int64_t e = 0; e < experts; ++e)
        out.at(static_cast<int>(r), static_cast<int>(l), 0, static_cast<int>(e)) =
            static_cast<int64_t>(dumps[d].counts[static_cast<size_t>((p * layers + moe[l]) * experts + e)]);
  }
  auto where = std::make_shared<std::vector<std::string>>();
  for (const auto& [d, p] : passes)
    where->push_back(std::filesystem::path(paths[d]).filename().string() + ": forward pass " + std::to_string(p));
  auto layer_of = std::make_shared<std::vector<int64_t>>(moe);
  out.locate = [where, layer_of](int record, int layer, int) { return (*where)[record] + ", layer " + std::to_string((*layer_of)[layer]); };
  return out;
}

ImportedCounts read_router_logits(const std::vector<std::string>& inputs, const std::string& pattern, int top_k) {
  if (top_k < 1)
    throw TraceError(inputs.empty() ? "" : inputs.front(), "--top-k", "router logits need --top-k: the experts each token takes");
  const LoggedFiles logged = find_logged_files(inputs, pattern, false);
  ImportedCounts out;
  out.source = inputs.size() == 1 ? inputs.front() : logged.files.front().path;
  out.generator = "imported from " + std::to_string(logged.files.size()) + " files of Hugging Face router logits (" + pattern + "), top-" +
                  std::to_string(top_k) + " of each token's logits";
  out.steps = logged.steps;
  std::vector<int> order;
  for (size_t i = 0; i < logged.files.size(); ++i) {
    const std::string& path = logged.files[i].path;
    const TorchFile file(path);
    const TorchValue* root = &file.root();
    if (root->kind == TorchValue::Kind::kDict && root->find("router_logits")) root = root->find("router_logits");
    if ((root->kind != TorchValue::Kind::kTuple && root->kind != TorchValue::Kind::kList) || root->items.empty())
      throw TraceError(path, "data.pkl", "expected a tuple of router logits, one tensor per MoE layer, got " + root->describe());
    const int layers = static_cast<int>(root->items.size());
    for (int l = 0; l < layers; ++l) {
      const TorchValue& v = *root->items[static_cast<size_t>(l)];
      if (v.kind != TorchValue::Kind::kTensor || v.tensor.shape.size() < 2 || v.tensor.shape.size() > 3 || is_integer(v.tensor.dtype))
        throw TraceError(path, "router_logits[" + std::to_string(l) + "]",
                         "expected a float tensor [tokens, experts], got " + v.describe());
      const int experts = static_cast<int>(v.tensor.shape.back());
      if (i == 0 && l == 0) {
        if (top_k > experts)
          throw TraceError(path, "--top-k", "top-" + std::to_string(top_k) + " of " + std::to_string(experts) + " experts");
        if (static_cast<double>(logged.files.size()) * layers * experts > kMaxImportedCounts)
          throw TraceError(path, "", "more than 2^26 counts: import fewer steps at a time");
        out.resize(static_cast<int>(logged.steps.size()), layers, logged.per_rank ? logged.ranks : 0, experts);
      } else if (experts != out.experts || layers != out.layers) {
        throw TraceError(path, "router_logits[" + std::to_string(l) + "]",
                         std::to_string(layers) + " layers of " + std::to_string(experts) + " experts where " + logged.files.front().path +
                             " has " + std::to_string(out.layers) + " of " + std::to_string(out.experts));
      }
      const std::vector<double> logits = file.values(v.tensor);
      order.resize(static_cast<size_t>(experts));
      const int record = static_cast<int>(i) / logged.ranks, rank = logged.files[i].rank;
      for (size_t row = 0; row < logits.size(); row += static_cast<size_t>(experts)) {
        std::iota(order.begin(), order.end(), 0);
        const double* x = logits.data() + row;
        for (int e = 0; e < experts; ++e)
          if (!std::isfinite(x[e]))
            throw TraceError(path, "router_logits[" + std::to_string(l) + "]",
                             "token " + std::to_string(row / experts) + ": a logit that is not finite");
        std::partial_sort(order.begin(), order.begin() + top_k, order.end(),
                          [x](int a, int b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
        for (int k = 0; k < top_k; ++k) ++out.at(record, l, rank, order[static_cast<size_t>(k)]);
      }
    }
  }
  auto names = std::make_shared<std::vector<std::string>>();
  for (const LoggedFile& f : logged.files) names->push_back(std::filesystem::path(f.path).filename().string());
  out.locate = [names, ranks = logged.ranks](int record, int layer, int rank) {
    return (*names)[static_cast<size_t>(record) * ranks + rank] + ": router_logits[" + std::to_string(layer) + "]";
  };
  return out;
}

}  // namespace moesim::gating
