// Whether `weft train` runs as one rank of a data-parallel job, and the communicator it then uses:
// MPI when weft was built with it (runner/mpi), a clear refusal when not.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "weft/device.h"
#include "weft/training/communicator.h"
#include "weft/training/device_allreduce.h"

namespace weft::runner {

// True when an MPI launcher started this process as one of several (mpirun -np N with N > 1,
// srun): its environment says so.
bool launched_as_rank();

// The job's communicator when `asked` (--distributed) or launched_as_rank(); null otherwise.
// Throws weft::Error when weft was built without MPI support.
std::unique_ptr<training::Communicator> open_communicator(bool asked);

// This rank's place among the ranks on its machine, as the launcher says (Open MPI, Slurm,
// MPICH); 0 when it says nothing. GPU ranks take the GPU of that number unless --device names one.
int local_rank();

// How ranks on `backend`'s devices sum their gradients on the device: for cuda, NCCL through
// libweft_nccl (beside libweft_core, loaded here); empty elsewhere, and where that library is
// missing or cannot load, with `why_not` saying so (the exchange then goes through the host).
using DeviceAllreduceFactory =
    std::function<std::unique_ptr<training::DeviceAllreduce>(Device&, training::Communicator&)>;
DeviceAllreduceFactory device_allreduce_for(const std::string& backend, std::string& why_not);

}  // namespace weft::runner
