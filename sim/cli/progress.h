// What long work shows on a terminal and never in CI or pipes: a progress bar on stderr with the
// time elapsed and, once something is done, the time left at the rate so far; bold best rows.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace moesim::cli {

// Whether to print the best rows of tables in bold: on a terminal, unless NO_COLOR is set.
inline bool emphasis() { return ::isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr; }

class Progress {
 public:
  Progress(bool enabled, std::string unit)
      : enabled_(enabled && ::isatty(STDERR_FILENO)), unit_(std::move(unit)), start_(std::chrono::steady_clock::now()) {}
  void operator()(int64_t done, int64_t total) {
    if (!enabled_ || total <= 0) return;
    const int percent = static_cast<int>(100 * done / total);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const int second = static_cast<int>(elapsed);
    if (percent == last_percent_ && second == last_second_ && done != total) return;
    last_percent_ = percent;
    last_second_ = second;
    const int filled = percent * 30 / 100;
    const std::string left = done > 0 ? clock(elapsed * static_cast<double>(total - done) / static_cast<double>(done)) : "?";
    std::fprintf(stderr, "\r  [%s%s] %3d%% (%lld/%lld %s)  elapsed %s  ETA %s ", std::string(filled, '#').c_str(),
                 std::string(30 - filled, ' ').c_str(), percent, static_cast<long long>(done), static_cast<long long>(total), unit_.c_str(),
                 clock(elapsed).c_str(), left.c_str());
    if (done == total) std::fprintf(stderr, "\r%100s\r", "");
  }

 private:
  static std::string clock(double seconds) {
    const auto s = static_cast<long long>(seconds + 0.5);
    char buf[32];
    if (s >= 3600)
      std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else
      std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
    return buf;
  }
  bool enabled_;
  std::string unit_;
  std::chrono::steady_clock::time_point start_;
  int last_percent_ = -1;
  int last_second_ = -1;
};

}  // namespace moesim::cli
