// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a
// counter-based generator, so the CPU reference and the CUDA kernel draw the same numbers for
// the same (counter, key) without sharing any state. Compiles as host and device code.
#pragma once

#include <cstdint>

#include "cuda/host_device.h"

namespace moesim::router {

struct Philox4 {
  uint32_t v[4];
};

MOESIM_HD uint32_t mul_hi32(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

MOESIM_HD Philox4 philox4x32_10(Philox4 c, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint32_t hi0 = mul_hi32(kM0, c.v[0]), lo0 = kM0 * c.v[0];
    const uint32_t hi1 = mul_hi32(kM1, c.v[2]), lo1 = kM1 * c.v[2];
    c = Philox4{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
    k0 += kW0;
    k1 += kW1;
  }
  return c;
}

}  // namespace moesim::router
