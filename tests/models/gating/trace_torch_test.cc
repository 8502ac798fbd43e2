// PyTorch .pt routing dumps: SGLang's stat dump and Hugging Face router logits, from fixtures in
// torch.save's layout (torch_fixtures/make_fixtures.py says how they are made), with counts
// worked out by hand; damaged files are one-line TraceErrors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "models/gating/torch_file.h"
#include "models/gating/trace_h5.h"
#include "models/gating/trace_import.h"
#include "models/gating/trace_torch.h"

namespace moesim::gating {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return std::string(MOESIM_SOURCE_DIR) + "/tests/models/gating/torch_fixtures/" + name; }

std::vector<int64_t> row(const ImportedCounts& c, int record, int layer, int rank = 0) {
  std::vector<int64_t> out;
  for (int e = 0; e < c.experts; ++e) out.push_back(c.at(record, layer, rank, e));
  return out;
}

TEST(TorchFile, ReadsTensorsOfADictInTorchSavesLayout) {
  const TorchFile file(fixture("expert_distribution_recorder_1764547200.5.pt"));
  const TorchValue& root = file.root();
  ASSERT_EQ(root.kind, TorchValue::Kind::kDict);
  ASSERT_NE(root.find("rank"), nullptr);
  EXPECT_EQ(root.find("rank")->integer, 0);
  EXPECT_EQ(root.find("average_utilization_rate_over_window")->kind, TorchValue::Kind::kNone);
  const TorchValue* count = root.find("logical_count");
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->describe(), "a tensor int32 [6, 4, 4]");
  const std::vector<double> v = file.values(count->tensor);
  ASSERT_EQ(v.size(), 96u);
  EXPECT_EQ(std::vector<double>(v.begin() + 4, v.begin() + 8), (std::vector<double>{5, 1, 2, 0}));  // pass 0, layer 1
}

TEST(TorchFile, ReadsViewsThroughTheirStrides) {
  const TorchFile file(fixture("router_logits_step100.pt"));
  ASSERT_EQ(file.root().kind, TorchValue::Kind::kTuple);
  const TorchTensor& t = file.root().items.at(1)->tensor;
  EXPECT_EQ(t.dtype, TorchDtype::kBFloat16);
  EXPECT_EQ(t.stride, (std::vector<int64_t>{1, 3}));
  // Token 0's logits of the transposed [expert][token] storage.
  const std::vector<double> v = file.values(t);
  EXPECT_EQ(std::vector<double>(v.begin(), v.begin() + 4), (std::vector<double>{0, 7, 6, -2}));
}

TEST(TraceTorch, SglangDropsDenseLayersAndEmptyPasses) {
  const ImportedCounts c = read_sglang_dumps({fixture("expert_distribution_recorder_1764547200.5.pt")});
  EXPECT_EQ(c.steps, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(c.layers, 3);
  EXPECT_EQ(c.ranks, 0);
  EXPECT_EQ(row(c, 0, 0), (std::vector<int64_t>{5, 1, 2, 0}));
  EXPECT_EQ(row(c, 3, 2), (std::vector<int64_t>{6, 0, 1, 1}));
  EXPECT_NE(c.generator.find("layers 1..3 of 4 routed"), std::string::npos) << c.generator;
  EXPECT_EQ(c.locate(1, 0, 0), "expert_distribution_recorder_1764547200.5.pt: forward pass 1, layer 1");
}

TEST(TraceTorch, RouterLogitsCountEachTokensTopK) {
  const ImportedCounts c =
      read_router_logits({fixture("router_logits_step100.pt"), fixture("router_logits_step110.pt")}, kDefaultRouterLogitsPattern, 2);
  EXPECT_EQ(c.steps, (std::vector<int64_t>{100, 110}));
  EXPECT_EQ(c.ranks, 0);
  EXPECT_EQ(row(c, 0, 0), (std::vector<int64_t>{2, 3, 1, 0}));  // ties go to the lower expert
  EXPECT_EQ(row(c, 0, 1), (std::vector<int64_t>{1, 2, 2, 1}));
  EXPECT_EQ(row(c, 1, 0), (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_EQ(row(c, 1, 1), (std::vector<int64_t>{1, 2, 2, 1}));
  const fs::path out = fs::temp_directory_path() / ("moesim-torch-" + std::to_string(::getpid()) + ".h5");
  write_imported_trace(c, ImportOptions{2, 3, 0, ""}, out.string());
  const TraceReader reader(out.string());
  EXPECT_EQ(reader.info().stride, 10);
  EXPECT_EQ(reader.info().first_step, 100);
  fs::remove(out);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const TraceError& e) {
    return e.what();
  }
  return "no error";
}

TEST(TraceTorch, BadDumpsAreOneLineErrors) {
  EXPECT_NE(error_of([] { read_sglang_dumps({fixture("expert_distribution_recorder_detail.pt")}); }).find("a per_token dump"),
            std::string::npos);
  EXPECT_NE(error_of([] { read_sglang_dumps({fixture("router_logits_step100.pt")}); }).find("expected SGLang's stat dump"),
            std::string::npos);
  EXPECT_NE(
      error_of([] { read_router_logits({fixture("router_logits_step100.pt")}, kDefaultRouterLogitsPattern, 0); }).find("need --top-k"),
      std::string::npos);
  EXPECT_NE(error_of([] { read_router_logits({fixture("router_logits_step100.pt")}, kDefaultRouterLogitsPattern, 5); }).find("top-5 of 4"),
            std::string::npos);
  // Every prefix of a good file, and a flipped byte in every third position, are errors
  // (or, for a flip inside a value, a file that still reads): never a crash.
  const std::string good = fixture("router_logits_step100.pt");
  std::ifstream in(good, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const fs::path bad = fs::temp_directory_path() / ("moesim-torch-bad-" + std::to_string(::getpid())) / "router_logits_step1.pt";
  fs::create_directories(bad.parent_path());
  for (size_t n = 0; n < bytes.size(); n += 7) {
    std::ofstream(bad, std::ios::binary) << bytes.substr(0, n);
    const std::string e = error_of([&] { read_router_logits({bad.string()}, kDefaultRouterLogitsPattern, 2); });
    EXPECT_NE(e, "no error") << n;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  for (size_t at = 0; at < bytes.size(); at += 3) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x5a);
    std::ofstream(bad, std::ios::binary) << flipped;
    const std::string e = error_of([&] { read_router_logits({bad.string()}, kDefaultRouterLogitsPattern, 2); });
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  fs::remove_all(bad.parent_path());
}

}  // namespace
}  // namespace moesim::gating
