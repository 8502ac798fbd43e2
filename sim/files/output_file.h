// Writing an output without ever losing a file moesim did not create.
//
// Every output is written to a temporary beside it, named `.NAME.moesim-PID-RANDOM.tmp` and
// created with O_EXCL (so it can never be a user's file), then renamed over the target. Only such
// names are ever removed, only as regular files, never through a symbolic link. What may be
// replaced depends on what the target is now:
//   missing or a regular file        replaced whole by rename (atomic: old or new, never half)
//   a FIFO or a character device     written through, never replaced (`--csv /dev/null`,
//   (also behind a link, /dev/fd/N)  `--csv /dev/stdout`, a pipe); only for Target::kStream
//   anything else                    refused: a symbolic link to a file, a directory, a block
//                                    device, a socket
// Files of a result set (a run's directory, HDF5 files) are Target::kFile: regular files only.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace moesim::files {

// A path that cannot be an output or an input/output clash: user-caused, exit status 2.
struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Target {
  kFile,    // missing or a regular file
  kStream,  // also a FIFO or character device, written through
};

enum class TargetKind { kReplace, kWriteThrough };

// What writing `path` would do; a FileError saying why when it may not be written at all.
TargetKind check_target(const std::string& path, Target allowed);

// Checks `path` as a target and that its directory takes new files (by creating and removing a
// temporary there), so that a command fails before it spends any time. FileError otherwise.
void require_writable(const std::string& path, Target allowed);

// A FileError when `output` is one of `inputs` (the same file by device and inode, so also
// through links).
void require_not_input(const std::string& output, const std::vector<std::string>& inputs);

// A new, empty, uniquely named temporary beside `target`, removed by the destructor (and by the
// signal handler) unless commit() renamed it over the target.
class Temporary {
 public:
  explicit Temporary(const std::string& target);
  ~Temporary();
  Temporary(const Temporary&) = delete;
  Temporary& operator=(const Temporary&) = delete;

  const std::string& path() const { return path_; }
  const std::string& target() const { return target_; }
  // Fills the temporary with `contents`; FileError naming the target when the disk refuses.
  void write(const std::string& contents) const;
  // Renames the temporary over the target, which must still be missing or a regular file.
  void commit();

 private:
  std::string target_;
  std::string path_;
  bool committed_ = false;
};

// Whether `filename` (no directory) is a temporary that moesim names as Temporary does.
bool is_moesim_temporary(const std::string& filename);

// Removes the moesim temporaries directly in `dir` (regular files only; `dir` itself must not be
// a symbolic link). Call only while holding the directory's lock, so none is another live
// process's. Returns how many were removed.
int remove_moesim_temporaries(const std::string& dir);

// Writes `contents` to `path` whole or not at all, as the header describes. Throws FileError for
// a target that may not be written, std::runtime_error naming `path` when writing fails.
void write_file_atomically(const std::string& path, const std::string& contents, Target allowed = Target::kFile);

}  // namespace moesim::files
