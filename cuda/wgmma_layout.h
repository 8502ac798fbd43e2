// Where the wgmma kernel (router_wgmma.cu) keeps the gate in shared memory, and how its matrix
// descriptor describes that: host and device code, so that a host test can check the two against
// each other (tests/cuda/wgmma_layout_test.cc).
//
// A stage holds 64 dimensions of the gate for 128 experts in the K-major layout without swizzle
// (the canonical "interleave" layout): 8 experts × 8 dimensions make a core matrix of 128
// contiguous bytes, one expert's 16 bytes per row. Core matrices are ordered [dimension group
// kb = j / 8][expert group], so element (e, j) sits at (kb · 128 + e) · 8 + j % 8. The k16 step q
// covers kb = 2q and 2q + 1; its descriptor starts at kb = 2q, the next core matrix along K
// (leading byte offset) is 128 experts × 16 bytes away, the next along N (stride byte offset)
// 128 bytes away.
#pragma once

#include <cstdint>

#include "cuda/host_device.h"

namespace moesim::router::wgmma_layout {

constexpr int kExperts = 128;   // wgmma N
constexpr int kStageDims = 64;  // dimensions per stage
constexpr int kStageElems = kExperts * kStageDims;
constexpr int kStepElems = 2 * kExperts * 8;  // one k16 step: two dimension groups
constexpr int kLeadingBytes = kExperts * 16;
constexpr int kStrideBytes = 128;

// Element offset of gate element (expert e, dimension j of the stage) from the stage's start.
MOESIM_HD int stage_offset(int e, int j) { return ((j / 8) * kExperts + e) * 8 + j % 8; }

// The descriptor's fields other than the start address: leading and stride byte offsets in
// 16-byte units at bits 16 and 32; base offset 0, layout type 0 (no swizzle).
constexpr uint64_t kDescriptorOffsets =
    (static_cast<uint64_t>(kLeadingBytes >> 4) << 16) | (static_cast<uint64_t>(kStrideBytes >> 4) << 32);

}  // namespace moesim::router::wgmma_layout
