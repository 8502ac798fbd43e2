// Synthetic token embeddings, generated in place from Philox so that every side (CPU reference,
// CUDA kernel) draws identical tokens for the same (seed, step, layer, token):
//   topic   ~ the topic mixture's CDF, from one 24-bit uniform
//   x[j]    = center[topic][j] + noise * u,  u = h / 32768 - 1, h the j-th 16-bit half of the
//             token's Philox stream (block j / 8): uniform on [-1, 1), exact in float
// then rounded to BF16, the precision both sides multiply in. Every step is exact or a single
// correctly rounded IEEE operation, so host and device agree bit for bit.
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

// The topic of `token`: the first index whose cumulative weight exceeds a uniform draw.
MOESIM_HD int token_topic(const TokenKey& key, uint32_t token, const float* topic_cdf, int topics) {
  const float u = static_cast<float>(token_draw(key, token, 0xFFFFFFFFu).v[0] >> 8) * (1.0f / 16777216.0f);
  int t = 0;
  while (t < topics - 1 && !(u < topic_cdf[t])) ++t;
  return t;
}

// Dimension j of a token uses Philox block j / 8, word (j % 8) / 2, low half for even j.
MOESIM_HD uint32_t noise_block(int j) { return static_cast<uint32_t>(j / 8); }
// The uniform variate on [-1, 1) of dimension j, from that dimension's Philox block: exact in float.
MOESIM_HD float uniform_noise(const Philox4& block, int j) {
  const uint32_t w = block.v[(j % 8) / 2];
  const uint32_t h = (j % 2) ? (w >> 16) : (w & 0xFFFFu);
  return static_cast<float>(h) * (1.0f / 32768.0f) - 1.0f;
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

// Embedding value of a dimension with center value `center` and noise variate `u`, before BF16
// rounding.
MOESIM_HD float embedding_value(float center, float noise, float u) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(center, __fmul_rn(noise, u));  // no FMA contraction
#else
  return center + noise * u;  // the host build uses -ffp-contract=off
#endif
}

}  // namespace moesim::router
