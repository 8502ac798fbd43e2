#include "sim/files/cleanup.h"

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include <unistd.h>

namespace moesim::files {
namespace {

// The registry is read by a signal handler, so it is fixed storage and lock-free atomics only.
// A slot's generation changes whenever it is claimed, so the handler can tell a path it copied
// from one that was being replaced while it read.
constexpr int kSlots = 1024;
constexpr size_t kPathBytes = 4096;
enum SlotState : int { kFree = 0, kWriting = 1, kLive = 2 };

struct Slot {
  std::atomic<int> state{kFree};
  std::atomic<uint32_t> generation{0};
  char path[kPathBytes] = {};
};
Slot slots[kSlots];

// Commits in progress (low bits) and whether a handler has started exiting (top bit).
constexpr uint64_t kExiting = uint64_t{1} << 63;
std::atomic<uint64_t> gate{0};
std::atomic<int> pending_signal{0};
std::atomic<bool> quiet{false};  // quiet_signal_cleanup()

static_assert(std::atomic<int>::is_always_lock_free && std::atomic<uint64_t>::is_always_lock_free);

[[noreturn]] void remove_temporaries_and_exit(int sig) {
  char copy[kPathBytes];
  for (Slot& s : slots) {
    const uint32_t before = s.generation.load();
    if (s.state.load() != kLive) continue;
    std::memcpy(copy, s.path, kPathBytes);
    copy[kPathBytes - 1] = '\0';
    if (s.state.load() == kLive && s.generation.load() == before) ::unlink(copy);
  }
  const char* message = sig == SIGINT ? "moesim: interrupted\n" : "moesim: terminated\n";
  if (!quiet.load()) {
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, message, std::strlen(message));
  }
  ::_exit(128 + sig);
}

// Exits unless a commit is running or another thread is already exiting.
void exit_unless_committing(int sig) {
  uint64_t v = gate.load();
  while (!(v & kExiting) && v == 0) {
    if (gate.compare_exchange_weak(v, kExiting)) remove_temporaries_and_exit(sig);
  }
}

void on_signal(int sig) {
  // Stored before the gate is read, so a commit that ends in between sees it.
  pending_signal.store(sig);
  exit_unless_committing(sig);
}

}  // namespace

void install_signal_cleanup() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
  });
}

void quiet_signal_cleanup() { quiet.store(true); }

void register_temporary(const std::string& path) {
  if (path.size() >= kPathBytes) throw std::runtime_error("temporary path too long: " + path);
  for (Slot& s : slots) {
    int expected = kFree;
    if (!s.state.compare_exchange_strong(expected, kWriting)) continue;
    s.generation.fetch_add(1);
    std::memcpy(s.path, path.c_str(), path.size() + 1);
    s.state.store(kLive);
    return;
  }
  throw std::runtime_error("more than " + std::to_string(kSlots) + " temporary files at once");
}

void forget_temporary(const std::string& path) {
  for (Slot& s : slots) {
    if (s.state.load() == kLive && path == s.path) {
      s.state.store(kFree);
      return;
    }
  }
}

CommitGuard::CommitGuard() {
  uint64_t v = gate.load();
  for (;;) {
    if (v & kExiting) {
      for (;;) ::pause();  // a handler is removing this process's temporaries and will exit
    }
    if (gate.compare_exchange_weak(v, v + 1)) return;
  }
}

CommitGuard::~CommitGuard() {
  gate.fetch_sub(1);
  if (const int sig = pending_signal.load()) exit_unless_committing(sig);
}

}  // namespace moesim::files
