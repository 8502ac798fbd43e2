// Synthetic token embeddings, generated in place from Philox so that every side (CPU reference,
// CUDA kernel) draws identical tokens for the same (seed, step, layer, token):
//   topic   ~ the topic mixture's CDF, from one 24-bit uniform
//   x[j]    = center[topic][j] + noise * u[j],  u[j] = (2k - 127) / 128 with k a 7-bit field of
//             the token's Philox stream: uniform on 128 levels in (-1, 1), mean 0, exact in BF16
// The router multiplies u exactly in BF16 and adds the center's part of the logit separately:
//   logit[e] = center[topic]·W[e] + noise * (u·W[e])
// so the tensor cores never see the center, and one Philox block gives 16 dimensions.
//
// Which bits feed which dimension mirrors the register layout of the A operand of the tensor
// cores' m16n8k16 BF16 product, so that the kernel turns each 32-bit Philox word into two operand
// registers with one mask: dimension j = 64c + 16q + 8h + 2s + o (c: chunk, q: Philox word,
// h, o in {0, 1}, s in 0..3) reads bits [8h + 16o, +7) of word q of block 4c + s.
#pragma once

#include <cstdint>

#include "cuda/philox.h"

namespace moesim::router {

struct TokenKey {
  uint64_t seed;
  uint32_t step;
  uint32_t layer;
};

MOESIM_HD Philox4 token_draw(const TokenKey& key, uint32_t token, uint32_t block) {
  return philox4x32_10(Philox4{{block, token, key.step, key.layer}}, static_cast<uint32_t>(key.seed),
                       static_cast<uint32_t>(key.seed >> 32));
}

// The uniform in [0, 1) that picks `token`'s topic: 24 bits of its Philox stream.
MOESIM_HD float topic_uniform(const TokenKey& key, uint32_t token) {
  return static_cast<float>(token_draw(key, token, 0xFFFFFFFFu).v[0] >> 8) * (1.0f / 16777216.0f);
}

// The topic a uniform `u` picks: the first index whose cumulative weight exceeds u (the last
// topic if none does), by binary search over the non-decreasing CDF.
MOESIM_HD int topic_of(float u, const float* topic_cdf, int topics) {
  int lo = 0, hi = topics - 1;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (u < topic_cdf[mid])
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

// The topic of `token`.
MOESIM_HD int token_topic(const TokenKey& key, uint32_t token, const float* topic_cdf, int topics) {
  return topic_of(topic_uniform(key, token), topic_cdf, topics);
}

constexpr int kNoiseChunk = 64;     // dimensions per 4 Philox blocks
constexpr int kNoisePerBlock = 16;  // dimensions per Philox block

struct NoiseSource {
  uint32_t block;  // Philox block of the token's stream
  int word;        // 32-bit word of that block
  int shift;       // the 7-bit field starts at this bit
};

MOESIM_HD NoiseSource noise_source(int j) {
  const int c = j / kNoiseChunk, i = j % kNoiseChunk, q = i / 16, r = i % 16;
  const int h = r / 8, s = (r % 8) / 2, o = r % 2;
  return NoiseSource{static_cast<uint32_t>(4 * c + s), q, 8 * h + 16 * o};
}

// The noise variate of a 7-bit field: (2k - 127) / 128, exact in float and in BF16.
MOESIM_HD float noise_variate(uint32_t word, int shift) {
  const int k = static_cast<int>((word >> shift) & 0x7Fu);
  return static_cast<float>(2 * k - 127) * (1.0f / 128.0f);
}

// u[0..d) of `token`: block by block, each Philox block filling its 16 dimensions.
inline void token_noise(const TokenKey& key, uint32_t token, int d, float* u) {
  for (int c = 0; c * kNoiseChunk < d; ++c) {
    for (int s = 0; s < 4; ++s) {
      const Philox4 draw = token_draw(key, token, static_cast<uint32_t>(4 * c + s));
      for (int q = 0; q < 4; ++q)
        for (int h = 0; h < 2; ++h)
          for (int o = 0; o < 2; ++o) {
            const int j = kNoiseChunk * c + 16 * q + 8 * h + 2 * s + o;
            if (j < d) u[j] = noise_variate(draw.v[q], 8 * h + 16 * o);
          }
    }
  }
}

// Round to nearest even BF16, returned as the 16-bit pattern.
MOESIM_HD uint16_t to_bf16_bits(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7F800000u) == 0x7F800000u) return static_cast<uint16_t>(u >> 16);  // inf / nan
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

MOESIM_HD float from_bf16_bits(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

// The logit from its two parts, with one rounding per operation on both sides.
MOESIM_HD float combine_logit(float center_part, float noise, float noise_part) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(center_part, __fmul_rn(noise, noise_part));  // no FMA contraction
#else
  return center_part + noise * noise_part;  // the host build uses -ffp-contract=off
#endif
}

}  // namespace moesim::router
