#include "sim/files/directory_lock.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/files/output_file.h"

namespace moesim::files {

DirectoryLock::DirectoryLock(const std::string& dir, Wait wait) {
  const std::string path = (std::filesystem::path(dir) / ".moesim.lock").string();
  // O_NOFOLLOW: a link planted under the lock's name is never opened (nor truncated).
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
  struct stat st {};
  if (fd_ >= 0 && (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode))) {
    ::close(fd_);
    throw FileError("cannot lock '" + dir + "': '" + path + "' is not a regular file");
  }
  if (fd_ < 0) throw FileError("cannot lock '" + dir + "': " + std::strerror(errno));
  int rc = 0;
  while ((rc = ::flock(fd_, LOCK_EX | (wait == Wait::kNo ? LOCK_NB : 0))) != 0 && errno == EINTR) {}
  if (rc != 0) {
    const int err = errno;
    char owner[32] = {};
    [[maybe_unused]] const ssize_t n = ::pread(fd_, owner, sizeof owner - 1, 0);
    ::close(fd_);
    if (err == EWOULDBLOCK) {
      const std::string pid(owner, std::strcspn(owner, "\n"));
      throw FileError("'" + dir + "' is in use by another moesim process" + (pid.empty() ? "" : " (pid " + pid + ")") +
                      "; wait for it to finish or choose another output directory");
    }
    throw FileError("cannot lock '" + dir + "': " + std::strerror(err));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] const ssize_t n = ::pwrite(fd_, pid.data(), pid.size(), 0);
  }
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the lock
}

}  // namespace moesim::files
