// The gradient exchange of data-parallel training where the gradients live: ranks on GPUs sum
// them in device memory (NCCL) instead of copying every bucket to the host for MPI and back.
// The trainer asks TrainRuntime::device_allreduce for one; without it the exchange goes through
// the host and the Communicator.
#pragma once

#include <span>
#include <string>

#include "weft/tensor.h"

namespace weft::training {

class DeviceAllreduce {
public:
    virtual ~DeviceAllreduce() = default;
    virtual std::string description() const = 0;  // for the log: "NCCL 2.27.7"

    // Starts replacing each of `gradients` (f32, device memory, written by work already queued on
    // the device) by its mean over the ranks, while the device goes on with other work. Every
    // rank starts the same buckets in the same order.
    virtual void start_mean(std::span<const TensorView> gradients) = 0;
    // Returns when every mean started since the last call is written.
    virtual void wait_all() = 0;
};

}  // namespace weft::training
