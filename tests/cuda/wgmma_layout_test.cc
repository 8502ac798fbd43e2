#include "cuda/wgmma_layout.h"

#include <gtest/gtest.h>

#include <vector>

namespace moesim::router::wgmma_layout {
namespace {

int field(uint64_t descriptor, int bit, int width) { return static_cast<int>((descriptor >> bit) & ((uint64_t{1} << width) - 1)); }

TEST(WgmmaLayout, StageOffsetsFillTheStageOnce) {
  std::vector<int> seen(kStageElems, 0);
  for (int e = 0; e < kExperts; ++e)
    for (int j = 0; j < kStageDims; ++j) ++seen[stage_offset(e, j)];
  for (int i = 0; i < kStageElems; ++i) ASSERT_EQ(seen[i], 1) << "offset " << i;
}

// The hardware reads B of a k16 step from the canonical K-major layout without swizzle (PTX ISA,
// "matrix descriptor"; CUTLASS's make_gmma_desc<Major::K>, INTERLEAVE: ((8,n),(8,2)) with strides
// ((16 B, SBO), (2 B, LBO))): row n % 8 of a core matrix 16 bytes apart, core matrices along N
// SBO apart, the two along K LBO apart. The descriptor's offsets must find each gate element
// where stage_offset() put it.
TEST(WgmmaLayout, DescriptorFindsEveryElementWhereTheStageHoldsIt) {
  const int leading = field(kDescriptorOffsets, 16, 14) * 16, stride = field(kDescriptorOffsets, 32, 14) * 16;
  EXPECT_EQ(field(kDescriptorOffsets, 0, 14), 0);  // the start address is added per step
  EXPECT_EQ(field(kDescriptorOffsets, 49, 3), 0);  // base offset
  EXPECT_EQ(field(kDescriptorOffsets, 62, 2), 0);  // no swizzle
  for (int q = 0; q < kStageDims / 16; ++q) {
    const int start = q * kStepElems * 2;
    for (int n = 0; n < kExperts; ++n)
      for (int k = 0; k < 16; ++k) {
        const int read = start + (n % 8) * 16 + (n / 8) * stride + (k % 8) * 2 + (k / 8) * leading;
        ASSERT_EQ(read, stage_offset(n, 16 * q + k) * 2) << "step " << q << ", expert " << n << ", k " << k;
      }
  }
}

}  // namespace
}  // namespace moesim::router::wgmma_layout
