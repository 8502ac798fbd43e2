// Standard normals drawn many at a time, for the rank sampler's Poisson-sized noise.
#pragma once

#include <cstddef>
#include <span>

#include "sim/base/cache_aligned.h"
#include "sim/base/random.h"

namespace moesim::gating {

// Box-Muller over eight xoshiro128++ streams side by side, seeded from the caller's stream. A
// normal drawn one by one (Boost's ziggurat) waits on its generator's previous draw and branches
// on its first try; here the eight streams advance together and every step is arithmetic (a
// logarithm, a square root, a sine and a cosine as series), so a batch runs in vector lanes (AVX2
// or AVX-512 where the CPU has it) and, using only IEEE operations, gives the same numbers on every
// CPU.
// Floats: the noise scales counts of at most a few thousand, which float's 24 bits resolve far
// below one token. The radius comes from a 23-bit uniform, so no draw exceeds 5.77 in magnitude
// (the standard normal does with probability 8e-9).
class NormalBatch {
 public:
  // The next n normals, taking kSeedDraws draws of `rng` (the eight streams' seeds) whatever n is. The
  // span is valid until the next call. Drawn from the same state, a batch of n is the first n of
  // any longer batch.
  std::span<const float> draw(Rng& rng, size_t n);

  // The draws of the caller's stream that each batch takes.
  static constexpr int kSeedDraws = 16;

  static constexpr size_t kLanes = 8;
  // Each pass gives every lane a pair: the first normals of the lanes' pairs, then the second.
  static constexpr size_t kPerPass = 2 * kLanes;

 private:
  CacheAlignedVector<float> normals_;
};

}  // namespace moesim::gating
