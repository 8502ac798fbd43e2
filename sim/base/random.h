// Seeded random streams. One stream per component, derived from the run seed and the
// component's name, so adding a component never shifts another's numbers. The distributions
// are written out here (not std::normal_distribution & co., whose output differs between
// standard libraries) so that a seed means the same numbers on every platform.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

namespace moesim {

class Rng {
 public:
  Rng(uint64_t seed, std::string_view component) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a of the name, mixed with the seed
    for (char c : component) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    uint64_t x = seed ^ (h * 0x9E3779B97F4A7C15ull);
    for (auto& s : state_) s = splitmix64(x);
  }
  // Stream `stream` of the component (e.g. one per step), independent of the others.
  Rng(uint64_t seed, std::string_view component, uint64_t stream) : Rng(seed + 0xD1B54A32D192ED03ull * (stream + 1), component) {}

  // xoshiro256** (Blackman & Vigna).
  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return static_cast<uint64_t>(uniform() * static_cast<double>(n)); }

  // Standard normal (Box-Muller; the second value is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2.0 * M_PI * u2);
    has_spare_ = true;
    return r * std::cos(2.0 * M_PI * u2);
  }

  // Gamma(shape, 1) by Marsaglia & Tsang; shape < 1 by the boost u^(1/shape).
  double gamma(double shape) {
    if (shape < 1.0) {
      double u = uniform();
      while (u <= 0.0) u = uniform();
      return gamma(shape + 1.0) * std::pow(u, 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    while (true) {
      double x, v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniform();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t state_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace moesim
