// Whether `weft train` runs as one rank of a data-parallel job, and the communicator it then uses:
// MPI when weft was built with it (runner/mpi), a clear refusal when not.
#pragma once

#include <memory>

#include "weft/training/communicator.h"

namespace weft::runner {

// True when an MPI launcher started this process as one of several (mpirun -np N with N > 1,
// srun): its environment says so.
bool launched_as_rank();

// The job's communicator when `asked` (--distributed) or launched_as_rank(); null otherwise.
// Throws weft::Error when weft was built without MPI support.
std::unique_ptr<training::Communicator> open_communicator(bool asked);

}  // namespace weft::runner
