// An advisory lock on an output directory, so that two moesim processes never write one result
// set at once: flock(2) on DIR/.moesim.lock, released when the lock (or the process) ends. The
// lock file holds the owner's process id, for the message another process prints. It is left in
// place: removing a lock file races with the next process that opens it.
#pragma once

#include <string>

namespace moesim::files {

class DirectoryLock {
 public:
  enum class Wait { kNo, kYes };
  // Locks `dir` (which must exist). With Wait::kNo, throws FileError "in use" when another
  // process holds it; with Wait::kYes, waits for it.
  DirectoryLock(const std::string& dir, Wait wait);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace moesim::files
