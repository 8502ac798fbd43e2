// The processes sharing a sweep: this one alone, or the ranks of an MPI job when moesim runs under
// an MPI launcher (mpirun, srun) and was built with MPI. Only this pair of files knows MPI.
#pragma once

#include <string>
#include <vector>

namespace moesim::cli {

class ProcessGroup {
 public:
  // Joins the MPI job when launched as one. Throws OptionError when launched as one by a moesim
  // built without MPI: every rank would run every point.
  ProcessGroup();
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Every rank's `mine`, in rank order, on rank 0; nothing on the others. Every rank must call it.
  std::vector<std::string> gather(const std::string& mine) const;

  // Ends every rank of the job with `status`: after one rank fails, the others must not wait for
  // it in gather().
  [[noreturn]] void abort(int status) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  bool joined_ = false;
};

}  // namespace moesim::cli
