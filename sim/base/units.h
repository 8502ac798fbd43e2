// Physical quantities as distinct types, so that `latency + bandwidth` does not compile.
//
// Time is an integer count of picoseconds (int64: ±106 days of simulated time), so that
// event ordering is exact and runs are reproducible. Bytes, bandwidth and FLOPs are doubles:
// they are model inputs, and traffic volumes of fractional tokens are meaningful averages.
#pragma once

#include <cmath>
#include <compare>
#include <concepts>
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace moesim {

// A simulated duration beyond the clock's ±106 days: inputs that drive the model outside what it
// can represent (a bandwidth or rate far too small). An error, never a wrap or a saturation.
struct ClockOverflow : std::overflow_error {
  ClockOverflow() : std::overflow_error("a simulated duration exceeds the clock's range of 106 days") {}
};

// A span of simulated time. Built by the unit factories below, read out by dividing by a unit:
// `double ms = d / Milliseconds(1);`
class Duration {
 public:
  constexpr Duration() = default;
  static constexpr Duration FromPicoseconds(int64_t ps) { return Duration(ps); }
  // The clock's range in picoseconds, a little inside int64's.
  static constexpr double kRangePicoseconds = 9.2e18;
  // `s` in picoseconds before FromSeconds rounds it.
  static double UnroundedPicoseconds(double s) { return s * 1e12; }
  // Rounds to the nearest picosecond; ClockOverflow beyond the clock's range (or for NaN).
  static Duration FromSeconds(double s) {
    const double ps = std::round(UnroundedPicoseconds(s));
    if (!(ps < kRangePicoseconds && ps > -kRangePicoseconds)) throw ClockOverflow();
    return Duration(static_cast<int64_t>(ps));
  }
  constexpr int64_t picoseconds() const { return ps_; }
  double seconds() const { return static_cast<double>(ps_) * 1e-12; }

  constexpr Duration operator+(Duration o) const {
    int64_t ps = 0;
    if (__builtin_add_overflow(ps_, o.ps_, &ps)) throw ClockOverflow();
    return Duration(ps);
  }
  constexpr Duration operator-(Duration o) const {
    int64_t ps = 0;
    if (__builtin_sub_overflow(ps_, o.ps_, &ps)) throw ClockOverflow();
    return Duration(ps);
  }
  constexpr Duration& operator+=(Duration o) { return *this = *this + o; }
  constexpr Duration& operator-=(Duration o) { return *this = *this - o; }
  template <std::integral I>
  constexpr Duration operator*(I k) const {
    int64_t ps = 0;
    if (__builtin_mul_overflow(ps_, static_cast<int64_t>(k), &ps)) throw ClockOverflow();
    return Duration(ps);
  }
  Duration operator*(double k) const { return FromSeconds(seconds() * k); }
  constexpr double operator/(Duration o) const { return static_cast<double>(ps_) / static_cast<double>(o.ps_); }
  constexpr auto operator<=>(const Duration&) const = default;

 private:
  constexpr explicit Duration(int64_t ps) : ps_(ps) {}
  int64_t ps_ = 0;
};

constexpr Duration Picoseconds(int64_t n) { return Duration::FromPicoseconds(n); }
constexpr Duration Nanoseconds(int64_t n) { return Duration::FromPicoseconds(n * 1'000); }
constexpr Duration Microseconds(int64_t n) { return Duration::FromPicoseconds(n * 1'000'000); }
constexpr Duration Milliseconds(int64_t n) { return Duration::FromPicoseconds(n * 1'000'000'000); }
inline Duration Seconds(double s) { return Duration::FromSeconds(s); }
constexpr Duration Max(Duration a, Duration b) { return a < b ? b : a; }
constexpr Duration Min(Duration a, Duration b) { return a < b ? a : b; }

// A point in simulated time, measured from the start of the run (or of a step).
class SimTime {
 public:
  constexpr SimTime() = default;
  static constexpr SimTime Zero() { return SimTime(); }
  constexpr Duration since_start() const { return offset_; }
  constexpr SimTime operator+(Duration d) const { return SimTime(offset_ + d); }
  constexpr Duration operator-(SimTime o) const { return offset_ - o.offset_; }
  constexpr auto operator<=>(const SimTime&) const = default;

 private:
  constexpr explicit SimTime(Duration d) : offset_(d) {}
  Duration offset_;
};

// An amount of data.
class Bytes {
 public:
  constexpr Bytes() = default;
  constexpr explicit Bytes(double n) : n_(n) {}
  constexpr double count() const { return n_; }
  constexpr Bytes operator+(Bytes o) const { return Bytes(n_ + o.n_); }
  constexpr Bytes operator-(Bytes o) const { return Bytes(n_ - o.n_); }
  constexpr Bytes& operator+=(Bytes o) {
    n_ += o.n_;
    return *this;
  }
  constexpr Bytes operator*(double k) const { return Bytes(n_ * k); }
  constexpr double operator/(Bytes o) const { return n_ / o.n_; }
  constexpr auto operator<=>(const Bytes&) const = default;

 private:
  double n_ = 0;
};

constexpr Bytes B(double n) { return Bytes(n); }
constexpr Bytes KB(double n) { return Bytes(n * 1e3); }
constexpr Bytes MB(double n) { return Bytes(n * 1e6); }
constexpr Bytes GB(double n) { return Bytes(n * 1e9); }
constexpr Bytes KiB(double n) { return Bytes(n * 1024.0); }
constexpr Bytes MiB(double n) { return Bytes(n * 1024.0 * 1024.0); }
constexpr Bytes GiB(double n) { return Bytes(n * 1024.0 * 1024.0 * 1024.0); }

// A data rate, stored as bytes per second.
class Bandwidth {
 public:
  constexpr Bandwidth() = default;
  static constexpr Bandwidth BytesPerSecond(double v) { return Bandwidth(v); }
  constexpr double bytes_per_second() const { return v_; }
  constexpr Bandwidth operator*(double k) const { return Bandwidth(v_ * k); }
  constexpr Bandwidth operator+(Bandwidth o) const { return Bandwidth(v_ + o.v_); }
  constexpr double operator/(Bandwidth o) const { return v_ / o.v_; }
  constexpr auto operator<=>(const Bandwidth&) const = default;

 private:
  constexpr explicit Bandwidth(double v) : v_(v) {}
  double v_ = 0;
};

constexpr Bandwidth GBps(double n) { return Bandwidth::BytesPerSecond(n * 1e9); }
constexpr Bandwidth TBps(double n) { return Bandwidth::BytesPerSecond(n * 1e12); }
constexpr Bandwidth Gbps(double n) { return Bandwidth::BytesPerSecond(n * 1e9 / 8.0); }
constexpr Bandwidth Min(Bandwidth a, Bandwidth b) { return a < b ? a : b; }

inline Duration operator/(Bytes b, Bandwidth bw) { return Duration::FromSeconds(b.count() / bw.bytes_per_second()); }

// A count of floating-point operations, and a rate of them.
class Flops {
 public:
  constexpr Flops() = default;
  constexpr explicit Flops(double n) : n_(n) {}
  constexpr double count() const { return n_; }
  constexpr Flops operator+(Flops o) const { return Flops(n_ + o.n_); }
  constexpr Flops& operator+=(Flops o) {
    n_ += o.n_;
    return *this;
  }
  constexpr Flops operator*(double k) const { return Flops(n_ * k); }
  constexpr auto operator<=>(const Flops&) const = default;

 private:
  double n_ = 0;
};

class FlopRate {
 public:
  constexpr FlopRate() = default;
  static constexpr FlopRate PerSecond(double v) { return FlopRate(v); }
  constexpr double per_second() const { return v_; }
  constexpr FlopRate operator*(double k) const { return FlopRate(v_ * k); }
  constexpr auto operator<=>(const FlopRate&) const = default;

 private:
  constexpr explicit FlopRate(double v) : v_(v) {}
  double v_ = 0;
};

constexpr FlopRate TFLOPS(double n) { return FlopRate::PerSecond(n * 1e12); }

inline Duration operator/(Flops f, FlopRate r) { return Duration::FromSeconds(f.count() / r.per_second()); }

}  // namespace moesim
