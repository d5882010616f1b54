#include "distributed.h"

#include <cstdlib>
#include <string>

#include "weft/error.h"
#ifdef WEFT_HAVE_MPI
#include "weft/mpi/mpi_communicator.h"
#endif

namespace weft::runner {

bool launched_as_rank() {
    // Open MPI's mpirun, and the PMI of Slurm's srun and MPICH's launchers.
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
        if (const char* value = std::getenv(name); value && std::atoi(value) > 1) return true;
    return false;
}

std::unique_ptr<training::Communicator> open_communicator(bool asked) {
    if (!asked && !launched_as_rank()) return nullptr;
#ifdef WEFT_HAVE_MPI
    return mpi::make_mpi_communicator();
#else
    throw Error(std::string(asked ? "--distributed" : "started by an MPI launcher as one of several ranks") +
                ": this weft was built without MPI support (install libopenmpi-dev and rebuild; CMake's "
                "find_package(MPI) must find it), so it can only train in one process");
#endif
}

}  // namespace weft::runner
