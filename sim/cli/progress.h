// A progress bar on stderr, only when stderr is a terminal: long work shows progress there and
// stays quiet in CI and pipes.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace moesim::cli {

class Progress {
 public:
  Progress(bool enabled, std::string unit) : enabled_(enabled && ::isatty(STDERR_FILENO)), unit_(std::move(unit)) {}
  void operator()(int64_t done, int64_t total) {
    if (!enabled_ || total <= 0) return;
    const int percent = static_cast<int>(100 * done / total);
    if (percent == last_ && done != total) return;
    last_ = percent;
    const int filled = percent * 30 / 100;
    std::fprintf(stderr, "\r  [%s%s] %3d%% (%lld/%lld %s)", std::string(filled, '#').c_str(), std::string(30 - filled, ' ').c_str(),
                 percent, static_cast<long long>(done), static_cast<long long>(total), unit_.c_str());
    if (done == total) std::fprintf(stderr, "\r%80s\r", "");
  }

 private:
  bool enabled_;
  std::string unit_;
  int last_ = -1;
};

}  // namespace moesim::cli
