// The training communicator over MPI (MPI_COMM_WORLD): MPI is initialised when the first one is
// made and finalised when it is destroyed; one per process.
#pragma once

#include <memory>

#include "weft/training/communicator.h"

namespace weft::mpi {

// Throws weft::Error when MPI cannot be initialised.
std::unique_ptr<training::Communicator> make_mpi_communicator();

}  // namespace weft::mpi
