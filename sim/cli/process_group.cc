#include "sim/cli/process_group.h"

#include <cstdlib>

#include "sim/cli/usage_error.h"

#ifdef MOESIM_MPI
#include <mpi.h>
#endif

namespace moesim::cli {
namespace {

// What the launchers put in each rank's environment: Open MPI's mpirun, and MPICH's Hydra and
// Slurm's srun with PMI.
int launched_ranks() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    if (const char* v = std::getenv(name)) return std::atoi(v);
  }
  return 1;
}

}  // namespace

ProcessGroup::ProcessGroup() {
  if (launched_ranks() <= 1) return;
#ifdef MOESIM_MPI
  MPI_Init(nullptr, nullptr);
  joined_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
#else
  throw OptionError("launched by an MPI launcher, but this moesim was built without MPI (install libopenmpi-dev and rebuild)");
#endif
}

ProcessGroup::~ProcessGroup() {
#ifdef MOESIM_MPI
  if (joined_) MPI_Finalize();
#endif
}

std::vector<std::string> ProcessGroup::gather(const std::string& mine) const {
  if (size_ == 1) return {mine};
#ifdef MOESIM_MPI
  int length = static_cast<int>(mine.size());
  std::vector<int> lengths(static_cast<size_t>(size_)), offsets(static_cast<size_t>(size_));
  MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[static_cast<size_t>(r)] = total;
    total += lengths[static_cast<size_t>(r)];
  }
  std::string all(rank_ == 0 ? static_cast<size_t>(total) : 0, '\0');
  MPI_Gatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD);
  std::vector<std::string> out;
  if (rank_ != 0) return out;
  for (int r = 0; r < size_; ++r) out.push_back(all.substr(static_cast<size_t>(offsets[r]), static_cast<size_t>(lengths[r])));
  return out;
#else
  return {mine};
#endif
}

void ProcessGroup::abort(int status) const {
#ifdef MOESIM_MPI
  if (joined_) MPI_Abort(MPI_COMM_WORLD, status);
#endif
  std::exit(status);
}

}  // namespace moesim::cli
