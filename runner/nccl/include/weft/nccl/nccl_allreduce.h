// Data-parallel training's gradient exchange for ranks on GPUs: NCCL averages each bucket in GPU
// memory on a stream of its own, after the backward kernels that wrote it and beside the ones
// that follow. libweft_nccl is built with the CUDA backend where NCCL is found beside CUDA, and
// `weft train` loads it only for the cuda backend under MPI, so that no other host loads CUDA.
#pragma once

#include <cstddef>
#include <memory>

#include "weft/device.h"
#include "weft/training/communicator.h"
#include "weft/training/device_allreduce.h"

namespace weft::nccl {

// One NCCL communicator over `communicator`'s ranks (rank 0 makes the unique id, the
// communicator broadcasts it) on `device`'s GPU, which must be a cuda device; throws weft::Error.
std::unique_ptr<training::DeviceAllreduce> make_nccl_allreduce(Device& device,
                                                               training::Communicator& communicator);

}  // namespace weft::nccl

// The same for a runner that loads the library at run time (kNcclEntrySymbol): null and the
// reason in `error` (NUL-terminated, cut to `error_bytes`) when it cannot.
extern "C" weft::training::DeviceAllreduce* weft_nccl_make_allreduce(
    weft::Device* device, weft::training::Communicator* communicator, char* error, std::size_t error_bytes);
inline constexpr const char* kNcclEntrySymbol = "weft_nccl_make_allreduce";
