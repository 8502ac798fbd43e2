#include "sim/files/output_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <string_view>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/files/cleanup.h"

namespace moesim::files {
namespace {

std::string in_quotes(const std::string& path) { return "'" + path + "'"; }

std::string error_text(int err) { return std::strerror(err); }

const char* kind_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

// Whether every character of s[from, to) is one of `allowed`.
bool all_of(const std::string& s, size_t from, size_t to, std::string_view allowed) {
  for (size_t i = from; i < to; ++i) {
    if (allowed.find(s[i]) == std::string_view::npos) return false;
  }
  return true;
}

// The descriptor a path names when it is one of this process's own: /dev/stdout, /dev/stderr,
// /dev/fd/N, /proc/self/fd/N. Writing there means writing to that descriptor, not reopening the
// file behind it (which would start at offset 0 under the shell's redirection).
int own_descriptor(const std::string& path) {
  if (path == "/dev/stdout") return STDOUT_FILENO;
  if (path == "/dev/stderr") return STDERR_FILENO;
  for (const std::string_view prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    if (path.size() > prefix.size() && path.size() <= prefix.size() + 6 && path.compare(0, prefix.size(), prefix) == 0 &&
        all_of(path, prefix.size(), path.size(), "0123456789")) {
      return std::stoi(path.substr(prefix.size()));
    }
  }
  return -1;
}

void write_all(int fd, const std::string& contents, const std::string& path) {
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw FileError("cannot write " + in_quotes(path) + ": " + error_text(n < 0 ? errno : EIO));
    done += static_cast<size_t>(n);
  }
}

void write_through(const std::string& path, const std::string& contents) {
  if (const int own = own_descriptor(path); own >= 0) {
    if (::fcntl(own, F_GETFD) < 0)
      throw FileError("cannot write " + in_quotes(path) + ": descriptor " + std::to_string(own) + " is not open");
    write_all(own, contents, path);
    return;
  }
  // Non-blocking open: a FIFO nobody reads is an error now rather than a hang.
  const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    throw FileError("cannot write " + in_quotes(path) + ": " + (errno == ENXIO ? std::string("a FIFO with no reader") : error_text(errno)));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  try {
    write_all(fd, contents, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

std::string random_hex() {
  static thread_local std::mt19937_64 bits{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits()));
  return buf;
}

}  // namespace

TargetKind check_target(const std::string& path, Target allowed) {
  if (path.empty()) throw FileError("an empty path cannot be an output");
  struct stat link {};
  if (::lstat(path.c_str(), &link) != 0) {
    if (errno == ENOENT) return TargetKind::kReplace;
    throw FileError("cannot write " + in_quotes(path) + ": " + error_text(errno));
  }
  if (S_ISREG(link.st_mode)) return TargetKind::kReplace;
  struct stat target {};
  const bool resolves = ::stat(path.c_str(), &target) == 0;
  const bool stream = resolves && (S_ISFIFO(target.st_mode) || S_ISCHR(target.st_mode));
  if (const int own = own_descriptor(path); stream || own >= 0) {
    if (allowed == Target::kStream) return TargetKind::kWriteThrough;
    throw FileError("cannot write " + in_quotes(path) + ": it is " +
                    (own >= 0 ? "this process's descriptor " + std::to_string(own) : std::string(kind_name(target.st_mode))) +
                    "; this output is written whole by replacing a regular file");
  }
  if (S_ISLNK(link.st_mode)) {
    std::error_code ec;
    const auto to = std::filesystem::read_symlink(path, ec).string();
    throw FileError("cannot write " + in_quotes(path) + ": it is a symbolic link" + (resolves ? " to " + in_quotes(to) : " to nothing") +
                    "; moesim replaces outputs whole and never replaces a link: give the path of the file itself");
  }
  throw FileError("cannot write " + in_quotes(path) + ": it is " + kind_name(link.st_mode));
}

void require_writable(const std::string& path, Target allowed) {
  if (check_target(path, allowed) == TargetKind::kReplace) Temporary probe(path);
}

void require_not_input(const std::string& output, const std::vector<std::string>& inputs) {
  struct stat out {};
  if (::stat(output.c_str(), &out) != 0 || !S_ISREG(out.st_mode)) return;
  for (const std::string& input : inputs) {
    struct stat in {};
    if (::stat(input.c_str(), &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
      throw FileError(in_quotes(output) + " is also an input" + (input == output ? "" : " (" + in_quotes(input) + ", the same file)") +
                      ": writing it would destroy the input; choose another output");
    }
  }
}

Temporary::Temporary(const std::string& target) : target_(target) {
  install_signal_cleanup();
  const std::filesystem::path t(target);
  std::string name = t.filename().string();
  if (name.size() > 180) name.resize(180);  // room for the suffix within NAME_MAX
  const std::filesystem::path dir = t.has_parent_path() ? t.parent_path() : std::filesystem::path(".");
  for (int attempt = 0;; ++attempt) {
    path_ = (dir / ("." + name + ".moesim-" + std::to_string(::getpid()) + "-" + random_hex() + ".tmp")).string();
    // Registered only once created: the signal handler must never remove a file this process
    // did not make. (A signal in between leaves a temporary for the next clean-up.)
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      ::close(fd);
      try {
        register_temporary(path_);
      } catch (...) {
        ::unlink(path_.c_str());
        throw;
      }
      return;
    }
    const int err = errno;
    if (err != EEXIST || attempt == 8) {
      throw FileError("cannot write " + in_quotes(target) + ": cannot create a file in " + in_quotes(dir.string()) + ": " +
                      error_text(err));
    }
  }
}

Temporary::~Temporary() {
  if (committed_) return;
  ::unlink(path_.c_str());
  forget_temporary(path_);
}

void Temporary::write(const std::string& contents) const {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw FileError("cannot write " + in_quotes(target_) + ": " + error_text(errno));
  try {
    write_all(fd, contents, target_);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw FileError("cannot write " + in_quotes(target_) + ": " + error_text(errno));
}

void Temporary::commit() {
  if (check_target(target_, Target::kFile) != TargetKind::kReplace) {
    throw FileError("cannot write " + in_quotes(target_) + ": no longer a regular file");
  }
  if (::rename(path_.c_str(), target_.c_str()) != 0) {
    throw FileError("cannot write " + in_quotes(target_) + ": " + error_text(errno));
  }
  committed_ = true;
  forget_temporary(path_);
}

bool is_moesim_temporary(const std::string& name) {
  // .NAME.moesim-PID-RANDOM.tmp: NAME not empty, PID decimal, RANDOM 16 lowercase hex digits.
  constexpr std::string_view kMark = ".moesim-", kEnd = ".tmp";
  constexpr size_t kRandom = 16;
  if (name.size() < 1 + 1 + kMark.size() + 1 + 1 + kRandom + kEnd.size() || name[0] != '.') return false;
  if (name.compare(name.size() - kEnd.size(), kEnd.size(), kEnd) != 0) return false;
  const size_t random_at = name.size() - kEnd.size() - kRandom;
  if (name[random_at - 1] != '-' || !all_of(name, random_at, random_at + kRandom, "0123456789abcdef")) return false;
  const size_t mark_at = name.rfind(kMark, random_at - 1);
  if (mark_at == std::string::npos || mark_at < 2) return false;
  const size_t pid_at = mark_at + kMark.size();
  return pid_at < random_at - 1 && all_of(name, pid_at, random_at - 1, "0123456789");
}

int remove_moesim_temporaries(const std::string& dir) {
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir_fd < 0) return 0;
  DIR* listing = ::fdopendir(dir_fd);
  if (listing == nullptr) {
    ::close(dir_fd);
    return 0;
  }
  std::vector<std::string> doomed;
  while (const dirent* entry = ::readdir(listing)) {
    if (!is_moesim_temporary(entry->d_name)) continue;
    struct stat st {};
    if (::fstatat(dir_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) doomed.emplace_back(entry->d_name);
  }
  int removed = 0;
  for (const auto& name : doomed) removed += ::unlinkat(dir_fd, name.c_str(), 0) == 0 ? 1 : 0;
  ::closedir(listing);  // closes dir_fd
  return removed;
}

void write_file_atomically(const std::string& path, const std::string& contents, Target allowed) {
  if (check_target(path, allowed) == TargetKind::kWriteThrough) {
    write_through(path, contents);
    return;
  }
  Temporary temporary(path);
  temporary.write(contents);
  temporary.commit();
}

}  // namespace moesim::files
