// Standard normals drawn many at a time, each exactly the number Boost.Random's ziggurat
// (boost::random::normal_distribution<double>) gives when drawn one by one from the same stream,
// and the stream left where one-by-one drawing leaves it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "sim/base/random.h"

namespace moesim::gating {

class NormalBatch {
 public:
  // Fills `out` with the next out.size() normals of `rng`'s stream.
  void draw(Rng& rng, std::span<double> out);

 private:
  // One by one, the ziggurat spends a draw of the generator, then a table lookup and a multiply
  // that wait on it, and about 1 normal in 70 needs more draws. In a batch, the generator runs
  // alone (one draw per normal is the least a normal takes), every draw's first try is evaluated
  // without branches, and the rare draw whose first try fails is redone by Boost itself from the
  // same draws, the batch's normals after it moving along the stream as one-by-one drawing moves them.
  std::vector<uint64_t> bits_;
  std::vector<double> first_try_;  // the draw's normal where its first try is accepted, else NaN
};

}  // namespace moesim::gating
